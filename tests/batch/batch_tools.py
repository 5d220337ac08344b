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
