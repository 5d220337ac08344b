"""From IR to Dask futures: each execution unit becomes one Dask task.

Upstream futures are the dependencies (Dask starts a unit the moment its inputs
exist; there is no polling loop), with the task's ``resources`` and critical-path
``priority``. Tasks may be handed over one at a time as a plan streams in, or all
at once; either way every task is submitted the moment it is known.

Within a batch, a call may be answered without a unit of this run's own: from the tool result
cache (``result_cache``: no Dask task at all) or by the identical call of another run
(``shared_calls``: its future, ``execution/shared_calls.py``). Their records say so
(``TaskRecord.source``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass, field, replace
from typing import Any, Hashable, Iterable

from llmcompiler_provider.execution.cluster import ClientStart, check_resources
from llmcompiler_provider.execution.dask_internals import UnitSubmission, reschedule_counts, submit_units
from llmcompiler_provider.execution.dataflow import run_unit, run_unit_async
from llmcompiler_provider.execution.records import count_reschedules, task_records
from llmcompiler_provider.execution.result_cache import ResultCache, cache_key
from llmcompiler_provider.execution.shared_calls import SharedCall, SharedCalls, is_shareable, shared_identity
from llmcompiler_provider.execution.tool_calls import Call, Observation, is_coroutine_call, pack_calls
from llmcompiler_provider.execution.unit_plan import UnitPlan, new_attempt, unit_key
from llmcompiler_provider.plan.ir import Task, TaskGraph
from llmcompiler_provider.results import TaskRecord
from llmcompiler_provider.tools.registry import Toolset


#: how long ``reschedules()`` waits for the scheduler's answer
RESCHEDULE_QUERY_S = 10.0

#: the calls a dispatch is about to share: task id -> (its ``shared_identity``, the id it has in its unit)
NewShared = dict[int, tuple[Hashable, int]]


@dataclass
class Dispatcher:
    """Submits a plan's tasks to a Dask client and collects their observations.

    The client is first used when the first unit is submitted. ``client`` may also be a
    ``ClientStart``: it is waited for then, so a cluster can start while the planner writes
    the plan's first line.

    ``shared_calls`` (one per batch) shares the shareable calls (``shared_calls.is_shareable``)
    with the batch's other runs; ``result_cache`` answers the calls of tools with a ``cache_ttl``
    whose arguments are literals. Neither: every call runs in this run's own units."""

    client: Any
    toolset: Toolset
    run_id: str
    iteration: int = 0
    futures: dict[str, Any] = field(default_factory=dict)  # unit key -> future
    queued: dict[int, float] = field(default_factory=dict)
    first_dispatch: float | None = None
    attempt: str = field(default_factory=new_attempt)
    #: the units submitted so far: their calls, and which unit produces each task
    unit_plan: UnitPlan = field(init=False, repr=False)
    _reschedule_query: concurrent.futures.Future | None = field(default=None, init=False, repr=False)
    #: results units send ahead of their completion (``execution/inbox.py``); None until the first submit
    inbox: Any = field(default=None, init=False, repr=False)
    #: the tasks whose CPU time the toolset has learned from (each once, however often observations are read)
    _cpu_learned: set[int] = field(default_factory=set, init=False, repr=False)
    shared_calls: SharedCalls | None = None
    result_cache: ResultCache | None = None
    #: task id -> ``"batch"`` or ``"cache"``: the tasks another run's identical call or the cache answered
    sources: dict[int, str] = field(default_factory=dict, init=False, repr=False)
    #: the observations of the tasks the cache answered
    _answered: dict[int, Observation] = field(default_factory=dict, init=False, repr=False)
    #: task id -> cache key, for the results to put in the cache once they succeed
    _to_cache: dict[int, str] = field(default_factory=dict, init=False, repr=False)
    #: the units computing shared calls (this run's or another's): never cancelled by this run
    _shared_units: set[str] = field(default_factory=set, init=False, repr=False)
    #: task id -> its shared call's ``shared_identity``, to stop sharing the call if it fails
    _identities: dict[int, Hashable] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.unit_plan = UnitPlan(self.toolset)

    @property
    def producer(self) -> dict[int, str]:
        """Task id -> key of the unit producing it."""
        return self.unit_plan.producer

    @property
    def tasks(self) -> dict[int, Task]:
        """The tasks submitted so far, by id."""
        return self.unit_plan.tasks

    def _connect(self) -> None:
        if isinstance(self.client, ClientStart):  # first: its thread may still be importing distributed
            self.client = self.client.wait()
        from llmcompiler_provider.execution.inbox import inbox_for
        from llmcompiler_provider.execution.latency import send_immediately  # imports distributed

        send_immediately(self.client)
        self.inbox = inbox_for(self.client)

    # submission -----------------------------------------------------------------------
    def plan_unit(self, tasks: list[Task], graph: TaskGraph) -> tuple[str, list[Call], list[str]]:
        """The key, calls and upstream unit keys of a unit about to be submitted."""
        calls, upstream = self.unit_plan.calls(tasks, graph)
        return unit_key(self.run_id, self.attempt, self.iteration, tasks), calls, upstream

    def register_unit(
        self, key: str, calls: list[Call], tasks: list[Task], queued: float | None = None
    ) -> None:
        self.unit_plan.add(key, calls, tasks)
        if queued is not None:
            for task in tasks:
                self.queued[task.id] = queued

    def submit_units(self, units: list[list[Task]], graph: TaskGraph) -> list[Any]:
        """Submit units in one message to the scheduler (not one each); a future per unit submitted.

        Calls the cache answers are taken out first; with ``shared_calls``, a shareable call reads
        the future of another run's identical call, or leaves its unit for one of shareable calls
        only (``_share``)."""
        if self.inbox is None:
            self._connect()
        if self.result_cache is not None:
            units = [kept for kept in (self._answer_from_cache(tasks) for tasks in units) if kept]
        if self.shared_calls is None:
            return self._submit(units, graph, {})
        with self.shared_calls.submitting():  # another run looking a call up finds it submitted
            units, new_shared = self._share(units)
            futures = self._submit(units, graph, new_shared)
            self._register_shared(new_shared)
        return futures

    def _submit(self, units: list[list[Task]], graph: TaskGraph, new_shared: NewShared) -> list[Any]:
        """Submit ``units``; ``new_shared``: task id -> (identity, id in its unit) of the calls to share."""
        submissions = []
        for tasks in units:
            key, calls, upstream = self.plan_unit(tasks, graph)
            shared = [task for task in tasks if task.id in new_shared]
            if shared:  # their results carry the ids other runs know them by
                calls = [replace(c, task_id=new_shared[c.task_id][1]) if c.task_id in new_shared else c
                         for c in calls]
            resources = _merge_resources(t.resources for t in tasks)
            check_resources(self.client, resources)  # fail fast, not in no-worker
            # coroutine tools only: the worker awaits the unit on its event loop, no thread
            function = run_unit_async if all(is_coroutine_call(c) for c in calls) else run_unit
            priority = max(t.priority for t in tasks)
            ahead = {"ahead_to": (self.inbox.topic, key)}
            payload = pack_calls(calls)
            submissions.append(UnitSubmission(key, function, payload, tuple(upstream), resources, priority, ahead))
            self.register_unit(key, calls, tasks)
            for task in shared:
                identity, carried_id = new_shared[task.id]
                self.unit_plan.carry(task, key, carried_id)
                self._identities[task.id] = identity
                self._shared_units.add(key)
        self.inbox.expect([s.key for s in submissions])
        now = time.time()
        futures = submit_units(self.client, submissions)
        if self.first_dispatch is None and submissions:
            self.first_dispatch = now
        for tasks in units:
            for task in tasks:
                self.queued[task.id] = now
        self.futures.update(futures)
        return [futures[s.key] for s in submissions]

    def _answer_from_cache(self, tasks: list[Task]) -> list[Task]:
        """``tasks`` less those the result cache answers (their observations are kept as finished)."""
        kept = []
        for task in tasks:
            ttl = self.toolset[task.tool].signature.cache_ttl
            if ttl is None or not is_shareable(task):
                kept.append(task)
                continue
            key = cache_key(self.toolset.name, task)
            hit, value = self.result_cache.get(key)
            if not hit:
                self._to_cache[task.id] = key
                kept.append(task)
                continue
            now = time.time()
            self.unit_plan.give(task, value)
            self._answered[task.id] = Observation(value=value, start=now, stop=now)
            self.sources[task.id] = "cache"
            self.queued[task.id] = now
        return kept

    def _share(self, units: list[list[Task]]) -> tuple[list[list[Task]], NewShared]:
        """The units to submit, and the new shared calls among them (task id -> (identity, id in its
        unit)). The shareable calls another run submitted read its future (``sources`` says
        ``"batch"``); those no run has submitted yet leave their unit for one of their own, holding
        the shareable calls ``fusion`` grouped with them (siblings that read nothing: they wait for
        nothing else, and its results are shared by id), and go first. The rest of each unit stays
        as ``fusion`` made it."""
        alone: list[list[Task]] = []
        rest: list[list[Task]] = []
        new: NewShared = {}
        seen: set[Hashable] = set()
        for tasks in units:
            kept, mine = [], []
            for task in tasks:
                identity = shared_identity(self.toolset[task.tool].fn, task) if is_shareable(task) else None
                if identity is None or identity in seen:  # the same call twice in this submission runs twice
                    kept.append(task)
                    continue
                found = self.shared_calls.take(identity, self.client)
                if found is not None:
                    self._read_shared(task, identity, *found)
                    continue
                seen.add(identity)
                new[task.id] = (identity, self.shared_calls.next_id())
                mine.append(task)
            if mine:
                alone.append(mine)
            if kept:
                rest.append(kept)
        return alone + rest, new

    def _read_shared(self, task: Task, identity: Hashable, call: SharedCall, future: Any) -> None:
        """Let ``task`` read the result of the shared ``call`` (``future``: a reference of this run's),
        or take it from the call's observation once it is settled (``future`` is None: no Dask task)."""
        if call.observation is not None:
            self.unit_plan.give(task, call.observation.value, unit=call.unit)
            self._answered[task.id] = replace(call.observation)
        else:
            if call.unit in self.futures:  # already read by another task of this run
                future.release()
            else:
                self.futures[call.unit] = future
            self.unit_plan.carry(task, call.unit, call.id)
            self._identities[task.id] = identity
            self._shared_units.add(call.unit)
        self.sources[task.id] = "batch"
        self.queued[task.id] = time.time()
        if self.first_dispatch is None:
            self.first_dispatch = self.queued[task.id]

    def _register_shared(self, new_shared: NewShared) -> None:
        """Share the calls just submitted: ``shared_calls`` keeps a reference of its own to each future."""
        from distributed import Future

        for task_id, (identity, carried_id) in new_shared.items():
            key = self.producer[task_id]
            call = SharedCall(carried_id, key, self.run_id, Future(key, self.client))
            self.shared_calls.add(identity, call)

    def submit(self, tasks: Iterable[Task], graph: TaskGraph) -> None:
        """Submit tasks, each as its own unit unless the graph groups them into units."""
        tasks = list(tasks)
        if graph.units is None:
            self.submit_units([[task] for task in tasks], graph)
            return
        by_id = {t.id: t for t in tasks}
        units = [[by_id[i] for i in unit if i in by_id] for unit in graph.units]
        self.submit_units([members for members in units if members], graph)

    def submit_graph(self, graph: TaskGraph) -> None:
        self.submit(graph.tasks.values(), graph)

    # collection -----------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> dict[int, Observation]:
        """Wait for every submitted unit; Dask-level failures become failed observations.

        A result lost with a worker that died after computing it is being computed
        again by Dask: that unit is waited for too (until ``timeout``).
        """
        from distributed import wait
        from distributed.client import FuturesCancelledError

        deadline = None if timeout is None else time.monotonic() + timeout
        futures = list(self.futures.values())
        while True:
            try:
                wait(futures, timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except FuturesCancelledError:
                pass  # cancelled units are reported as such below
            if not any(future.status == "lost" for future in futures):
                return self.observations()

    def observations(self) -> dict[int, Observation]:
        """What is known now, without waiting: finished units' observations, the rest as failures.

        Results sent ahead (``execution/inbox.py``) are taken as they are; the others are
        fetched in one round trip."""
        observations: dict[int, Observation] = {}
        to_fetch = []
        sent_ahead: set[str] = set()
        for key, future in self.futures.items():
            if future.status == "finished":
                results = self.inbox.take(key)
                if results is None:
                    to_fetch.append(future)
                else:
                    observations.update(results)
                    sent_ahead.add(key)
                continue
            cause = _future_error(future) if future.status != "pending" else "cancelled before it finished"
            for task_id, producer in self.producer.items():
                if producer == key:
                    observations[task_id] = Observation(status="cancelled" if "cancelled" in cause else "failed", error=cause)
        if to_fetch:  # one round trip to the workers for all units, not one per unit
            for results in self.client.gather(to_fetch, errors="skip", direct=True):
                observations.update(results)
        observations.update(self._answered)
        if self.unit_plan.carried:
            self._read_carried(observations, sent_ahead)
        self._learn_cpu(observations)
        if self._to_cache:
            self._put_in_cache(observations)
        return observations

    def _read_carried(self, observations: dict[int, Observation], sent_ahead: set[str]) -> None:
        """Give each shared call's observation its task id in this run (it came under the id it has in
        its unit), drop those other ids, and stop sharing a call that failed (a later run tries again).
        A call that succeeded in a unit whose results were small enough to be sent ahead is settled:
        its entry keeps the observation, so the cluster can forget the unit (``SharedCalls.settle``)."""
        for task_id, carried_id in self.unit_plan.carried.items():
            obs = observations.get(carried_id)
            if obs is None:
                continue
            observations[task_id] = obs
            unit = self.producer[task_id]
            if obs.status == "failed":
                self.shared_calls.discard(self._identities[task_id], unit)
            elif obs.ok and unit in sent_ahead:
                self.shared_calls.settle(self._identities[task_id], unit, obs)
        for carried_id in set(self.unit_plan.carried.values()):
            observations.pop(carried_id, None)

    def _put_in_cache(self, observations: dict[int, Observation]) -> None:
        """Put the results of this run's finished calls of ``cache_ttl`` tools in the result cache (a
        call another run shared is put by that run)."""
        for task_id, key in list(self._to_cache.items()):
            obs = observations.get(task_id)
            if obs is None or obs.status == "cancelled":
                continue
            del self._to_cache[task_id]
            if obs.ok and task_id not in self.sources:
                tool = self.tasks[task_id].tool
                self.result_cache.put(key, tool, obs.value, self.toolset[tool].signature.cache_ttl)

    def _learn_cpu(self, observations: dict[int, Observation]) -> None:
        """Hand the CPU time of the blocking calls that succeeded to the toolset, which learns from it
        which tools compute (``Toolset.observe_cpu``: the plans that follow keep their calls apart).
        Batched calls are left out: their time is the batch's, not one call's."""
        measured = []
        for task_id, obs in observations.items():
            if obs.cpu is None or obs.cpu_window is None or not obs.ok or task_id in self._cpu_learned:
                continue
            if task_id in self.sources:  # another run's call: that run learns from it
                continue
            task = self.tasks.get(task_id)
            if task is None or task.batch_of:
                continue
            self._cpu_learned.add(task_id)
            measured.append((task.tool, obs.cpu, obs.cpu_window))
        if measured:
            self.toolset.observe_cpu(measured)

    def ask_reschedules(self) -> None:
        """Ask the scheduler for the reschedule counts of this attempt's units, on the client's
        event loop, without waiting for the answer (``reschedules()`` reads it). The run loop
        asks once the observations are in and the joiner is about to start: asked earlier, the
        query's message competes with collecting the observations for this process's GIL."""
        self._reschedule_query = None
        query = reschedule_counts(self.client, list(self.futures))
        if query is None:
            return
        try:
            self._reschedule_query = asyncio.run_coroutine_threadsafe(query, self.client.loop.asyncio_loop)
        except RuntimeError:  # the client is closed (the run was killed): nothing to ask
            query.close()

    def reschedules(self) -> dict[str, int]:
        """Unit key -> times a worker died while running it (Dask ran it again, or gave up with
        ``KilledWorker``), as the scheduler counts them now or counted at the last
        ``ask_reschedules()``; ``{}`` when the scheduler could not say (the tool-level attempts
        still stand)."""
        if self._reschedule_query is None:
            self.ask_reschedules()
        query = self._reschedule_query
        if query is None:
            return {}
        try:
            return query.result(timeout=RESCHEDULE_QUERY_S)
        except Exception:
            return {}

    def cancel(self) -> None:
        """Cancel the units still pending or running; finished ones keep their observations. Shared
        calls (``shared_calls``) go on for the other runs that read them, and for later ones."""
        unfinished = {
            key: future
            for key, future in self.futures.items()
            if future.status != "finished" and key not in self._shared_units
        }
        if unfinished:
            self.inbox.forget(list(unfinished))
            self.client.cancel(list(unfinished.values()), force=True)

    def release(self) -> None:
        """Drop this iteration's futures (Dask frees their results) and anything sent ahead for them.

        Each future is released now rather than when Python frees it: a traceback caught
        while waiting (Dask's ``sync`` keeps its exception in a reference cycle) can hold
        the futures until the cyclic collector runs, minutes later in a long-lived process."""
        if self.futures:
            self.inbox.forget(list(self.futures))
        for future in self.futures.values():
            future.release()
        self.futures = {}

    def reset(self) -> None:
        """Cancel everything dispatched so far (but the shared calls, which are only let go) and start
        a fresh attempt (a replanned plan)."""
        if self.futures:
            self.inbox.forget(list(self.futures))
            own = [future for key, future in self.futures.items() if key not in self._shared_units]
            if own:
                self.client.cancel(own, force=True)
            for key in self._shared_units & self.futures.keys():
                self.futures[key].release()
        self.futures.clear()
        self.unit_plan.clear()
        self._cpu_learned.clear()
        self.sources.clear()
        self._answered.clear()
        self._to_cache.clear()
        self._shared_units.clear()
        self._identities.clear()
        self.queued.clear()
        self.first_dispatch = None
        self._reschedule_query = None
        self.attempt = new_attempt()

    # reporting (built by ``execution/records.py`` from what this dispatcher knows) ----------
    def records(
        self, observations: dict[int, Observation], graph: TaskGraph, *, with_reschedules: bool = True
    ) -> list[TaskRecord]:
        """``records.task_records`` of this dispatcher's units, in plan order. With
        ``with_reschedules`` Dask's reschedules are counted in; without, only the tool's own tries,
        until ``add_reschedules`` (so the scheduler's answer need not be waited for before the
        joiner starts)."""
        records = task_records(observations, graph, producer=self.producer, queued=self.queued, sources=self.sources)
        if with_reschedules:
            self.add_reschedules(records)
        return records

    def add_reschedules(self, records: list[TaskRecord]) -> None:
        """Count Dask's reschedules into the attempts of ``records`` (all but those left pending)."""
        count_reschedules(records, self.reschedules())


def _merge_resources(resource_sets: Iterable[dict[str, float]]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for resources in resource_sets:
        for name, amount in resources.items():
            merged[name] = max(merged.get(name, 0), amount)
    return merged


def _future_error(future: Any) -> str:
    if future.status == "cancelled":
        return "cancelled"
    try:
        exc = future.exception(timeout=1)
    except Exception as err:  # the future itself could not be read
        return f"{type(err).__name__}: {err}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else f"ended as {future.status}"
