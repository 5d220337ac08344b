"""A toolset for the execution tests; importable by worker processes (tests/ is on sys.path)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from llmcompiler_provider.tools import Toolset

tools = Toolset("exec-tests")


def _count(path: str) -> int:
    """Append one line to ``path`` and return how many lines it has: a cross-process call counter."""
    with open(path, "a") as handle:
        handle.write("x\n")
    return len(Path(path).read_text().splitlines())


@tools.tool(cost=0.1)
def sleep(seconds: float, label: str = "") -> str:
    time.sleep(seconds)
    return f"slept {seconds} {label}".strip()


@tools.tool(resources={"GPU": 1}, cost=0.2)
def gpu_sleep(seconds: float) -> str:
    time.sleep(seconds)
    return f"gpu slept {seconds}"


@tools.tool
def boom(message: str) -> str:
    raise RuntimeError(message)


@tools.tool
def record(value: object) -> dict:
    return {"type": type(value).__name__, "value": value}


@tools.tool
def echo(text: str) -> str:
    return text


@tools.tool
def counted(path: str, tag: str = "") -> int:
    return _count(path)


@tools.tool(retries=2)
def flaky(path: str, fail_times: int) -> str:
    n = _count(path)
    if n <= fail_times:
        raise ConnectionError(f"attempt {n} failed")
    return f"ok after {n}"


@tools.tool(timeout=0.3)
def hang(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


@tools.tool(pure=False)
def side_effect(path: str) -> int:
    return _count(path)


@tools.tool
async def async_sleep(seconds: float) -> str:
    import asyncio

    await asyncio.sleep(seconds)
    return f"async slept {seconds}"


@tools.tool
def pid() -> int:
    return os.getpid()


@tools.tool(cost=0.01)
def shared_count(path: str, seconds: float = 0.0, tag: str = "") -> str:
    """Counts its executions in ``path``; its result depends on its arguments only. Cheap by its
    estimate, so the fusion pass would group its calls with their siblings."""
    _count(path)
    time.sleep(seconds)
    return f"counted {tag}".strip()


@tools.tool(cost=0.01)
def fails_first(path: str) -> str:
    """Fails the first time it runs (counted in ``path``), succeeds after."""
    n = _count(path)
    if n == 1:
        raise RuntimeError("the first call fails")
    return f"ok on call {n}"


@tools.tool(cost=0.01, pure=False)
def impure_count(path: str) -> int:
    return _count(path)


@tools.tool(cache_ttl=3600)
def cached_count(path: str, tag: str = "") -> str:
    """Counts its executions in ``path``; its results may be kept for an hour."""
    _count(path)
    return f"cached {tag}".strip()


@tools.tool(cache_ttl=3600)
def cached_fails(message: str) -> str:
    raise RuntimeError(message)


@tools.tool(cache_ttl=3)
def briefly_cached(path: str) -> str:
    """Counts its executions in ``path``; its results may be kept for 3 seconds."""
    _count(path)
    return "briefly cached"
