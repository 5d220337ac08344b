"""``llmcompiler compile PLAN``: check a plan against a toolset and print its task graph.

Exit status 0 with the graph on standard output; 2 with one
``FILE:LINE:COL: error: MESSAGE`` line per problem on standard error (also for
an unreadable file, text that is not UTF-8, or an unknown toolset). Warnings
(``--repair``'s repairs, strings read as numbers) are ``FILE:LINE:COL: warning:
MESSAGE`` lines on standard error, in line order with the errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmcompiler_provider.plan import PASSES, PlanError, compile_plan
from llmcompiler_provider.plan.errors import Diagnostic
from llmcompiler_provider.plan.render import render_dot, render_plan

EXIT_BAD_PLAN = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="check a plan and print its task graph",
        description=(
            "Compile PLAN (a file, or '-' for standard input) against a toolset and print the task graph. "
            "The plan compiles exactly as written unless --repair is given."
        ),
    )
    parser.add_argument("plan", metavar="PLAN", help="the plan file, or '-' to read standard input")
    parser.add_argument("--toolset", default="demo", help="'demo' or module:attribute naming a Toolset (default: demo)")
    parser.add_argument("--format", choices=("text", "json", "dot"), default="text", help="output format (default: text)")
    parser.add_argument("--no-optimize", action="store_true", help="switch every optimizer pass off")
    parser.add_argument(
        "--disable", action="append", default=[], choices=list(PASSES), metavar="PASS",
        help=f"switch one optimizer pass off (repeatable): {', '.join(PASSES)}",
    )
    parser.add_argument(
        "--output", action="append", type=int, metavar="ID", dest="outputs",
        help="a task whose result is observed (repeatable); other pure tasks it does not need are dropped",
    )
    parser.add_argument("--require-join", action="store_true", help="a plan that does not end with join() is an error")
    parser.add_argument(
        "--repair", action="store_true",
        help="repair the slips LLM planners make, as the run loop does for the planner's plans, each "
             "reported as a FILE:LINE:COL: warning: line: unquoted argument text becomes one string, a call "
             "line that only lacks its final ')' (or '])') is closed, Markdown code fences around the plan are "
             "dropped, $N in a string that names no earlier task stays text, text after join() is ignored. "
             "Anything else stays an error",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    source = "<stdin>" if args.plan == "-" else args.plan
    try:
        text = read_plan(args.plan, source)
    except PlanError as error:
        return _fail(str(error))
    try:
        toolset = _load_toolset(args.toolset)
    except LookupError as error:
        return _fail(f"llmcompiler compile: {error}")
    warnings: list[Diagnostic] = []
    try:
        graph = compile_plan(
            text,
            toolset.signatures(),
            source=source,
            optimize=not args.no_optimize,
            disabled_passes=args.disable,
            outputs=args.outputs,
            require_join=args.require_join,
            repair=args.repair,
            warnings=warnings,
        )
    except PlanError as error:
        return _fail(_in_line_order(error.diagnostics, warnings))
    except ValueError as error:  # --output naming a task the plan does not have
        _show(warnings)
        return _fail(f"llmcompiler compile: {error}")
    _show(warnings)
    if args.format == "json":
        print(json.dumps(graph.to_dict(), indent=2, ensure_ascii=False, default=repr))
    elif args.format == "dot":
        sys.stdout.write(render_dot(graph))
    else:
        sys.stdout.write(render_plan(graph, annotate=True))
    return 0


def read_plan(path: str, source: str) -> str:
    """The plan's text; an unreadable file or bytes that are not UTF-8 raise ``PlanError``."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise PlanError([Diagnostic(source, 1, 1, f"cannot read the plan: {reason}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        message = f"the plan is not UTF-8 text (byte 0x{data[error.start]:02x})"
        raise PlanError([Diagnostic(source, line, col, message)]) from None


def _load_toolset(spec: str):
    from llmcompiler_provider.tools import load_toolset

    return load_toolset(spec)


def _show(warnings: list[Diagnostic]) -> None:
    if warnings:
        print(_in_line_order([], warnings), file=sys.stderr)


def _in_line_order(errors: list[Diagnostic], warnings: list[Diagnostic]) -> str:
    """Errors and warnings, one line each, in the order of their lines in the plan (a line's warnings first)."""
    return "\n".join(str(d) for d in sorted([*warnings, *errors], key=lambda d: d.line))


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_PLAN
