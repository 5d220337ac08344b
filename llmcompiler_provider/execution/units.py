"""What runs inside one Dask task: one or more tool calls of a plan (an execution unit).

A unit's result is a ``dict[task id, Observation]``; a downstream unit receives its
upstream units' dicts as arguments and looks up the ids it references. Tool errors
become failed observations instead of Dask errors, so independent branches go on
and the joiner sees which observations are errors; a call whose input failed is
skipped with the cause.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from llmcompiler_provider.plan.ir import Interp, Ref, map_refs


@dataclass
class Observation:
    """The outcome of one tool call, with where and when it ran."""

    value: Any = None
    error: str | None = None
    status: str = "success"  # success | failed | skipped
    start: float | None = None
    stop: float | None = None
    worker: str | None = None
    thread: int | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def as_text(self) -> str:
        return self.error_text() if not self.ok else render(self.value)

    def error_text(self) -> str:
        return f"ERROR: {self.error}"


@dataclass(frozen=True)
class Call:
    """One tool call, arguments still holding references to upstream task ids."""

    task_id: int
    tool: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    deps: frozenset[int] = frozenset()
    timeout: float | None = None
    retries: int = 0
    # batched call: fn takes a list of keyword dicts; results split back to these ids
    batch_of: tuple[int, ...] = ()


def render(value: Any) -> str:
    """A result as text, for interpolation into strings and for the joiner."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if not isinstance(value, (int, float)) else str(value)


class UpstreamFailed(Exception):
    pass


def _resolve(value: Any, known: dict[int, Observation]) -> Any:
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


def _invoke(fn: Callable[..., Any], args: tuple, kwargs: dict, timeout: float | None) -> Any:
    """Call a tool, sync or async, enforcing its timeout (Dask has none)."""
    if asyncio.iscoroutinefunction(fn):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), timeout))
    if timeout is None:
        return fn(*args, **kwargs)
    # A thread cannot be killed: on timeout the call is abandoned, its result discarded.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmcompiler-timeout")
    try:
        return pool.submit(fn, *args, **kwargs).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise TimeoutError(f"timed out after {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, (TimeoutError, UpstreamFailed)) else f"{type(exc).__name__}: {text}"


def run_call(call: Call, known: dict[int, Observation], worker: str) -> dict[int, Observation]:
    """Run one call (with its retries); returns the observations it produced."""
    obs = Observation(worker=worker, thread=threading.get_ident(), start=time.time())
    try:
        args = _resolve(call.args, known)
        kwargs = _resolve(call.kwargs, known)
    except UpstreamFailed as exc:
        obs.status, obs.error, obs.stop = "skipped", f"not run: {exc}", time.time()
        return _split(call, obs)
    while True:
        obs.attempts += 1
        try:
            obs.value = _invoke(call.fn, args, kwargs, call.timeout)
            obs.status, obs.error = "success", None
            break
        except Exception as exc:  # a tool's failure is an observation, not a crash
            obs.status, obs.error = "failed", _describe(exc)
            if obs.attempts > call.retries:
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


def run_unit(calls: list[Call], *upstream: dict[int, Observation]) -> dict[int, Observation]:
    """Run a unit's calls; calls whose inputs are ready run concurrently in threads."""
    known: dict[int, Observation] = {}
    for results in upstream:
        known.update(results)
    worker = _worker_address()
    produced: dict[int, Observation] = {}
    if len(calls) == 1:
        produced.update(run_call(calls[0], known, worker))
        return produced
    pending = list(calls)
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(calls))) as pool:
        while pending:
            ready = [c for c in pending if all(d in known for d in c.deps)]
            if not ready:  # an input the unit cannot see: fail the rest clearly
                ready = pending
            pending = [c for c in pending if c not in ready]
            futures = [pool.submit(run_call, c, dict(known), worker) for c in ready]
            for f in futures:
                produced.update(f.result())
            known.update(produced)
    return produced
