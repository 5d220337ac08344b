"""Fusion: group tool calls into execution units, so one Dask task runs several calls.

Every Dask task costs a few milliseconds of scheduling, messaging and result
transfer; for calls of 5 to 100 ms that is most of the overhead. This pass sets
``graph.units`` (the dispatcher turns each unit into one Dask task, which runs
its calls as a dataflow: a call starts the moment its inputs inside the unit are
done, ready calls run concurrently, and each keeps its own start and stop).
Two rules, both chosen so that no call starts later than it would alone, except
that a unit hands its results over together (a consumer of one sibling waits for
the group, hence similar cost estimates):

* **Siblings.** Calls without ``resources`` that need exactly the same units
  (the same upstream Dask tasks) and have a similar cost estimate (within a
  factor of two) join one unit, as long as they wait without holding a core:
  coroutine tools (``ToolSignature.is_async``), up to ``MAX_ASYNC_GROUP`` per
  unit, or short blocking calls (cost up to ``SHORT_S``) up to ``SHORT_BUDGET_S``
  of estimated work per unit (were they CPU-bound, a unit of them would run one
  after another). Long blocking calls stay alone so that worker processes run
  them in parallel, and calls with resources stay alone so that each holds its
  own slot (a GPU slot is never shared by two calls of one unit).
* **Chains.** A unit whose results are read by exactly one other unit fuses
  into it when that unit waits for nothing the first did not already wait for,
  and both need the same resources. Neither could start earlier apart, and a
  GPU chain keeps its slot from call to call.

Siblings are grouped in plan order, so a unit only ever depends on units
created before it, and chain fusion merges a unit into its only consumer; the
unit graph stays acyclic. Linear in tasks plus references (up to set unions).
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
#: coroutine calls one unit may hold
MAX_ASYNC_GROUP = 512


def run(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    if not graph.tasks:
        return graph
    units, upstream = _siblings(graph, catalogue)
    return replace(graph, units=_fuse_chains(graph, units, upstream))


def _siblings(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> tuple[list[list[int]], list[set[int]]]:
    """Units after grouping siblings, and each unit's upstream units (tasks come in dependency order)."""
    tasks = graph.tasks
    units: list[list[int]] = []
    upstream: list[set[int]] = []
    load: list[float] = []  # per unit: estimated seconds (blocking calls) or calls (coroutines)
    unit_of: dict[int, int] = {}
    open_group: dict[tuple, int] = {}  # (upstream units, kind, cost class) -> unit still taking members
    kinds: dict[tuple, tuple[str | None, int]] = {}
    for task in tasks.values():
        sources = set()
        for dep in task.deps:
            source = unit_of.get(dep)
            if source is None:
                source = unit_of.get(graph.resolve(dep))  # a batch member; None: an earlier plan's
            if source is not None:
                sources.add(source)
        shape = (task.tool, task.cost, bool(task.resources), bool(task.batch_of))
        kind, cost_class = kinds.get(shape) or kinds.setdefault(shape, _classify(task, catalogue))
        if kind is not None:
            key = (frozenset(sources), kind, cost_class)
            weight = 1.0 if kind == "async" else task.cost
            index = open_group.get(key)
            if index is not None and load[index] + weight <= (MAX_ASYNC_GROUP if kind == "async" else SHORT_BUDGET_S):
                units[index].append(task.id)
                load[index] += weight
                unit_of[task.id] = index
                continue
            open_group[key] = len(units)
        else:
            weight = 0.0
        unit_of[task.id] = len(units)
        units.append([task.id])
        upstream.append(sources)
        load.append(weight)
    return units, upstream


def _classify(task: Task, catalogue: Mapping[str, ToolSignature]) -> tuple[str | None, int]:
    """(``async`` or ``short`` for calls that may share a unit with siblings, else None; cost class)."""
    cost_class = math.floor(math.log2(task.cost * 1000)) if task.cost > 0 and math.isfinite(task.cost) else -1
    if task.resources:
        return None, cost_class
    signature = catalogue.get(task.tool)
    if signature is not None and signature.is_async and not task.batch_of:
        return "async", cost_class
    return ("short" if 0 <= task.cost <= SHORT_S else None), cost_class


def _fuse_chains(graph: TaskGraph, units: list[list[int]], upstream: list[set[int]]) -> list[tuple[int, ...]]:
    downstream: list[set[int]] = [set() for _ in units]
    for index, sources in enumerate(upstream):
        for source in sources:
            downstream[source].add(index)
    resources: dict[int, tuple] = {}
    alive = [True] * len(units)
    for index in range(len(units)):  # units come in dependency order
        if len(downstream[index]) != 1:
            continue
        (consumer,) = downstream[index]
        others = upstream[consumer] - {index}
        if not others <= upstream[index] or _resources(graph, units, resources, consumer) != _resources(
            graph, units, resources, index
        ):
            continue
        # the consumer absorbs this unit and keeps its place (after every unit it needs)
        units[consumer] = units[index] + units[consumer]
        upstream[consumer] = others | upstream[index]
        for source in upstream[index]:
            downstream[source].discard(index)
            downstream[source].add(consumer)
        alive[index] = False
    position = {task_id: i for i, task_id in enumerate(graph.tasks)}.__getitem__
    return [tuple(sorted(members, key=position)) for index, members in enumerate(units) if alive[index]]


def _resources(graph: TaskGraph, units: list[list[int]], cache: dict[int, tuple], index: int) -> tuple:
    """The merged resources of a unit (as the dispatcher merges them), computed once per unit state."""
    found = cache.get(index)
    if found is None or found[0] != len(units[index]):
        merged: dict[str, float] = {}
        for task_id in units[index]:
            for name, amount in graph.tasks[task_id].resources.items():
                merged[name] = max(merged.get(name, 0), amount)
        found = cache[index] = (len(units[index]), tuple(sorted(merged.items())))
    return found[1]
