"""The ``llmcompiler`` command.

Each subcommand lives in its own module with ``register(subparsers)``, which adds
its parser and sets ``func`` to a callable taking the parsed args and returning
the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = ("compile", "run", "batch", "runs", "db", "bench", "simulate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmcompiler",
        description="Plan LLM tool calls as a graph and run them in parallel on Dask.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"llmcompiler_provider.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"llmcompiler_provider.cli.{name}_cmd":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("llmcompiler: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
