"""Critical-path priorities: the longest chain of estimated work starts first.

A task's priority is the largest sum of tool cost estimates (``Task.cost``,
seconds) along any path from the task to a sink, itself included, in
milliseconds as an int (Dask runs higher priorities first). One pass backwards
over the tasks in dependency order: linear in tasks plus references.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping

from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.plan.signature import ToolSignature

#: priority units per second of estimated cost
SCALE = 1000
_LONGEST = 10**9  # seconds: bounds an absurd or infinite estimate


def priorities(graph: TaskGraph, catalogue: Mapping[str, ToolSignature]) -> TaskGraph:
    """Prioritize each task by the estimated work on its longest path to a sink (ms).

    Example:
        1. search("a")        1. search("a")    # priority 2500
        2. llm($1)       ->   2. llm($1)        # priority 2000
        3. search("b")        3. search("b")    # priority 510
        4. math($3)           4. math($3)       # priority 10
    """
    tasks = graph.tasks
    # backwards, a task comes after every task that reads it: its longest path is final when it is
    # reached, and it raises the longest path below each task it reads (no list of readers is built)
    below: dict[int, float] = {}  # task id -> longest path among the tasks that read it, so far
    longest: dict[int, float] = {}
    for task in reversed(tasks.values()):
        total = longest[task.id] = _cost(task.cost) + below.get(task.id, 0.0)
        for dep in task.deps:
            upstream = dep if dep in tasks else graph.resolve(dep)
            if upstream in tasks and upstream != task.id and below.get(upstream, 0.0) < total:
                below[upstream] = total
    updated = {
        task_id: task if task.priority == (p := round(longest[task_id] * SCALE)) else task.with_(priority=p)
        for task_id, task in tasks.items()
    }
    return replace(graph, tasks=updated)


def _cost(cost: float) -> float:
    if not isinstance(cost, (int, float)) or math.isnan(cost) or cost <= 0:
        return 0.0
    return min(float(cost), _LONGEST)
