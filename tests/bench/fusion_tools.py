"""Tools for the fused-unit tests: coroutines, blocking calls, a GPU call, failures."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from llmcompiler_provider.tools import Toolset

tools = Toolset("fusion-tests")


@tools.tool(cost=0.05)
async def wait(label: str, after: list = []) -> str:  # noqa: B006
    await asyncio.sleep(0.05)
    return f"{label}@{threading.get_ident()}"


@tools.tool(cost=0.01)
def quick(label: str, after: list = []) -> str:  # noqa: B006
    time.sleep(0.01)
    return f"{label}:{len(after)}"


@tools.tool(cost=0.05, resources={"GPU": 1})
def gpu(label: str, after: list = []) -> str:  # noqa: B006
    time.sleep(0.05)
    return f"{label} on {os.getpid()}"


@tools.tool(cost=0.01)
async def fail(label: str) -> str:
    raise RuntimeError(f"{label} broke")


@tools.tool(cost=0.05, timeout=0.2)
async def stall(label: str) -> str:
    await asyncio.sleep(30)
    return label
