"""A toolset for the batch tests; the `llmcompiler batch` subprocess imports it as tests.batch.batch_tools:tools."""

from __future__ import annotations

import time

from llmcompiler_provider.tools import Toolset

tools = Toolset("batch-tests")


@tools.tool(blocking_io=True)
def pause(seconds: float) -> str:
    """Wait ``seconds`` and say so (a stand-in for a slow lookup)."""
    time.sleep(seconds)
    return f"waited {seconds}"


#: (key) of every `lookup` call that really ran in this process (the in-process cluster's threads)
LOOKUPS: list[str] = []


@tools.tool(blocking_io=True)
def lookup(key: str) -> str:
    """Look ``key`` up (slowly enough that runs overlap) and remember that it ran."""
    LOOKUPS.append(key)
    time.sleep(0.3)
    return f"value of {key}"
