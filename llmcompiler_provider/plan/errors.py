"""Compile errors: one ``FILE:LINE:COL: error: MESSAGE`` line per problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

#: compilation stops collecting after this many problems (a hostile plan cannot flood the output)
MAX_ERRORS = 100


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a plan, at a 1-based line and column (columns count characters)."""

    source: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}: error: {self.message}"


class PlanError(ValueError):
    """A plan that does not compile; ``diagnostics`` lists every problem found.

    ``tasks`` holds the tasks that the failing ``PlanStream.feed`` call completed
    before or after the bad line (they are in the stream's graph too).
    """

    def __init__(self, diagnostics: Iterable[Diagnostic], tasks: list | None = None) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.tasks = list(tasks or [])
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class PlanSyntaxError(Exception):
    """Raised inside the lexer/parser for one line; the compiler turns it into a ``Diagnostic``."""

    def __init__(self, col: int, message: str) -> None:
        super().__init__(message)
        self.col = col
        self.message = message
        self.task_number: int | None = None  # set when the line is a numbered task
