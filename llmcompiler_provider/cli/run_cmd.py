"""``llmcompiler run``: plan a prompt with an LLM (or take a plan) and run it on Dask."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmcompiler_provider.cli.compile_cmd import read_plan
from llmcompiler_provider.cli.run_options import add_run_arguments, check_llm_arguments, llm_settings, run_config
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.run_text import task_table, timings_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="plan a prompt and run it on Dask",
        description="Have an LLM plan PROMPT as a graph of tool calls, run it on Dask, and answer.",
    )
    parser.add_argument("prompt", nargs="?", help="the question (optional with --plan)")
    parser.add_argument("--plan", metavar="PLAN", help="run this plan file ('-' for stdin) instead of planning")
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the run as one JSON object")
    parser.set_defaults(func=run)


class Progress:
    """Tasks planned and done, on one terminal line (stderr, only when it is a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.planned = 0
        self.done = 0

    def __call__(self, event: str, details: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if event == "planned":
            self.planned += details.get("tasks", 1)
        elif event == "finished":
            self.done += details.get("tasks", 0)
        elif event == "status":
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            return
        sys.stderr.write(f"\r\033[K[llmcompiler] tasks planned {self.planned}, done {self.done} ({event})")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from llmcompiler_provider.agent.run import LLMCompilerRun
    from llmcompiler_provider.plan import PlanError

    if args.prompt is None and args.plan is None:
        print("llmcompiler run: error: give a PROMPT, a --plan, or both", file=sys.stderr)
        return 2
    wrong = check_llm_arguments(args)
    if wrong:
        print(f"llmcompiler run: error: {wrong}", file=sys.stderr)
        return 2
    try:
        plan_text = read_plan(args.plan, args.plan) if args.plan else None
    except PlanError as exc:
        print(f"llmcompiler run: error: {exc}", file=sys.stderr)
        return 2
    config = run_config(args)
    llm = None
    needs_llm = args.prompt is not None
    if needs_llm:
        try:
            llm = llm_settings(args).make()
        except Exception as exc:  # a missing model or a bad endpoint: say so, record nothing to run
            print(f"llmcompiler run: error: {exc}", file=sys.stderr)
            return 1
    progress = Progress(enabled=not args.json and sys.stderr.isatty())
    result = LLMCompilerRun(args.prompt, plan=plan_text, llm=llm, config=config, on_event=progress).execute()
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print_result(result)
    return 0 if result.status == "success" else 1


def print_result(result: RunResult) -> None:
    for plan in result.plans:
        for line in plan.compile_errors + plan.warnings:  # the warnings: the compiler's repairs
            print(line)
    print(task_table(result))
    print(timings_line(result))
    if result.answer is not None:
        print(f"Answer: {result.answer}")
    if result.status != "success":
        print(f"llmcompiler run: {result.status}: {result.error}", file=sys.stderr)
    print(f"run {result.run_id}" + _saved_note(result))


def _saved_note(result: RunResult) -> str:
    if result.metrics_saved is None:
        return ""
    if result.metrics_saved:
        return " (recorded in the metrics store)"
    return f" (metrics were NOT saved: {result.metrics_error})"
