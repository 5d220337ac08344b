"""Dead-task elimination: pure tasks whose results reach no output are removed.

With ``graph.outputs`` set (the ids the joiner observes), a task is live when it
is an output, has side effects (``pure=False``: always kept, with everything it
needs), or feeds a live task. ``outputs`` of ``None`` means every result is
observed, so nothing is dead. Aliases whose target is removed go too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from llmcompiler_provider.plan.ir import TaskGraph, units_without
from llmcompiler_provider.plan.signature import ToolSignature


def dce(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    """Remove the pure tasks whose results reach no observed output.

    Example:
        1. search("a")              1. search("a")
        2. search("b")         ->   3. math("sum", [$1])
        3. math("sum", [$1])        4. notify("done")
        4. notify("done")
        # observed: $3
    """
    if graph.outputs is None:
        return graph
    tasks = graph.tasks
    stack = [graph.resolve(i) for i in graph.outputs]
    stack.extend(task.id for task in tasks.values() if not task.pure)
    live: set[int] = set()
    while stack:
        task_id = stack.pop()
        if task_id in live or task_id not in tasks:
            continue
        live.add(task_id)
        stack.extend(dep if dep in tasks else graph.resolve(dep) for dep in tasks[task_id].deps)
    if len(live) == len(tasks):
        return graph
    dead = {i for i in tasks if i not in live}
    return replace(
        graph,
        tasks={i: task for i, task in tasks.items() if i in live},
        aliases={i: target for i, target in graph.aliases.items() if graph.resolve(i) in live},
        units=units_without(graph.units, dead),
    )
