"""Tools for the security tests. ``canary`` is registered like any tool, but no test plan may
ever reach it: it leaves a file behind (at ``$LLMCOMPILER_TEST_CANARY``) when called."""

from __future__ import annotations

import os
from pathlib import Path

from llmcompiler_provider.tools import Toolset

CANARY_ENV = "LLMCOMPILER_TEST_CANARY"

guarded = Toolset("guarded", description="Harmless tools, and a canary no plan may reach.")


@guarded.tool
def echo(text: str) -> str:
    """Return the text as given."""
    return text


@guarded.tool
def search(query: str) -> str:
    """Pretend to look something up."""
    return f"results for {query}"


@guarded.tool
def pair(first: object, second: object = None) -> list:
    """Return both arguments, as passed (to see what values a plan can pass)."""
    return [first, second]


@guarded.tool(pure=False)
def canary(note: str = "") -> str:
    """Leave a file behind: called only if a plan managed to reach a tool it must not."""
    Path(os.environ[CANARY_ENV]).write_text(note or "called")
    return "called"


@guarded.tool
def big_result(chars: int) -> str:
    """A result of ``chars`` characters."""
    return "r" * chars


@guarded.tool
def loud_failure(chars: int) -> str:
    """Fail with an error message of ``chars`` characters."""
    raise RuntimeError("e" * chars)
