"""``llmcompiler run``: plan a prompt with an LLM (or take a plan) and run it on Dask."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from llmcompiler_provider.cli.compile_cmd import read_plan
from llmcompiler_provider.cli.db_cmd import add_store_argument
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
    parser.add_argument("--toolset", default="demo", help="'demo' or module:attribute naming a Toolset")
    parser.add_argument("--llm", choices=("local", "openai"), default="local", help="the planner/joiner backend")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (with --llm openai)")
    parser.add_argument("--model", help="model name (with --llm openai)")
    parser.add_argument(
        "--grammar",
        action="store_true",
        help="the endpoint takes GBNF grammars (llama.cpp's server): constrain plans and answers to their formats",
    )
    parser.add_argument("--api-key-env", metavar="VAR", default="OPENAI_API_KEY", help="env var holding the API key")
    parser.add_argument("--max-replans", type=int, default=1, metavar="N")
    parser.add_argument("--scheduler", metavar="ADDR", help="an existing Dask scheduler (default: embedded cluster)")
    parser.add_argument(
        "--processes", action="store_true",
        help="embedded cluster: worker processes instead of threads of this process (for CPU-bound Python tools)",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="embedded cluster: workers (default 2)")
    parser.add_argument("--threads", type=int, metavar="N", help="embedded cluster: threads per worker (default 32)")
    parser.add_argument("--no-stream", action="store_true", help="compile the whole plan before dispatching")
    parser.add_argument("--no-optimize", action="store_true", help="switch the optimizer off")
    parser.add_argument("--disable", action="append", default=[], metavar="PASS", help="switch one optimizer pass off")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a plan's tasks may take (default 900)")
    parser.add_argument("--json", action="store_true", help="print the run as one JSON object")
    add_store_argument(parser)
    parser.set_defaults(func=run)


def _make_llm(args: argparse.Namespace) -> Any:
    from llmcompiler_provider.llm import make_chat_model

    if args.llm == "openai":
        return make_chat_model(
            "openai",
            base_url=args.base_url,
            api_key=os.environ.get(args.api_key_env),
            model=args.model,
            supports_grammar=args.grammar,
        )
    return make_chat_model("local")


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
    from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
    from llmcompiler_provider.execution.cluster import DEFAULT_THREADS, ClusterOptions
    from llmcompiler_provider.plan import PlanError

    if args.prompt is None and args.plan is None:
        print("llmcompiler run: error: give a PROMPT, a --plan, or both", file=sys.stderr)
        return 2
    if args.grammar and args.llm != "openai":
        print("llmcompiler run: error: --grammar is for --llm openai (the local model always uses it)", file=sys.stderr)
        return 2
    try:
        plan_text = read_plan(args.plan, args.plan) if args.plan else None
    except PlanError as exc:
        print(f"llmcompiler run: error: {exc}", file=sys.stderr)
        return 2
    config = RunConfig(
        toolset=args.toolset,
        max_replans=max(0, args.max_replans),
        optimize=not args.no_optimize,
        disabled_passes=tuple(args.disable),
        streaming=not args.no_stream,
        run_timeout=args.timeout,
        store_url=args.store,
        cluster=ClusterOptions(
            address=args.scheduler, processes=args.processes, n_workers=args.workers,
            threads_per_worker=args.threads or DEFAULT_THREADS,
        ),
    )
    llm = None
    needs_llm = args.prompt is not None
    if needs_llm:
        try:
            llm = _make_llm(args)
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
