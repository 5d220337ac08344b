"""Tools that fail on purpose, for the fault tests. Loaded as ``fault_tools:faults``, so the
toolset is shipped to Dask worker processes by value (they cannot import tests/)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from llmcompiler_provider.tools import Toolset

faults = Toolset("faults")

FOREVER_S = 3600.0


def _note_call(path: str) -> int:
    """Append this process's pid to ``path``; how many calls it now lists (counts across processes)."""
    with open(path, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    return len(Path(path).read_text().splitlines())


def called_pids(path: Path) -> list[int]:
    """The pids ``_note_call`` wrote to ``path``, one per call."""
    return [int(line) for line in path.read_text().splitlines()] if path.exists() else []


@faults.tool(cost=1.0)
def slow_step(marker: str, seconds: float) -> str:
    """Note the call in ``marker``, then work for ``seconds``."""
    _note_call(marker)
    time.sleep(seconds)
    return f"done by {os.getpid()}"


@faults.tool
def kill_my_worker(marker: str) -> str:
    """Kill the process running this call (a tool that crashes its worker: a segfault, an OOM kill)."""
    _note_call(marker)
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


@faults.tool(retries=2)
def always_fails(marker: str) -> str:
    """Raise every time (retried twice)."""
    raise RuntimeError(f"backend refused call {_note_call(marker)}")


@faults.tool(retries=1, timeout=0.5)
def overruns(marker: str) -> str:
    """Take far longer than its 0.5 s timeout (retried once)."""
    _note_call(marker)
    time.sleep(5)
    return "too late"


@faults.tool
def never_returns(marker: str, release: str) -> str:
    """Block until the file ``release`` exists (the test creates it when it is done), with no
    timeout of its own: to the run it never returns. Polls, so no thread outlives the test."""
    _note_call(marker)
    deadline = time.monotonic() + FOREVER_S
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"


@faults.tool
def echo(text: str) -> str:
    return text


@faults.tool(resources={"GPU": 1}, cost=0.02)
def gpu_step(text: str, seconds: float = 0.02) -> str:
    """Hold one GPU slot for ``seconds``."""
    time.sleep(seconds)
    return f"gpu: {text}"
