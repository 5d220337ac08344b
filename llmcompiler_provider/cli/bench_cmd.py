"""``llmcompiler bench``: the benchmark suite, when this package runs from a checkout of its repository.

The suite is not part of the installed package: it lives in the repository's ``benchmarks/`` folder,
where ``python -m benchmarks ARGS`` runs it too. Every argument after ``bench`` goes to the suite's own
parser (``--help`` included); ``benchmarks`` is imported only when the command runs. From an installed
wheel, which does not contain it, the command says where it lives and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

PROG = "llmcompiler bench"
#: the folder holding this package: the repository's root for an editable install
CHECKOUT = Path(__file__).resolve().parents[2]
ABSENT = (
    f"{PROG}: the benchmark suite is not part of the installed package; it lives in the benchmarks/ folder "
    "of the llmcompiler-provider repository: run it from a checkout (an editable install: "
    "pip install -e '.[bench]'), or there as python -m benchmarks"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite (from a checkout of the repository)",
        description="Run the benchmark suite of the repository's benchmarks/ folder.",
        add_help=False,
        prefix_chars="\0",  # no option of its own: '--suite', '--help', ... all go to the suite's parser
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cli = suite_cli()
    if cli is None:
        print(ABSENT, file=sys.stderr)
        return 2
    return int(cli.main(args.arguments, prog=PROG))


def suite_cli() -> ModuleType | None:
    """``benchmarks.cli`` of the checkout this package runs from (before any other ``benchmarks`` on the
    path), or None where there is none: an installed wheel."""
    if (CHECKOUT / "benchmarks" / "cli.py").is_file() and str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    try:
        return importlib.import_module("benchmarks.cli")
    except ModuleNotFoundError as exc:
        if exc.name not in ("benchmarks", "benchmarks.cli"):
            raise
        return None
