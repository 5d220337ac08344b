"""A fan-out of blocking-I/O calls on real worker processes: one Dask task, every call waiting at once."""

from __future__ import annotations

import sys
import time

import cloudpickle

from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.plan.passes.fusion import MAX_THREAD_GROUP
from llmcompiler_provider.tools import Toolset

tools = Toolset("blocking-io-tests")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # worker processes cannot import tests/


@tools.tool(cost=0.1, blocking_io=True)
def wait_blocking(seconds: float, label: str) -> str:
    """Blocks its thread, as a synchronous HTTP client or database driver does."""
    time.sleep(seconds)
    return f"{label} done"


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals in progress at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals])
    running = peak = 0
    for _, change in events:  # at a tie a stop (-1) sorts first: touching intervals do not overlap
        running += change
        peak = max(peak, running)
    return peak


def test_every_call_of_a_blocking_io_fan_out_waits_at_the_same_time(process_client):
    # more calls than the cluster has worker threads (2 x 4): only the unit's own threads let them all wait
    count = MAX_THREAD_GROUP
    plan = "\n".join(f'{i}. wait_blocking(1.0, "call {i}")' for i in range(1, count + 1)) + f"\n{count + 1}. join()"
    graph = compile_plan(plan, tools.signatures())
    assert graph.units == [tuple(range(1, count + 1))]
    dispatcher = Dispatcher(process_client, tools, "blocking-io")
    dispatcher.submit_graph(graph)
    records = dispatcher.records(dispatcher.wait(timeout=240), graph)

    assert [r.result for r in records] == [f"call {i} done" for i in range(1, count + 1)]
    assert len({r.unit for r in records}) == 1 and len({r.worker for r in records}) == 1
    assert len({r.thread for r in records}) == count  # a thread each
    assert all(r.start < r.stop for r in records)  # each call its own start and stop
    assert most_at_once([(r.start, r.stop) for r in records]) == count
