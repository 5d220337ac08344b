"""The benchmark's tools: simulated I/O, pure-Python CPU work, and a simulated GPU.

* ``io_5ms``, ``io_20ms``, ``io_25ms``, ``io_100ms``, ``io_200ms``: coroutine tools that wait (``asyncio.sleep``), like an
  HTTP API called with an async client; cost estimates are their latencies.
* ``block_100ms``: the same wait as a blocking call (``time.sleep``), like
  ``requests.get``: it holds a thread. Declared ``blocking_io=True``, so the fusion
  pass groups a fan-out of it into one Dask task whose calls wait on threads side by
  side, as it groups the coroutine tools' fan-outs.
* ``crunch``: pure-Python arithmetic holding the GIL; ``work`` loop iterations
  (the suite calibrates how many make about 200 ms on the machine).
* ``crunch_12ms``: the same arithmetic with a 12 ms estimate (the suite gives it
  12 ms of work): short enough that the fusion pass grouped a fan-out of eight into
  one Dask task. Not declared ``cpu_bound``, so the suite shows the toolset learning
  it from its first run's measurements.
* ``gpu_100ms``: needs one ``GPU`` slot and 100 ms of it; degrades when two share a
  slot (:mod:`benchmarks.gpu_sim`; simulated on the CPU).
* ``search`` / ``math``: the LLMCompiler benchmarks' tools: a 200 ms lookup that
  answers with a number, and arithmetic over the numbers in its context.

Every tool takes ``after``: results it must wait for (the plan's references).
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from typing import Any

from benchmarks import gpu_sim
from llmcompiler_provider.tools.registry import Toolset

bench = Toolset("bench", description="Benchmark tools: simulated I/O, CPU-bound Python, a simulated GPU.")

IO_LATENCIES_MS = (5, 20, 25, 100, 200)
SEARCH_S = 0.2
GPU_S = 0.1
CRUNCH_COST_S = 0.2
CRUNCH_SHORT_COST_S = 0.012


def _io_tool(ms: int) -> None:
    async def io(label: str, after: list = []) -> str:  # noqa: B006 - never mutated
        await asyncio.sleep(ms / 1000)
        return f"{label} ok"

    io.__name__ = io.__qualname__ = f"io_{ms}ms"
    io.__doc__ = f"Simulated I/O: waits {ms} ms without holding a thread (an async API call)."
    globals()[io.__name__] = io  # importable by name, so workers unpickle it by reference
    bench.tool(io, cost=ms / 1000)


for _ms in IO_LATENCIES_MS:
    _io_tool(_ms)


@bench.tool(cost=0.1, blocking_io=True)
def block_100ms(label: str, after: list = []) -> str:  # noqa: B006
    """Simulated blocking I/O: holds its thread for 100 ms (a synchronous API call), declared
    ``blocking_io`` because it waits rather than computes."""
    time.sleep(0.1)
    return f"{label} ok"


@bench.tool(cost=CRUNCH_COST_S)
def crunch(label: str, work: int, after: list = []) -> int:  # noqa: B006
    """Pure-Python arithmetic: ``work`` iterations holding the GIL."""
    return crunch_loop(work)


@bench.tool(cost=CRUNCH_SHORT_COST_S)
def crunch_12ms(label: str, work: int, after: list = []) -> int:  # noqa: B006
    """Pure-Python arithmetic, a short call: ``work`` iterations holding the GIL."""
    return crunch_loop(work)


def crunch_loop(work: int) -> int:
    """Arithmetic on small ints only, so every iteration costs the same (calibration relies on it)."""
    total = 0
    for i in range(work):
        total = (total * 31 + i) % 1_000_003
    return total


def calibrate_crunch(seconds: float = CRUNCH_COST_S, sample: int = 300_000) -> int:
    """Iterations of ``crunch`` that take about ``seconds`` here (best of three samples)."""
    best = min(_timed(crunch_loop, sample) for _ in range(3))
    return max(1, int(sample * seconds / best))


def process_scaling(work: int, jobs: int = 4) -> float:
    """How much faster two processes run ``jobs`` pure-Python computations than one (this machine's
    ceiling for the CPU-bound workload: 2.0 on two free cores)."""
    import multiprocessing

    start = time.perf_counter()
    for _ in range(jobs):
        crunch_loop(work)
    alone = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(crunch_loop, [1, 1])  # both processes up before timing
        start = time.perf_counter()
        pool.map(crunch_loop, [work] * jobs, chunksize=1)
        together = time.perf_counter() - start
    return alone / together


def _timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


@bench.tool(resources={"GPU": 1}, cost=GPU_S)
async def gpu_100ms(label: str, after: list = []) -> str:  # noqa: B006
    """Simulated GPU inference: 100 ms on one GPU slot, slower when the slot is shared."""
    use = await gpu_sim.run_on_slot(GPU_S)
    return f"{label} {use}"


@bench.tool(cost=SEARCH_S)
async def search(query: str) -> str:
    """Look something up (simulated: 200 ms), answering with a number."""
    await asyncio.sleep(SEARCH_S)
    return f"{query}: {zlib.crc32(query.encode()) % 1000}"


@bench.tool(cost=0.001)
def math(question: str, context: list = []) -> float:  # noqa: B006
    """Arithmetic over the numbers found in ``context`` (sum, difference or comparison)."""
    numbers = [float(n) for item in context for n in re.findall(r"-?\d+(?:\.\d+)?", str(item))]
    if not numbers:
        return 0.0
    if "compare" in question or "larger" in question:
        return max(numbers)
    if "difference" in question:
        return numbers[0] - sum(numbers[1:])
    return sum(numbers)


GPU_SLOT_PATTERN = re.compile(r"slot=(\S+) peak=(\d+)")
