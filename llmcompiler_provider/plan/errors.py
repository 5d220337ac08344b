"""Compile errors and repair warnings: one ``FILE:LINE:COL: error: MESSAGE`` (or ``warning:``)
line per problem or repair."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

#: compilation stops collecting after this many problems (a hostile plan cannot flood the output)
MAX_ERRORS = 100

# what a message quoting plan text must not pass on raw: control characters (line breaks,
# terminal escapes), line and paragraph separators, and bidirectional overrides
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with unprintable characters written as escapes, so it stays one plain line."""
    return _UNPRINTABLE.sub(lambda match: ascii(match.group())[1:-1], text)


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a plan, at a 1-based line and column (columns count characters);
    ``severity`` ``"warning"`` for a repair the compiler made (``plan.repair``)."""

    source: str
    line: int
    col: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}: {self.severity}: {printable(self.message)}"


class PlanError(ValueError):
    """A plan that does not compile; ``diagnostics`` lists every problem found.

    ``tasks`` holds the tasks that the failing ``PlanStream.feed`` call completed
    before or after the bad line (they are in the stream's graph too). ``warnings``
    are the repairs made so far when repair was on (not part of the message).
    """

    def __init__(
        self, diagnostics: Iterable[Diagnostic], tasks: list | None = None, warnings: Iterable[Diagnostic] = ()
    ) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.tasks = list(tasks or [])
        self.warnings: list[Diagnostic] = list(warnings)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class PlanSyntaxError(Exception):
    """Raised inside the lexer/parser for one line; the compiler turns it into a ``Diagnostic``."""

    def __init__(self, col: int, message: str) -> None:
        super().__init__(message)
        self.col = col
        self.message = message
        self.task_number: int | None = None  # set when the line is a numbered task
