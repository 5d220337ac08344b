"""Hand-written Dask: one ``client.submit`` per call, upstream futures as arguments, then ``gather``.

What a Dask engineer writes for a graph of calls without this project: the same
cluster, ``resources=`` for GPU calls, coroutine tools submitted as coroutine
functions (Dask awaits them on the worker's event loop). Each call is wrapped to
record its start and stop, as the project's units do.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from benchmarks.executors.base import CallInterval, Outcome, Prepared, result_text
from benchmarks.replay import paced
from benchmarks.workloads import Workload
from llmcompiler_provider.plan.ir import Interp, Ref, map_refs


@dataclass(frozen=True)
class Timed:
    value: Any
    start: float
    stop: float
    worker: str


def _unwrap(value: Any) -> Any:
    if isinstance(value, Timed):
        return value.value
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _worker() -> str:
    from distributed import get_worker

    return get_worker().address


def timed_call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Timed:
    args, kwargs = _unwrap(args), _unwrap(kwargs)
    start = time.time()
    value = fn(*args, **kwargs)
    return Timed(value, start, time.time(), _worker())


async def timed_coroutine(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Timed:
    args, kwargs = _unwrap(args), _unwrap(kwargs)
    start = time.time()
    value = await fn(*args, **kwargs)
    return Timed(value, start, time.time(), _worker())


class DaskSubmitExecutor:
    name = "dask-submit"
    description = "hand-written client.submit per call (futures as dependencies), then gather"

    def __init__(self, client: Any) -> None:
        self.client = client

    def applies_to(self, workload: Workload) -> bool:
        return True

    def run(self, prepared: Prepared) -> Outcome:
        started = time.time()
        if prepared.workload.streamed:
            for _piece in paced(prepared.workload.plan, prepared.tokens_per_s, started):
                pass  # the graph is built from the whole plan
        run = uuid.uuid4().hex[:8]
        futures: dict[int, Any] = {}

        def future_of(ref: Ref) -> Any:
            return futures[ref.id]

        for task in prepared.tasks:
            tool = prepared.toolset[task.tool]
            args, kwargs = map_refs(task.args, future_of), map_refs(task.kwargs, future_of)
            if any(isinstance(v, Interp) for v in (*args, *kwargs.values())):
                raise ValueError(f"{prepared.workload.name}: the hand-written baseline takes bare references only")
            futures[task.id] = self.client.submit(
                timed_coroutine if tool.is_async else timed_call,
                tool.fn,
                tuple(args),
                dict(kwargs),
                key=f"{task.tool}-{task.id}-{run}",
                resources=dict(task.resources) or None,
                pure=False,
            )
        results = self.client.gather(list(futures.values()))
        wall = time.time() - started
        calls = [
            CallInterval(task_id, r.start, r.stop, r.worker, result_text(r.value))
            for task_id, r in zip(futures, results)
        ]
        return Outcome(wall, calls, started, units=len(futures))
