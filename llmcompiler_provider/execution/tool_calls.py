"""A tool call and its observation: the plain data a unit carries to a Dask worker and back.

A unit's calls travel as ``pack_calls`` bytes; its result is a ``UnitResults`` (task id ->
``Observation``). The code that runs the calls on the worker is in ``execution/dataflow.py``.
These types stay plain dataclasses with positional ``__reduce__``: they are pickled for every
unit, and cheap to pickle on purpose.
"""

from __future__ import annotations

import asyncio
import functools
import pickle
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
        fields = (self.value, self.error, self.status, self.start, self.stop, self.worker, self.thread, self.attempts,
                  self.cpu, self.cpu_window)
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


def render(value: Any) -> str:
    """A result as text, for interpolation into strings and for the joiner."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if not isinstance(value, (int, float)) else str(value)


def is_coroutine_call(call: Call) -> bool:
    try:
        return _is_coroutine_function(call.fn)
    except TypeError:  # a callable object that cannot be hashed (a tool instance without __hash__)
        return asyncio.iscoroutinefunction(call.fn)


#: asked for every call of every unit, of the same few tools (bounded: tools made per run come and go)
_is_coroutine_function = functools.lru_cache(maxsize=4096)(asyncio.iscoroutinefunction)


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
