"""Batching: independent calls to a ``batchable`` tool merge into one call.

Calls are independent when no path of references joins them. Finding that by
path search is quadratic, so this pass groups by *depth* instead: a task's
depth is one more than its deepest dependency's (0 without any). Tasks of equal
depth can never reach one another (every reference goes to a smaller depth),
and merging tasks of one depth keeps every edge going from a smaller depth to a
larger one, so batches never form a cycle, whatever tools are batched together.
Calls of the same tool at different depths are left apart (they would not be
ready at the same time anyway). Linear in tasks plus references.

The result, which the executor relies on:

* the batch task keeps the first member's id and fields (its ``priority`` is
  the members' highest), ``batch_of`` lists the members' ids in order, and
  ``kwargs == {"calls": [kwargs of each member, in batch_of order]}``; the tool's
  batch implementation returns one result per call, in that order;
* every other member's id maps to the batch id in ``graph.aliases``;
* references to members are left as they are (``$m`` still means member m's
  own result): the executor splits the batch's list back into one result per
  member id, and ``graph.resolve(m)`` finds the task that computes it;
* ``graph.tasks`` is reordered by depth, so dependencies still come first.

Calls that pass extra positional values (``Task.args``, for ``*args`` tools)
are not batched, since a batch carries keyword dicts only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from llmcompiler_provider.plan.ir import Task, TaskGraph, units_without
from llmcompiler_provider.plan.signature import ToolSignature


def batching(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    """Merge independent calls of a batchable tool into one call.

    Example:
        1. search("a")           1. search(calls=[{"query": "a"}, {"query": "b"}])  # batch of 1, 2
        2. search("b")      ->   3. search($1)
        3. search($1)            4. math($1, [$2])
        4. math($1, [$2])
    """
    depth = _depths(graph)
    groups: dict[tuple[str, int], list[Task]] = {}
    for task in graph.tasks.values():
        signature = catalogue.get(task.tool)
        if signature is not None and signature.batchable and not task.args and not task.batch_of:
            groups.setdefault((task.tool, depth[task.id]), []).append(task)
    batches = [members for members in groups.values() if len(members) > 1]
    if not batches:
        return graph
    tasks = dict(graph.tasks)
    aliases = dict(graph.aliases)
    merged: dict[int, int] = {}
    for members in batches:
        batch = _batch_task(members)
        tasks[batch.id] = batch
        for member in members[1:]:
            del tasks[member.id]
            merged[member.id] = aliases[member.id] = batch.id
    by_depth: dict[int, list[int]] = {}
    for task_id in tasks:
        by_depth.setdefault(depth[task_id], []).append(task_id)
    ordered = {task_id: tasks[task_id] for level in sorted(by_depth) for task_id in by_depth[level]}
    return replace(graph, tasks=ordered, aliases=aliases, units=units_without(graph.units, merged))


def _depths(graph: TaskGraph) -> dict[int, int]:
    """Each task's depth (tasks iterate in dependency order; outside ids count as depth -1)."""
    depth: dict[int, int] = {}
    for task in graph.tasks.values():
        deepest = -1
        for dep in task.deps:
            d = depth.get(dep)
            if d is None and dep in graph.aliases:
                d = depth.get(graph.resolve(dep))
            if d is not None and d > deepest:
                deepest = d
        depth[task.id] = deepest + 1
    return depth


def _batch_task(members: list[Task]) -> Task:
    first = members[0]
    timeouts = [m.timeout for m in members]
    return first.with_(
        kwargs={"calls": [dict(m.kwargs) for m in members]},
        batch_of=tuple(m.id for m in members),
        priority=max(m.priority for m in members),
        retries=max(m.retries for m in members),
        timeout=None if None in timeouts else max(timeouts),
        pure=all(m.pure for m in members),
        cost=max(m.cost for m in members),
    )
