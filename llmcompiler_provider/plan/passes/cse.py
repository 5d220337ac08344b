"""Common-subexpression elimination: identical pure calls run once.

Two tasks are identical when they call the same tool with equal arguments
(``ir.call_key``: compared with their types, so ``1``, ``1.0`` and ``True``
differ, and after earlier duplicates were replaced, so ``f($1)`` and ``f($2)``
match when task 2 duplicated task 1). The later task is dropped,
``graph.aliases`` maps its id to the first one, and references to it are
rewritten. Tools with side effects (``pure=False``) and batch tasks are never
merged.

``Merger`` does this one task at a time, so it serves a plan that is still
being written as well as a finished graph: the ``cse`` pass runs it over a
graph's tasks, and ``PlanStream`` on each task as its line completes, before
the task is dispatched (a duplicate is never dispatched: its id becomes an
alias at once).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from llmcompiler_provider.plan.ir import Ref, Task, TaskGraph, call_key, map_refs, units_without
from llmcompiler_provider.plan.signature import ToolSignature


def cse(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    """Merge identical pure calls into the first of them.

    Example:
        1. search("x")                  1. search("x")
        2. search("x")             ->   3. math("sum", [$1, $1])
        3. math("sum", [$1, $2])        # $2 is $1
    """
    aliases = dict(graph.aliases)
    merger = Merger(aliases)
    tasks: dict[int, Task] = {}
    for task in graph.tasks.values():
        kept = merger.merge(task)
        if kept is not None:
            tasks[kept.id] = kept
    if not merger.replaced:
        return graph
    return replace(graph, tasks=tasks, aliases=aliases, units=units_without(graph.units, merger.replaced))


class Merger:
    """Common-subexpression elimination one task at a time, tasks in dependency order.

    ``merge(task)`` returns the task to keep, its references to merged tasks
    rewritten to the tasks that stand for them, or None when the task repeats an
    earlier pure call: its id then maps to that call's id in ``aliases`` (the
    dict given, which the caller owns) and in ``replaced``.
    """

    __slots__ = ("aliases", "replaced", "_first_of")

    def __init__(self, aliases: dict[int, int]) -> None:
        self.aliases = aliases
        self.replaced: dict[int, int] = {}  # merged here: only these references are rewritten
        self._first_of: dict[tuple, int] = {}  # call key -> id of the first task making that call

    def merge(self, task: Task) -> Task | None:
        replaced = self.replaced
        if replaced and not replaced.keys().isdisjoint(task.deps):
            task = _rewritten(task, replaced)
        if task.pure and not task.batch_of:
            first = self._first_of.setdefault(call_key(task), task.id)
            if first != task.id:
                replaced[task.id] = self.aliases[task.id] = first
                return None
        return task


def _rewritten(task: Task, replaced: dict[int, int]) -> Task:
    def swap(ref: Ref) -> Ref:
        return Ref(replaced[ref.id]) if ref.id in replaced else ref

    new = task.with_(args=map_refs(task.args, swap), kwargs=map_refs(task.kwargs, swap))
    new.__dict__["deps"] = frozenset([replaced.get(d, d) for d in task.deps])  # seed Task.deps's cache
    return new
