"""Fusion: group tool calls into execution units, so one Dask task runs several calls.

Every Dask task costs a few milliseconds of scheduling, messaging and result
transfer; for calls of 5 to 100 ms that is most of the overhead. This pass sets
``graph.units`` (the dispatcher turns each unit into one Dask task, which runs
its calls as a dataflow: a call starts the moment its inputs inside the unit are
done, ready calls run concurrently, and each keeps its own start and stop).
Three rules and one exception, all chosen so that no call starts later than it
would alone, except that a unit hands its results over together (a consumer of
one sibling waits for the group, hence similar cost estimates):

* **Siblings.** Calls without ``resources`` that need exactly the same units
  (the same upstream Dask tasks) and have a similar cost estimate (within a
  factor of two) join one unit, as long as they wait without holding a core:
  coroutine tools (``ToolSignature.is_async``), up to ``MAX_ASYNC_GROUP`` per
  unit; blocking calls declared to wait on I/O (``ToolSignature.blocking_io``),
  up to ``MAX_THREAD_GROUP`` per unit, each on a thread of its own; or short
  blocking calls (cost up to ``SHORT_S``) up to ``SHORT_BUDGET_S`` of estimated
  work per unit, unless they are CPU-bound. Coroutine and blocking-I/O calls
  form separate groups: a unit made only of coroutine calls runs on the
  worker's event loop without taking a worker thread, and one blocking call
  would cost it that. Other long blocking calls stay alone, since the pass
  cannot tell their waiting from computing: worker processes run them in
  parallel. Calls with resources stay alone so that each holds its own slot (a
  GPU slot is never shared by two calls of one unit), and batched calls are
  never grouped as coroutine or blocking-I/O calls.
* **CPU-bound calls stay alone** (``ToolSignature.cpu_bound``: declared by the
  tool, or learned by its ``Toolset`` once its calls measured mostly CPU time
  on the workers). Siblings of one unit share one worker process and take turns
  at its interpreter lock: a unit of computing calls runs them one after
  another, where apart Dask spreads them over worker processes. So fusion never
  makes such a plan slower than the same plan unfused. They still join chains:
  a chain's calls run one after another anyway.
* **Chains.** A unit whose results are read by exactly one other unit fuses
  into it when that unit waits for nothing the first did not already wait for,
  and both need the same resources. Neither could start earlier apart, and a
  GPU chain keeps its slot from call to call.
* **Coroutine islands.** A connected part of the plan (calls linked by
  references, directly or not) made only of coroutine calls without resources
  is an island: nothing outside it waits for it or feeds it. Islands are packed
  into units of up to ``MAX_ISLAND`` calls (an island is never split; a larger
  one is left to the other rules): no call waits for anything but its own
  inputs, and the islands cost one Dask task (their calls wait on one event loop).
  Blocking-I/O calls make no islands: an island may hold thousands of calls,
  and each of those would hold a thread.

Islands and siblings are grouped in plan order, so a unit only ever depends on
units created before it (an island on none), and chain fusion merges a unit into
its only consumer; the unit graph stays acyclic. Linear in tasks plus references
(up to set unions).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping

from llmcompiler_provider.plan.ir import Task, TaskGraph
from llmcompiler_provider.plan.signature import ToolSignature

#: a blocking call at most this long (estimated seconds) may share a unit with siblings
SHORT_S = 0.05
#: estimated seconds of blocking calls one unit may hold
SHORT_BUDGET_S = 0.1
#: coroutine calls one unit of siblings may hold
MAX_ASYNC_GROUP = 512
#: blocking-I/O calls one unit of siblings may hold. Each holds a thread of the unit while it waits
#: (``execution.dataflow`` sizes its pool to this), which is cheap but not free: 64 covers a planner's
#: widest fan-outs in one Dask task, and a wider one is split into units that Dask places on
#: different workers, so the Python work around each wait (building requests, parsing replies,
#: under one interpreter lock per process) is still spread over processes.
MAX_THREAD_GROUP = 64
#: what one unit of siblings of each kind may hold: seconds of estimated work (short) or calls
_GROUP_LIMIT = {"short": SHORT_BUDGET_S, "async": MAX_ASYNC_GROUP, "blocking_io": MAX_THREAD_GROUP}
#: coroutine calls one unit of islands may hold (a larger island is split by the other rules)
MAX_ISLAND = 5000


def fusion(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    """Group the calls into execution units, each run by one Dask task.

    Below, ``llm`` needs a GPU slot and ``rank`` is ``cpu_bound``: each of their calls stays a unit.

    Example:
        1. math("a")               1. math("a")
        2. math("b")               2. math("b")
        3. search([$1, $2])   ->   3. search([$1, $2])
        4. llm($3)                 4. llm($3)
        5. rank("x", [$3])         5. rank("x", [$3])
        6. rank("y", [$3])         6. rank("y", [$3])
                                   # one Dask task: 1, 2, 3
    """
    if not graph.tasks:
        return graph
    producers = _producers(graph)
    kinds = _kinds(graph, catalogue)
    coroutines = any(kind == "async" for kind, _ in kinds.values())
    islands = _coroutine_islands(graph, producers, kinds) if coroutines else {}
    units, upstream = _siblings(graph, producers, kinds, islands)
    return replace(graph, units=_fuse_chains(graph, units, upstream))


def _producers(graph: TaskGraph) -> dict[int, list[int]]:
    """The tasks of this graph each task reads from (batch members resolved; earlier plans' ids dropped)."""
    tasks = graph.tasks
    resolved: dict[int, int] = {}
    out: dict[int, list[int]] = {}
    for task in tasks.values():
        found = []
        for dep in task.deps:
            if dep not in tasks:
                target = resolved.get(dep)
                dep = target if target is not None else resolved.setdefault(dep, graph.resolve(dep))
            if dep in tasks and dep != task.id:
                found.append(dep)
        out[task.id] = found
    return out


def _kinds(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> dict[int, tuple[str | None, int]]:
    """Each task's (kind, cost class), classified once per (tool, cost, resources?, batch?)."""
    by_shape: dict[tuple, tuple[str | None, int]] = {}
    out = {}
    for task in graph.tasks.values():
        shape = (task.tool, task.cost, bool(task.resources), bool(task.batch_of))
        found = by_shape.get(shape)
        out[task.id] = found if found is not None else by_shape.setdefault(shape, _classify(task, catalogue))
    return out


def _siblings(
    graph: TaskGraph,
    producers: dict[int, list[int]],
    kinds: dict[int, tuple[str | None, int]],
    islands: dict[int, int],
) -> tuple[list[list[int]], list[set[int]]]:
    """Units after packing islands and grouping siblings, and each unit's upstream units
    (tasks come in dependency order)."""
    units: list[list[int]] = []
    upstream: list[set[int]] = []
    load: list[float] = []  # per unit: estimated seconds (short calls) or calls (coroutines, blocking I/O)
    unit_of: dict[int, int] = {}
    open_group: dict[tuple, int] = {}  # (upstream units, kind, cost class) -> unit still taking members
    island_unit: dict[int, int] = {}  # island unit number -> unit
    for task in graph.tasks.values():
        island = islands.get(task.id)
        if island is not None:
            index = island_unit.get(island)
            if index is not None:
                units[index].append(task.id)
                unit_of[task.id] = index
                continue
            island_unit[island] = len(units)
        sources = {unit_of[p] for p in producers[task.id]}
        kind, cost_class = kinds[task.id]
        weight = 0.0
        if kind is not None and island is None:
            key = (frozenset(sources), kind, cost_class)
            weight = task.cost if kind == "short" else 1.0
            index = open_group.get(key)
            if index is not None and load[index] + weight <= _GROUP_LIMIT[kind]:
                units[index].append(task.id)
                load[index] += weight
                unit_of[task.id] = index
                continue
            open_group[key] = len(units)
        unit_of[task.id] = len(units)
        units.append([task.id])
        upstream.append(sources)
        load.append(weight)
    return units, upstream


def _coroutine_islands(
    graph: TaskGraph, producers: dict[int, list[int]], kinds: dict[int, tuple[str | None, int]]
) -> dict[int, int]:
    """Task id -> island unit number, for connected parts of the plan made only of coroutine calls
    without resources (islands), packed in plan order into units of up to ``MAX_ISLAND`` calls."""
    parent = {task_id: task_id for task_id in graph.tasks}

    def root(task_id: int) -> int:
        while parent[task_id] != task_id:
            parent[task_id] = parent[parent[task_id]]
            task_id = parent[task_id]
        return task_id

    for task_id, sources in producers.items():
        for source in sources:
            a, b = root(source), root(task_id)
            if a != b:
                parent[a] = b
    roots = {task_id: root(task_id) for task_id in graph.tasks}
    size: dict[int, int] = {}
    mixed: set[int] = set()
    for task_id, r in roots.items():
        size[r] = size.get(r, 0) + 1
        if kinds[task_id][0] != "async":
            mixed.add(r)
    bin_of: dict[int, int] = {}  # island root -> bin, islands packed in plan order
    bins: list[int] = []  # calls per bin
    out: dict[int, int] = {}
    for task_id, r in roots.items():
        if r in mixed or size[r] > MAX_ISLAND:
            continue
        if r not in bin_of:
            if not bins or bins[-1] + size[r] > MAX_ISLAND:
                bins.append(0)
            bin_of[r] = len(bins) - 1
            bins[-1] += size[r]
        out[task_id] = bin_of[r]
    return out


def _classify(task: Task, catalogue: Mapping[str, ToolSignature]) -> tuple[str | None, int]:
    """(``async``, ``blocking_io`` or ``short`` for calls that may share a unit with siblings, else None;
    cost class)."""
    cost_class = math.floor(math.log2(task.cost * 1000)) if task.cost > 0 and math.isfinite(task.cost) else -1
    if task.resources:
        return None, cost_class
    signature = catalogue.get(task.tool)
    if signature is not None and signature.cpu_bound:  # it would take turns at one interpreter lock
        return None, cost_class
    if signature is not None and not task.batch_of:
        if signature.is_async:
            return "async", cost_class
        if signature.blocking_io:  # holds a thread while it waits, not a core
            return "blocking_io", cost_class
    return ("short" if 0 <= task.cost <= SHORT_S else None), cost_class


def _fuse_chains(graph: TaskGraph, units: list[list[int]], upstream: list[set[int]]) -> list[tuple[int, ...]]:
    downstream: list[set[int]] = [set() for _ in units]
    for index, sources in enumerate(upstream):
        for source in sources:
            downstream[source].add(index)
    resources = [_resources(graph, members) for members in units]  # equal when merged: never recomputed
    alive = [True] * len(units)
    for index in range(len(units)):  # units come in dependency order
        if len(downstream[index]) != 1:
            continue
        (consumer,) = downstream[index]
        others = upstream[consumer] - {index}
        if not others <= upstream[index] or resources[consumer] != resources[index]:
            continue
        # the consumer absorbs this unit and keeps its place (after every unit it needs); extending the
        # absorbed (often long) list in place keeps a long chain linear, members are sorted at the end
        units[index].extend(units[consumer])
        units[consumer] = units[index]
        upstream[consumer] = others | upstream[index]
        for source in upstream[index]:
            downstream[source].discard(index)
            downstream[source].add(consumer)
        alive[index] = False
    position = {task_id: i for i, task_id in enumerate(graph.tasks)}.__getitem__
    return [tuple(sorted(members, key=position)) for index, members in enumerate(units) if alive[index]]


def _resources(graph: TaskGraph, members: list[int]) -> tuple:
    """The merged resources of a unit, as the dispatcher merges them."""
    tasks = graph.tasks
    merged: dict[str, float] = {}
    for task_id in members:
        for name, amount in tasks[task_id].resources.items():
            merged[name] = max(merged.get(name, 0), amount)
    return tuple(sorted(merged.items())) if merged else ()
