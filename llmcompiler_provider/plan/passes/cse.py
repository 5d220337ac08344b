"""Common-subexpression elimination: identical pure calls run once.

Two tasks are identical when they call the same tool with equal arguments
(compared with their types, so ``1``, ``1.0`` and ``True`` differ, and after
earlier duplicates were replaced, so ``f($1)`` and ``f($2)`` match when task 2
duplicated task 1). The later task is dropped, ``graph.aliases`` maps its id to
the first one, and references to it are rewritten. Tools with side effects
(``pure=False``) and batch tasks are never merged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from llmcompiler_provider.plan.ir import Interp, Ref, Task, TaskGraph, map_refs
from llmcompiler_provider.plan.signature import ToolSignature


def call_key(task: Task) -> tuple:
    """A hashable key equal for two tasks exactly when they make the same call."""
    args = _frozen(task.args) if task.args else ()
    # keyword names are strings: only the values need freezing
    kwargs = [(name, v if v.__class__ is str else _frozen(v)) for name, v in task.kwargs.items()]
    return (task.tool, args, *kwargs)


def _frozen(value: Any) -> Any:
    """``value`` as a hashable that equals another's only for the same types and values.

    Built of strings and tuples only, so hashing and comparing it runs in C: a
    string stands for itself, anything else becomes a tuple tagged with its type
    (``1 == 1.0 == True`` in Python, and ``Ref``/``Interp`` hash in Python code).
    """
    kind = value.__class__
    if kind is str:
        return value
    if kind is Ref:
        return (Ref, value.id)
    if kind is float:
        return (float, repr(value))  # 0.0 and -0.0 stay apart
    if kind is dict:
        return (dict, tuple([(_frozen(k), v if v.__class__ is str else _frozen(v)) for k, v in value.items()]))
    if kind is list or kind is tuple:
        return (kind, tuple([v if v.__class__ is str else _frozen(v) for v in value]))
    if kind is Interp:
        return (Interp, tuple([p if p.__class__ is str else (Ref, p.id) for p in value.parts]))
    return (kind, value)  # int, bool, None


def cse(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    tasks: dict[int, Task] = {}
    aliases = dict(graph.aliases)
    replaced: dict[int, int] = {}
    first_of: dict[tuple, int] = {}
    for task in graph.tasks.values():
        if replaced and any(dep in replaced for dep in task.deps):
            task = _rewritten(task, replaced)
        if task.pure and not task.batch_of:
            key = call_key(task)
            first = first_of.get(key)
            if first is not None:
                replaced[task.id] = aliases[task.id] = first
                continue
            first_of[key] = task.id
        tasks[task.id] = task
    if not replaced:
        return graph
    units = _without(graph.units, replaced)
    return replace(graph, tasks=tasks, aliases=aliases, units=units)


def _rewritten(task: Task, replaced: dict[int, int]) -> Task:
    def swap(ref: Ref) -> Ref:
        return Ref(replaced[ref.id]) if ref.id in replaced else ref

    new = task.with_(args=map_refs(task.args, swap), kwargs=map_refs(task.kwargs, swap))
    new.__dict__["deps"] = frozenset([replaced.get(d, d) for d in task.deps])  # seed Task.deps's cache
    return new


def _without(units: list[tuple[int, ...]] | None, removed: Mapping[int, Any]) -> list[tuple[int, ...]] | None:
    if units is None:
        return None
    kept = [tuple(i for i in unit if i not in removed) for unit in units]
    return [unit for unit in kept if unit]
