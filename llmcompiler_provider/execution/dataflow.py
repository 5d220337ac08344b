"""What runs inside one Dask task, on the worker: the calls of one execution unit, as a dataflow.

A unit's result is a ``dict[task id, Observation]``; a downstream unit receives its
upstream units' dicts as arguments and looks up the ids it references. Tool errors
become failed observations instead of Dask errors, so independent branches go on
and the joiner sees which observations are errors; a call whose input failed is
skipped with the cause.

Inside a unit, calls run as a dataflow: each starts the moment its inputs inside
the unit are done. Coroutine tools are awaited on one event loop (the worker's own
loop when every call of the unit is a coroutine: ``run_unit_async``); other tools
run in threads. Every call keeps its own start and stop times. The data that comes
and goes (``Call``, ``Observation``) is in ``execution/tool_calls.py``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Callable

from llmcompiler_provider.execution.inbox import send_ahead
from llmcompiler_provider.execution.tool_calls import (
    Call,
    Observation,
    UnitResults,
    is_coroutine_call,
    render,
    timed_call,
    unpack_calls,
)
from llmcompiler_provider.plan.ir import Interp, Ref, map_refs
from llmcompiler_provider.plan.passes.fusion import MAX_THREAD_GROUP


class UpstreamFailed(Exception):
    pass


def resolve_arguments(value: Any, known: dict[int, Observation]) -> Any:
    """``value`` with every reference replaced by its observation's value (strings interpolated)."""

    def lookup(ref: Ref) -> Any:
        obs = known.get(ref.id)
        if obs is None:
            raise UpstreamFailed(f"result of ${ref.id} is missing")
        if not obs.ok:
            raise UpstreamFailed(f"${ref.id} failed: {obs.error}")
        return obs.value

    return _interpolate(map_refs(value, lookup))


def _interpolate(value: Any) -> Any:
    if isinstance(value, Interp):
        return "".join(render(p) for p in value.parts)
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_interpolate(v) for v in value)
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    return value


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def _invoke(
    fn: Callable[..., Any], args: tuple, kwargs: dict, timeout: float | None, obs: Observation
) -> Any:
    """Call a tool, sync or async, enforcing its timeout (Dask has none). A blocking call's CPU time
    is added to ``obs`` (an attempt that timed out adds none: its thread is still running)."""
    if asyncio.iscoroutinefunction(fn):
        return asyncio.run(_await_within(fn(*args, **kwargs), timeout))
    spent = [0.0, 0.0]
    try:
        if timeout is None:
            return timed_call(fn, args, kwargs, spent)
        # A thread cannot be killed: on timeout the call is abandoned, its result discarded.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmcompiler-timeout")
        try:
            return pool.submit(timed_call, fn, args, kwargs, spent).result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            spent = [0.0, 0.0]  # not the abandoned thread's: it may still add to the list
            raise TimeoutError(f"timed out after {timeout:g} s") from None
        finally:
            pool.shutdown(wait=False)
    finally:
        obs.cpu = (obs.cpu or 0.0) + spent[0]
        obs.cpu_window = (obs.cpu_window or 0.0) + spent[1]


async def _await_within(coroutine: Any, timeout: float | None) -> Any:
    try:
        return await asyncio.wait_for(coroutine, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"timed out after {timeout:g} s") from None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, (TimeoutError, UpstreamFailed)) else f"{type(exc).__name__}: {text}"


def _start(call: Call, known: dict[int, Observation], worker: str) -> tuple[Observation, tuple | None, dict]:
    """A started observation and the call's resolved arguments (``None`` when an input failed)."""
    obs = Observation(worker=worker, thread=threading.get_ident(), start=time.time())
    try:
        return obs, resolve_arguments(call.args, known), resolve_arguments(call.kwargs, known)
    except UpstreamFailed as exc:
        obs.status, obs.error, obs.stop = "skipped", f"not run: {exc}", time.time()
        return obs, None, {}


def _settle(call: Call, obs: Observation, value: Any = None, exc: BaseException | None = None) -> bool:
    """Record one attempt's outcome; True when the call is finished (success or out of retries)."""
    obs.attempts += 1
    if exc is None:
        obs.value, obs.status, obs.error = value, "success", None
        return True
    obs.status, obs.error = "failed", _describe(exc)
    return obs.attempts > call.retries


