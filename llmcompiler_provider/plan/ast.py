"""The parsed form of one plan line, before it is checked against the tool catalogue.

Argument values are already IR values (literals, ``Ref``, ``Interp``); what the
analyzer still needs from the text is where things are, for its error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmcompiler_provider.plan.lexer import token_columns


@dataclass(slots=True)
class RefUse:
    """A ``$N`` reference in the arguments: token ``token`` of the line, ``offset``
    characters into it (a reference inside a string)."""

    id: int
    token: int
    offset: int = 0


@dataclass(slots=True)
class Argument:
    """A positional argument (``name`` is None) or a keyword argument ``name=value``,
    starting at token ``token`` of the line."""

    value: Any
    token: int
    name: str | None = None


@dataclass(slots=True)
class Call:
    """``N. tool(arguments)`` (``number`` is None for an unnumbered ``join()``).

    Positions are token indexes; ``col`` turns one into a column only when a
    message needs it (finding every token's column costs as much as lexing).
    """

    number: int | None
    number_col: int
    tool: str
    arguments: list[Argument]
    refs: list[RefUse]
    end_of_plan: int | None  # the token index of an ``<END_OF_PLAN>`` after the call
    line: str  # the line's text, and where its tokens start
    start: int
    columns: list[int] | None = None  # every token's column, once a message needed one

    @property
    def is_join(self) -> bool:
        return self.tool == "join"

    def col(self, token: int, offset: int = 0) -> int:
        """The 1-based column of token ``token`` of the call (0: the tool's name), plus ``offset``."""
        if self.columns is None:
            self.columns = token_columns(self.line, self.start)
        return self.columns[token] + offset

    @property
    def tool_col(self) -> int:
        return self.col(0)


@dataclass(slots=True)
class Thought:
    text: str


@dataclass(slots=True)
class EndOfPlan:
    col: int


@dataclass(slots=True)
class Blank:
    """An empty line or a ``#`` comment."""


@dataclass(slots=True)
class Prose:
    """Any other text: allowed only as the continuation of a ``Thought:``."""

    text: str
    col: int
    looks_like_call: bool  # ``tool(...)`` without a task number


Line = Call | Thought | EndOfPlan | Blank | Prose
