"""Batch-level common-subexpression elimination: a pure tool call made by several runs of a batch
runs once, and every run reads the one result.

A batch runs many prompts (each an ``LLMCompilerRun``) at once on one Dask client. One
``SharedCalls`` is made per batch and given to each run (``RunConfig.shared_calls``), which hands
it to its dispatchers. A task is *shareable* when its tool is pure (``ToolSignature.pure``) and
every argument is a literal (it reads no other task's result). The first run to dispatch such a
call submits it in a unit of shareable calls only (the shareable members of a unit ``fusion``
made leave it together: they read nothing, so none waits for the others' inputs) and registers
the unit's Dask future here; a run dispatching the identical call (the same tool function, the
same arguments: ``plan.ir.call_key``) while the entry lives takes its own reference to that
future instead of submitting anything.

The task id of a shared call inside its unit is one this object hands out (``next_id``: negative,
so it is never a plan's own id); each run maps it to its own task id (``UnitPlan.carry``), so the
runs' plans need not agree on numbering, and a run may read one call of a unit of several.

Once a shared call has succeeded and its unit's results were small enough to be sent ahead of
its completion (``execution/inbox.py``: ``PUSH_LIMIT`` pickled), the first run to read them
*settles* the entry (``settle``): it keeps the observation itself and releases its future, so the
scheduler and the workers forget the unit once the runs reading it let go, and later runs are
answered from the entry with no Dask task at all. A batch of 10,000 prompts would otherwise keep
every shared unit on the cluster until it ends (about 16 KB per prompt here, growing without end);
a settled entry costs only its result. A larger result stays on its worker, behind the future.

The entries are an LRU of at most ``max_entries``: an evicted entry's future is released (the
runs that took a reference keep theirs until they release them). A call that failed is dropped
(``discard``) so that a later run tries it again, and so is a future Dask reports as cancelled or
failed. Nothing here cancels a future: a run that is cancelled leaves its shared calls running
for the others (``Dispatcher.cancel``).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Iterator

from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.plan.ir import Task, call_key

#: calls a batch keeps sharing at most (a settled one holds its result; one that is not, a Dask future)
DEFAULT_MAX_ENTRIES = 20_000

#: the future states after which an entry is no longer shared (``lost`` is being computed again)
_DEAD = frozenset({"error", "cancelled"})


@dataclass(frozen=True)
class SharedCall:
    """One shared call: the Dask task computing it and the id its result carries in that task's
    results; once settled, its observation instead of the future."""

    id: int  # negative: the id of the call inside its unit's results
    unit: str  # the Dask key of the unit that computed it
    run_id: str  # the run that submitted it
    future: Any = None  # this object's own reference to the unit's future, until settled
    observation: Observation | None = None  # the call's successful observation, once settled

    def let_go(self) -> None:
        """Release this entry's reference to its unit (nothing, once settled)."""
        if self.future is not None:
            self.future.release()


def shared_identity(fn: Callable[..., Any], task: Task) -> Hashable | None:
    """What makes two tasks the same call: the same tool function with the same arguments (None
    for a tool object that cannot be hashed: its calls are not shared)."""
    try:
        hash(fn)
    except TypeError:
        return None
    return (fn, call_key(task))


def is_shareable(task: Task) -> bool:
    """A pure tool's call whose arguments are all literals (it reads no other task's result)."""
    return task.pure and not task.deps and not task.batch_of


class SharedCalls:
    """The shareable calls of one batch: their futures, by call, thread-safe, at most ``max_entries``.

    ``hits`` counts the calls answered by an entry, ``misses`` the calls registered to be
    computed, ``settled`` the entries that now hold their result, ``evicted`` the entries dropped
    to stay within ``max_entries``, ``discarded`` those dropped because the call failed."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"SharedCalls(max_entries={max_entries!r}): it must keep at least 1 call")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self.settled = 0
        self.evicted = 0
        self.discarded = 0
        self._entries: OrderedDict[Hashable, SharedCall] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._entries)

    @contextmanager
    def submitting(self) -> Iterator[None]:
        """Hold while looking calls up and submitting the missing ones, so that a run that looks one
        up after another run found it missing finds it submitted (Dask then knows its key)."""
        with self._lock:
            yield

    def take(self, identity: Hashable, client: Any) -> tuple[SharedCall, Any] | None:
        """The shared call ``identity`` and a new reference to its future (the caller releases it), or
        None for the future of a settled call (its ``observation`` is the answer), counted as a hit;
        None when there is none to share on ``client``."""
        from distributed import Future

        with self._lock:
            call = self._entries.get(identity)
            if call is None:
                return None
            if call.observation is not None:
                self._entries.move_to_end(identity)
                self.hits += 1
                return call, None
            if call.future.status in _DEAD:
                self._drop(identity)
                return None
            if call.future.client is not client:  # a future of another client cannot be waited on here
                return None
            self._entries.move_to_end(identity)
            self.hits += 1
            return call, Future(call.unit, client)

    def next_id(self) -> int:
        """A fresh id for a call about to be shared (negative: never a plan's task id)."""
        with self._lock:
            return -next(self._ids)

    def add(self, identity: Hashable, call: SharedCall) -> None:
        """Share ``call`` (whose future this object now owns), evicting the least recently used
        entries beyond ``max_entries``."""
        with self._lock:
            previous = self._entries.pop(identity, None)
            if previous is not None:
                previous.let_go()
            self._entries[identity] = call
            self.misses += 1
            while len(self._entries) > self.max_entries:
                _, evicted = self._entries.popitem(last=False)
                evicted.let_go()
                self.evicted += 1

    def settle(self, identity: Hashable, unit: str, observation: Observation) -> None:
        """Keep the successful ``observation`` of the call of ``unit`` and let go of its future: later
        runs are answered from it, and the cluster may forget the unit (call it only for results
        small enough to keep in this process)."""
        with self._lock:
            call = self._entries.get(identity)
            if call is None or call.unit != unit or call.observation is not None:
                return
            self._entries[identity] = replace(call, future=None, observation=observation)
            call.let_go()
            self.settled += 1

    def discard(self, identity: Hashable, unit: str) -> None:
        """Stop sharing the call of ``unit`` (it failed): a later run computes it again."""
        with self._lock:
            call = self._entries.get(identity)
            if call is not None and call.unit == unit:
                self._drop(identity)
                self.discarded += 1

    def _drop(self, identity: Hashable) -> None:
        self._entries.pop(identity).let_go()

    def close(self) -> None:
        """Release every future (the batch is over)."""
        with self._lock:
            for call in self._entries.values():
                call.let_go()
            self._entries.clear()

    def __getstate__(self) -> Any:
        raise TypeError(
            "a SharedCalls holds this process's Dask futures and cannot go to another process: give each "
            "process's runs a SharedCalls of their own (a remote run shares none)"
        )

    def __enter__(self) -> "SharedCalls":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SharedCalls({len(self)} of {self.max_entries} calls, {self.hits} hits)"