def run_call(call: Call, known: dict[int, Observation], worker: str) -> dict[int, Observation]:
    """Run one call (with its retries) in this thread; returns the observations it produced."""
    obs, args, kwargs = _start(call, known, worker)
    if args is None:
        return _split(call, obs)
    while True:
        try:
            value = _invoke(call.fn, args, kwargs, call.timeout, obs)
        except Exception as exc:  # a tool's failure is an observation, not a crash
            if _settle(call, obs, exc=exc):
                break
        else:
            _settle(call, obs, value)
            break
    obs.stop = time.time()
    return _split(call, obs)


async def run_call_async(call: Call, known: dict[int, Observation], worker: str) -> dict[int, Observation]:
    """Run one coroutine tool's call (with its retries) on the running event loop."""
    obs, args, kwargs = _start(call, known, worker)
    if args is None:
        return _split(call, obs)
    while True:
        try:
            value = await _await_within(call.fn(*args, **kwargs), call.timeout)
        except Exception as exc:  # a tool's failure is an observation, not a crash
            if _settle(call, obs, exc=exc):
                break
        else:
            _settle(call, obs, value)
            break
    obs.stop = time.time()
    return _split(call, obs)


def _split(call: Call, obs: Observation) -> dict[int, Observation]:
    if not call.batch_of:
        return {call.task_id: obs}
    out = {call.task_id: obs}
    values = obs.value if obs.ok and isinstance(obs.value, list) else None
    if obs.ok and (values is None or len(values) != len(call.batch_of)):
        obs.status, obs.error = "failed", f"batched {call.tool} returned {type(obs.value).__name__}, not a list of {len(call.batch_of)}"
    for i, member in enumerate(call.batch_of):
        out[member] = Observation(
            value=values[i] if obs.ok else None,
            error=obs.error,
            status=obs.status,
            start=obs.start,
            stop=obs.stop,
            worker=obs.worker,
            thread=obs.thread,
            attempts=obs.attempts,
        )
    return out


def _known(upstream: tuple[dict[int, Observation], ...]) -> dict[int, Observation]:
    known: dict[int, Observation] = {}
    for results in upstream:
        known.update(results)
    return known


def run_unit(
    calls: list[Call] | bytes, *upstream: dict[int, Observation], ahead_to: tuple[str, str] | None = None
) -> UnitResults:
    """Run a unit's calls in a thread (a Dask task): a dataflow, ready calls concurrently.

    ``calls``: a list, or ``pack_calls`` bytes. ``ahead_to`` (topic, unit key): where to send
    the results ahead of the completion message (``execution/inbox.py``)."""
    calls = unpack_calls(calls)
    known = _known(upstream)
    worker = _worker_address()
    if len(calls) == 1 and not is_coroutine_call(calls[0]):
        results = UnitResults(run_call(calls[0], known, worker))
    elif any(is_coroutine_call(call) for call in calls):
        results = UnitResults(asyncio.run(_dataflow(calls, known, worker)))
    else:
        results = UnitResults(_thread_dataflow(calls, known, worker))
    send_ahead(ahead_to, results)
    return results


async def run_unit_async(
    calls: list[Call] | bytes, *upstream: dict[int, Observation], ahead_to: tuple[str, str] | None = None
) -> UnitResults:
    """``run_unit`` for units of coroutine tools only: Dask awaits it on the worker's event loop."""
    results = UnitResults(await _dataflow(unpack_calls(calls), _known(upstream), _worker_address()))
    send_ahead(ahead_to, results)
    return results


async def _dataflow(calls: list[Call], known: dict[int, Observation], worker: str) -> dict[int, Observation]:
    """Start each call the moment its inputs inside the unit are done; return every observation.

    Completions are handled in done-callbacks (constant work per call, however many
    calls are in flight), not by waiting on the whole set of running calls each time.
    """
    progress = _UnitProgress(calls, known)
    pool = _blocking_pool() if any(not is_coroutine_call(call) for call in calls) else None
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    running: set[asyncio.Future] = set()

    def finished(i: int, future: asyncio.Future) -> None:
        running.discard(future)
        if all_done.done():
            return
        if future.cancelled() or future.exception() is not None:  # not a tool's failure: a bug or a cancel
            all_done.set_exception(future.exception() or asyncio.CancelledError())
            return
        for j in progress.finish(i, future.result()):
            launch(j)
        if progress.complete:
            all_done.set_result(None)

    def launch(i: int) -> None:
        call = calls[i]
        if is_coroutine_call(call):
            future: asyncio.Future = asyncio.ensure_future(run_call_async(call, known, worker))
        else:
            future = loop.run_in_executor(pool, run_call, call, known, worker)
        running.add(future)
        future.add_done_callback(lambda f, i=i: finished(i, f))

    try:
        for i in progress.ready_at_start():
            launch(i)
        if not progress.complete:
            await all_done
    finally:
        for future in list(running):
            future.cancel()
    return progress.produced


