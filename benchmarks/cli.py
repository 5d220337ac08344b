"""The suite's command line, the same behind ``llmcompiler bench ARGS`` and ``python -m benchmarks ARGS``.

Progress goes to stderr; a summary of the targets to stdout. ``--json`` writes the
results (shape documented in docs/benchmarks.md), ``--plot`` the PNG charts,
``--report`` the markdown of docs/benchmarks.md. Exit status 1 when a
workload/executor pair failed (the others are still reported), 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from benchmarks.batch_cli import BATCH_DESCRIPTION, BATCH_SUITE, add_batch_arguments, run_batch_command
from benchmarks.progress import Progress
from benchmarks.replay import DEFAULT_TOKENS_PER_S
from benchmarks.report import to_json, write_outputs
from benchmarks.suite import SUITES, run_suite


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the benchmark suite: every workload on this project, hand-written Dask, a sequential "
        "executor, the LLMCompiler reference's asyncio loop (and Airflow task mapping in the full suite).",
    )
    parser.add_argument("--suite", choices=[*SUITES, BATCH_SUITE], default="quick",
                        help="; ".join(f"{name}: {spec.description}" for name, spec in SUITES.items())
                        + f"; {BATCH_SUITE}: {BATCH_DESCRIPTION}")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    parser.add_argument("--plot", metavar="DIR", help="write PNG charts to DIR")
    parser.add_argument("--report", metavar="FILE", help="write the markdown report (docs/benchmarks.md) to FILE")
    parser.add_argument("--tokens-per-s", type=float, default=DEFAULT_TOKENS_PER_S,
                        help=f"pace of streamed plans (default {DEFAULT_TOKENS_PER_S:g})")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile runs")
    parser.add_argument("--from-json", metavar="FILE",
                        help="run nothing: render --plot/--report from results an earlier run wrote with --json")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_batch_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m benchmarks") -> int:
    args = build_parser(prog).parse_args(argv)
    if args.tokens_per_s <= 0:
        print(f"{prog}: --tokens-per-s must be positive", file=sys.stderr)
        return 2
    if args.suite == BATCH_SUITE:
        return run_batch_command(args, prog)
    if args.from_json:
        try:
            data = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"{prog}: cannot read results from {args.from_json}: {error}", file=sys.stderr)
            return 2
        write_outputs(data, json_path=None, plot_dir=args.plot, report_path=args.report)
        _print_summary(data)
        return 0
    result = run_suite(SUITES[args.suite], tokens_per_s=args.tokens_per_s, progress=Progress(not args.quiet),
                       with_profile=not args.no_profile)
    data = to_json(result, _command(prog, args))
    write_outputs(data, json_path=args.json, plot_dir=args.plot, report_path=args.report)
    _print_summary(data)
    return 1 if data["errors"] else 0


def _command(prog: str, args: argparse.Namespace) -> str:
    parts = [*prog.split(), "--suite", args.suite]
    for flag, value in (("--json", args.json), ("--plot", args.plot), ("--report", args.report)):
        if value:
            parts += [flag, value]
    if args.tokens_per_s != DEFAULT_TOKENS_PER_S:
        parts += ["--tokens-per-s", f"{args.tokens_per_s:g}"]
    if args.no_profile:
        parts.append("--no-profile")
    return " ".join(shlex.quote(p) for p in parts)


def _print_summary(data: dict[str, Any]) -> None:
    print(f"suite {data['suite']}: {len(data['results'])} workload/executor pairs")
    for row in data["results"]:
        if row["executor"] == "llmcompiler":
            print(f"  {row['workload']:<28} wall {row['wall_s'] * 1000:8.0f} ms  critical path "
                  f"{row['critical_path_s'] * 1000:8.0f} ms  overhead {row['overhead_s'] * 1000:6.0f} ms")
    for target in data["targets"]:
        print(f"  [{'met' if target['met'] else 'MISSED'}] {target['target']}: {target['detail']}")
    for error in data["errors"]:
        print(f"  [error] {error}")
