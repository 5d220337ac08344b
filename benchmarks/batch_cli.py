"""``--suite batch`` of the suite's command line: its options, and running it (``batch_suite.py``).

``--json`` writes its results, ``--report FILE`` replaces the batch section of FILE
(``docs/benchmarks.md``), ``--from-json`` renders that section again without running.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.progress import Progress

BATCH_SUITE = "batch"
BATCH_DESCRIPTION = ("a batch of prompts against a scripted OpenAI-compatible endpoint: throughput against its bound, "
                     "429s, duplicate tool calls, Airflow task mapping, resume after SIGKILL, memory (issue 16)")


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks.batch_suite import BatchSuiteSpec

    default = BatchSuiteSpec()
    group = parser.add_argument_group("batch suite (--suite batch)")
    group.add_argument("--prompts", type=int, metavar="N", help=f"prompts in the batch (default {default.prompts:,})")
    group.add_argument("--airflow-prompts", type=int, metavar="N",
                       help=f"prompts as mapped Airflow tasks (default {default.airflow_prompts}; 0 skips)")
    group.add_argument("--resume-prompts", type=int, metavar="N",
                       help=f"prompts of the SIGKILL-and-resume batch (default {default.resume_prompts}; 0 skips)")
    group.add_argument("--memory-sizes", metavar="N,N",
                       help="prompts of the plan= batches whose memory is measured (default "
                       + ",".join(map(str, default.memory_sizes)) + "; 0 skips)")
    group.add_argument("--capacity", type=int, metavar="C",
                       help=f"the endpoint's concurrent streams (default {default.endpoint.capacity})")
    group.add_argument("--max-active-runs", type=int, metavar="N",
                       help=f"runs in flight in the batch (default {default.max_active_runs})")
    group.add_argument("--airflow-parallelism", type=int, metavar="N",
                       help=f"the LocalExecutor's parallelism (default {default.airflow_parallelism})")


def batch_spec(args: argparse.Namespace) -> Any:
    """The suite's spec from the command line; ``ValueError`` for a bad size."""
    from benchmarks.batch_suite import BatchSuiteSpec

    spec = BatchSuiteSpec()
    sizes = {name: getattr(args, name) for name in ("prompts", "airflow_prompts", "resume_prompts",
                                                    "max_active_runs", "airflow_parallelism")}
    if args.memory_sizes is not None:
        try:
            sizes["memory_sizes"] = tuple(int(n) for n in args.memory_sizes.split(",") if int(n) > 0)
        except ValueError:
            raise ValueError(f"--memory-sizes takes numbers separated by commas, not {args.memory_sizes!r}") from None
    for name in ("prompts", "max_active_runs", "airflow_parallelism", "capacity"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    for name in ("airflow_prompts", "resume_prompts"):
        if sizes[name] is not None and sizes[name] < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, not {sizes[name]}")
    spec = replace(spec, **{k: v for k, v in sizes.items() if v is not None})
    if args.capacity is not None:
        spec = replace(spec, endpoint=replace(spec.endpoint, capacity=args.capacity, max_queue=args.capacity))
    return spec


def run_batch_command(args: argparse.Namespace, prog: str) -> int:
    from benchmarks.batch_report import write_section

    if args.from_json:
        try:
            data = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"{prog}: cannot read results from {args.from_json}: {error}", file=sys.stderr)
            return 2
    else:
        try:
            spec = batch_spec(args)
        except ValueError as error:
            print(f"{prog}: {error}", file=sys.stderr)
            return 2
        from benchmarks.batch_suite import run_batch_suite

        data = run_batch_suite(spec, Progress(not args.quiet))
        data["command"] = _command(prog, args)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if args.report:
        write_section(data, args.report)
    _print_summary(data)
    return 1 if data["errors"] else 0


def _command(prog: str, args: argparse.Namespace) -> str:
    parts = [*prog.split(), "--suite", BATCH_SUITE]
    for flag in ("prompts", "airflow_prompts", "resume_prompts", "memory_sizes", "capacity", "max_active_runs",
                 "airflow_parallelism", "json", "report"):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def _print_summary(data: dict[str, Any]) -> None:
    batch = data.get("batch")
    print(f"suite batch: {batch['prompts']:,} prompts in {batch['wall_s']:.1f} s" if batch else "suite batch")
    for target in data["targets"]:
        print(f"  [{'met' if target['met'] else 'MISSED'}] {target['target']}: {target['detail']}")
    for error in data["errors"]:
        print(f"  [error] {error}")
