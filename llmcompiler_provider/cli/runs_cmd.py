"""``llmcompiler runs list|show``: the runs recorded in the metrics store."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from llmcompiler_provider.cli.db_cmd import add_store_argument, reports_store_errors
from llmcompiler_provider.results import RunResult, one_line
from llmcompiler_provider.run_text import format_number, table, task_table

MIN_PREFIX_CHARS = 4
PROMPT_COLUMN_CHARS = 40


def format_time(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch is not None else "-"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


@reports_store_errors
def list_command(args: argparse.Namespace) -> int:
    from llmcompiler_provider.store import list_runs

    runs = list_runs(args.store, limit=args.limit, dag_id=args.dag, status=args.status)
    if args.json:
        print_json([run.model_dump(mode="json") for run in runs])
        return 0
    if not runs:
        print("no runs recorded yet")
        return 0
    rows = [
        [
            r.run_id,
            format_time(r.started),
            r.status,
            r.dag_id or "-",
            str(r.counts.tasks),
            format_number(r.timings.wall_s, "s"),
            format_number(r.timings.speedup, "x"),
            str(r.tokens.total),
            one_line(r.prompt_preview or "", PROMPT_COLUMN_CHARS),
        ]
        for r in runs
    ]
    print(table(["RUN ID", "STARTED", "STATUS", "DAG", "TASKS", "WALL", "SPEEDUP", "TOKENS", "PROMPT"], rows))
    return 0


def resolve_run_id(given: str, store: str | None) -> str | None:
    """``given`` itself, or the one stored run id it is a prefix of; None (with a message) otherwise."""
    from llmcompiler_provider.store import find_run_ids

    matches = find_run_ids(given, store) if len(given) >= MIN_PREFIX_CHARS else []
    if given in matches or len(matches) == 1:
        return given if given in matches else matches[0]
    if matches:
        print(f"llmcompiler: run id '{given}' is ambiguous: it starts {', '.join(matches)}", file=sys.stderr)
    else:
        print(f"llmcompiler: no run '{given}' in the metrics store", file=sys.stderr)
    return None


def print_run(run: RunResult) -> None:
    timings, counts, tokens, cluster = run.timings, run.counts, run.tokens, run.cluster
    airflow = run.airflow.model_dump() if run.airflow else {}
    fields = [
        ("run", run.run_id),
        ("status", run.status + (f": {run.error}" if run.error else "")),
        ("started", format_time(run.started)),
        ("finished", format_time(run.finished)),
        ("airflow", " ".join(f"{k}={v}" for k, v in airflow.items()) or "-"),
        ("models", f"planner {run.planner_model or '-'}, joiner {run.joiner_model or '-'}"),
        ("cluster", f"{cluster.kind or '-'} {cluster.address or ''}".rstrip()),
        ("tasks", f"{counts.tasks} ({counts.failed_tasks} failed), {counts.replans} replan(s)"),
        ("tokens", f"{tokens.prompt} prompt, {tokens.completion} completion"),
        ("wall", format_number(timings.wall_s, "s", 3)),
        ("sum of tasks", format_number(timings.sum_task_s, "s", 3)),
        ("critical path", format_number(timings.critical_path_s, "s", 3)),
        ("speedup", format_number(timings.speedup, "x")),
        ("efficiency", format_number(timings.efficiency)),
        ("first dispatch", format_number(timings.first_dispatch_s, "s", 3)),
        ("prompt", one_line(run.prompt or "", 200) or "-"),
        ("answer", one_line(run.answer or "", 200) or "-"),
    ]
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        print(f"{name.ljust(width)}  {value}")
    print()
    print(task_table(run))


@reports_store_errors
def show_command(args: argparse.Namespace) -> int:
    from llmcompiler_provider.store import get_run

    run_id = resolve_run_id(args.run_id, args.store)
    run = get_run(run_id, args.store) if run_id else None
    if run is None:
        return 1
    if args.json:
        print_json(run.to_dict())
    else:
        print_run(run)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runs", help="list and show recorded runs", description=__doc__)
    actions = parser.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    list_parser = actions.add_parser("list", help="the most recent runs, newest first")
    add_store_argument(list_parser)
    list_parser.add_argument("--limit", type=int, default=20, metavar="N", help="show at most N runs (default 20)")
    list_parser.add_argument("--dag", default=None, metavar="DAG", help="only runs of this Airflow DAG")
    list_parser.add_argument("--status", default=None, metavar="S", help="only runs with this status (e.g. failed)")
    list_parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    list_parser.set_defaults(func=list_command)

    show_parser = actions.add_parser("show", help="one run with its per-task table")
    show_parser.add_argument("run_id", metavar="RUN_ID", help="the run's id (or its first characters)")
    add_store_argument(show_parser)
    show_parser.add_argument("--json", action="store_true", help="print the run as JSON")
    show_parser.set_defaults(func=show_command)
