"""Helpers shared by the subcommands."""

from __future__ import annotations

import sys


def read_text_argument(path: str) -> str:
    """The text of a file argument; ``-`` reads standard input."""
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()