def _thread_dataflow(calls: list[Call], known: dict[int, Observation], worker: str) -> dict[int, Observation]:
    """``_dataflow`` for a unit without coroutine calls, with no event loop: the calls run on the
    shared blocking pool, and the thread that finishes a call starts the calls it made ready.
    (An event loop for such a unit costs 1 to 7 ms per 64 calls here: the loop's start, and a
    cross-thread wake-up of it for every call that finishes.)"""
    progress = _UnitProgress(calls, known)
    pool = _blocking_pool()
    lock = threading.Lock()
    all_done = threading.Event()
    errors: list[BaseException] = []
    submitted: list[concurrent.futures.Future] = []

    def finished(i: int, future: concurrent.futures.Future) -> None:
        error = future.exception() if not future.cancelled() else concurrent.futures.CancelledError()
        if error is not None:  # not a tool's failure (run_call records those): a bug or a cancel
            errors.append(error)
            all_done.set()
            return
        with lock:
            ready = progress.finish(i, future.result())
            if progress.complete:
                all_done.set()
        for j in ready:
            launch(j)

    def launch(i: int) -> None:
        future = pool.submit(run_call, calls[i], known, worker)
        submitted.append(future)
        future.add_done_callback(lambda f, i=i: finished(i, f))

    for i in progress.ready_at_start():
        launch(i)
    if not progress.complete:
        all_done.wait()
    if errors:
        for future in submitted:
            future.cancel()
        raise errors[0]
    return progress.produced


class _UnitProgress:
    """The bookkeeping both dataflows share: which calls (by position) still wait for inputs
    inside the unit, what the finished ones produced, and which calls each completion makes ready."""

    def __init__(self, calls: list[Call], known: dict[int, Observation]) -> None:
        index = {member: i for i, call in enumerate(calls) for member in (call.task_id, *call.batch_of)}
        self.waiting = [{index[d] for d in call.deps if d in index and index[d] != i} for i, call in enumerate(calls)]
        self.dependents: list[list[int]] = [[] for _ in calls]
        for i, inputs in enumerate(self.waiting):
            for j in inputs:
                self.dependents[j].append(i)
        self.known = known
        self.produced: dict[int, Observation] = {}
        self.left = len(calls)

    @property
    def complete(self) -> bool:
        return self.left == 0

    def ready_at_start(self) -> list[int]:
        return [i for i, inputs in enumerate(self.waiting) if not inputs]

    def finish(self, i: int, results: dict[int, Observation]) -> list[int]:
        """Record call ``i``'s observations; the positions of the calls that are ready now."""
        self.produced.update(results)
        self.known.update(results)
        self.left -= 1
        ready = []
        for j in self.dependents[i]:
            self.waiting[j].discard(i)
            if not self.waiting[j]:
                ready.append(j)
        return ready


#: threads for blocking calls, at most: enough for every Dask thread of a worker to run a unit of
#: ``MAX_THREAD_GROUP`` blocking-I/O calls at once (the pool starts a thread only when none is idle)
BLOCKING_THREADS = 32 * MAX_THREAD_GROUP
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def start_blocking_threads(count: int = MAX_THREAD_GROUP) -> None:
    """Start ``count`` threads of this process's blocking pool now, so that the first unit of
    blocking calls does not start them one by one as its calls arrive (0.2 ms or more each here:
    the calls of a 64-call unit started over 16 ms). The worker plugin of ``execution/latency.py``
    calls it as a worker starts."""
    pool, release = _blocking_pool(), threading.Event()
    started = [pool.submit(release.wait) for _ in range(count)]  # none idle: each starts a thread
    release.set()
    concurrent.futures.wait(started)


def _blocking_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The threads this process runs blocking calls on, shared by its units: started once and
    reused, not started for each unit (64 fresh threads cost 6 to 10 ms per unit here)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="llmcompiler-unit")
        return _pool
