"""The parsed form of one plan line, before it is checked against the tool catalogue.

Argument values are already IR values (literals, ``Ref``, ``Interp``); what the
analyzer still needs from the text is where things are, for its error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RefUse:
    """A ``$N`` reference found in the arguments, at column ``col``."""

    id: int
    col: int


@dataclass(slots=True)
class Argument:
    """A positional argument (``name`` is None) or a keyword argument ``name=value``."""

    value: Any
    col: int
    name: str | None = None


@dataclass(slots=True)
class Call:
    """``N. tool(arguments)`` (``number`` is None for an unnumbered ``join()``)."""

    number: int | None
    number_col: int
    tool: str
    tool_col: int
    arguments: list[Argument] = field(default_factory=list)
    refs: list[RefUse] = field(default_factory=list)
    end_of_plan: bool = False  # ``<END_OF_PLAN>`` followed the call on the same line

    @property
    def is_join(self) -> bool:
        return self.tool == "join"


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
