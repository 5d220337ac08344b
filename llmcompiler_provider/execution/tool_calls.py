"""A tool call and its observation: the plain data a unit carries to a Dask worker and back.

A unit's calls travel as ``pack_calls`` bytes; its result is a ``UnitResults`` (task id ->
``Observation``). The code that runs the calls on the worker is in ``execution/dataflow.py``; the
clocks an observation's ``cpu`` and ``cpu_window`` come from are here (``timed_call``).
These types stay plain dataclasses with positional ``__reduce__``: they are pickled for every
unit, and cheap to pickle on purpose.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable


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
    #: a blocking call's CPU seconds, on the thread that ran it (``time.thread_time``); None for
    #: coroutine calls (their thread is the event loop's, shared) and calls that never ran
    cpu: float | None = None
    #: the seconds it had to compute in: its wall time less the CPU time the rest of its process used
    #: meanwhile (under one interpreter lock, time it may have waited for the lock) and less the time
    #: it waited for a core (another process had it). ``cpu / cpu_window`` is the share of its time
    #: it computed, alone or beside other calls; the rest it waited (for I/O, a lock, a sleep)
    cpu_window: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def as_text(self) -> str:
        return self.error_text() if not self.ok else render(self.value)

    def error_text(self) -> str:
        return f"ERROR: {self.error}"

    def __reduce__(self) -> tuple:
        # positional fields: pickles in a third of the time of the dataclass default
        fields = (self.value, self.error, self.status, self.start, self.stop, self.worker, self.thread,
                  self.attempts, self.cpu, self.cpu_window)
        return (Observation, fields)


class UnitResults(dict):
    """A unit's observations by task id.

    A ``dict`` subclass on purpose: Dask's messages serialize a plain ``dict`` entry by
    entry (one frame per observation; 25 ms for 1,000), a subclass as one pickle.
    """

    __slots__ = ()


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

    def __reduce__(self) -> tuple:
        # positional fields: cheaper to pickle than the dataclass default (units carry many calls)
        return (Call, (self.task_id, self.tool, self.fn, self.args, self.kwargs, self.deps, self.timeout,
                       self.retries, self.batch_of))


def timed_call(fn: Callable[..., Any], args: tuple, kwargs: dict, spent: list[float]) -> Any:
    """``fn(*args, **kwargs)`` on this thread (a blocking tool call, run by ``execution/dataflow.py``),
    adding to ``spent`` its CPU seconds and the seconds it had to compute in (``Observation.cpu`` and
    ``cpu_window``, what the client learns CPU-bound tools from: ``Toolset.observe_cpu``). The clocks
    cost a few µs a call (a unit of 64 blocking-I/O calls took 0.3 ms longer here, within the noise),
    up to 0.15 ms in a process of thousands of threads (the process clock adds theirs up)."""
    wall, thread, process, delay = time.perf_counter(), time.thread_time(), time.process_time(), _run_delay()
    try:
        return fn(*args, **kwargs)
    finally:
        own = time.thread_time() - thread
        waited = max(0.0, time.process_time() - process - own) + max(0.0, _run_delay() - delay)
        spent[0] += own
        spent[1] += max(own, time.perf_counter() - wall - waited)


_SCHEDSTAT = "/proc/thread-self/schedstat"
_has_schedstat = os.path.exists(_SCHEDSTAT)
_schedstat = threading.local()
#: threads that keep their schedstat open (a read then costs 0.4 µs, not 3 µs and a path lookup that
#: 64 threads finishing at once contend for); a thread beyond opens it for each read
_kept_open = threading.BoundedSemaphore(256)


class _SchedStat:
    def __init__(self) -> None:
        self.fd = os.open(_SCHEDSTAT, os.O_RDONLY)

    def __del__(self) -> None:  # the thread ended
        try:
            os.close(self.fd)
            _kept_open.release()
        except Exception:  # the interpreter is shutting down
            pass


def _run_delay() -> float:
    """Seconds this thread has waited, runnable, for a core (Linux's schedstat; 0.0 elsewhere): on a
    busy machine, time other processes had the cores, which is neither computing nor waiting on I/O
    (pure-Python calls beside three busy processes on two cores measured a share of 0.1 to 0.3
    without this, 0.25 to 0.95 with)."""
    if not _has_schedstat:
        return 0.0
    try:
        stat = getattr(_schedstat, "stat", None)
        if stat is None and _kept_open.acquire(blocking=False):
            try:
                stat = _schedstat.stat = _SchedStat()
            except OSError:
                _kept_open.release()
                raise
        if stat is not None:
            return int(os.pread(stat.fd, 64, 0).split()[1]) / 1e9
        fd = os.open(_SCHEDSTAT, os.O_RDONLY)
        try:
            return int(os.read(fd, 64).split()[1]) / 1e9
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 0.0


def render(value: Any) -> str:
    """A result as text, for interpolation into strings and for the joiner."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if not isinstance(value, (int, float)) else str(value)


def is_coroutine_call(call: Call) -> bool:
    fn = call.fn
    try:
        return _coroutine_functions[fn]
    except KeyError:
        answer = _coroutine_functions[fn] = asyncio.iscoroutinefunction(fn)
        return answer
    except TypeError:  # a callable that cannot be hashed or weakly referenced (a tool instance)
        return asyncio.iscoroutinefunction(fn)


#: asked for every call of every unit, of the same few tools. Weak keys: a tool of a module shipped
#: by value arrives as a new function object with every unit (``pack_calls``), and a cache that kept
#: them (an ``lru_cache`` of 4,096 did) held thousands of copies of the same few functions
_coroutine_functions: "weakref.WeakKeyDictionary[Callable[..., Any], bool]" = weakref.WeakKeyDictionary()


def pack_calls(calls: list[Call]) -> bytes:
    """A unit's calls as the bytes its Dask task carries: pickled once here, unpickled only by the
    worker (the scheduler passes bytes along).

    cloudpickle once any module is registered with ``cloudpickle.register_pickle_by_value`` (its
    tools then travel by value even inside ``Call`` objects, where Dask's own pickling would send
    them by reference and workers that cannot import the module would fail) or when plain pickle
    refuses (a lambda); plain pickle otherwise, three times faster."""
    import cloudpickle

    if not cloudpickle.list_registry_pickle_by_value():
        try:
            return pickle.dumps(calls, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            pass
    return cloudpickle.dumps(calls, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_calls(calls: list[Call] | bytes) -> list[Call]:
    """The calls of ``pack_calls`` bytes (a list passes through: a plain Dask graph carries one)."""
    return pickle.loads(calls) if isinstance(calls, bytes) else calls
