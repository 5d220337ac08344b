"""A plan's execution units as tool calls, and which unit produces each task's observation.

No Dask client is needed here: the dispatcher (``execution/dispatch.py``) submits the units
planned with a ``UnitPlan``, and ``execution/dask_graph.py`` writes them into a plain Dask graph.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_provider.execution.tool_calls import Call
from llmcompiler_provider.plan.ir import Ref, Task, TaskGraph, map_refs
from llmcompiler_provider.tools.registry import Toolset


def unit_key(run_id: str, attempt: str, iteration: int, tasks: list[Task]) -> str:
    """``tool-run-iteration-ids-attempt``: readable on the dashboard, unique per dispatch attempt."""
    tools = "+".join(sorted({t.tool for t in tasks}))
    ids = "_".join(str(t.id) for t in tasks[:4]) + ("_etc" if len(tasks) > 4 else "")
    return f"{tools}-{run_id[:12]}-{iteration}-{ids}-{attempt}"


def new_attempt() -> str:
    """A fresh attempt id for ``unit_key``: units dispatched again (a replanned plan) get new keys."""
    return uuid.uuid4().hex[:6]


def graph_units(graph: TaskGraph) -> list[list[Task]]:
    """The graph's execution units, in order: its fused units, or each task a unit of its own."""
    units = graph.units if graph.units is not None else [(task_id,) for task_id in graph.tasks]
    return [[graph.tasks[task_id] for task_id in unit] for unit in units]


@dataclass
class UnitPlan:
    """The units planned so far: the calls of each, and the unit key producing each task id.

    Two kinds of task are answered otherwise than by a unit of this plan's own: a call shared with
    another run of the batch (``carry``: its result carries another id, in another run's unit) and
    a result the cache knew (``give``: no unit at all; the calls reading it get the value itself)."""

    toolset: Toolset
    producer: dict[int, str] = field(default_factory=dict)  # task id -> key of the unit producing it
    tasks: dict[int, Task] = field(default_factory=dict)
    #: task id -> the id its observation has in its unit's results, where they differ (a shared call)
    carried: dict[int, int] = field(default_factory=dict)
    #: task id -> its result, known without a unit (a cache hit)
    given: dict[int, Any] = field(default_factory=dict)

    def call(self, task: Task, graph: TaskGraph) -> Call:
        """``task`` as the call its unit carries, its references pointing at the observations they read
        (or replaced by the result itself, when that is known already)."""
        tool = self.toolset[task.tool]
        fn = tool.batch_fn if task.batch_of else tool.fn
        if fn is None:
            raise ValueError(f"task {task.id}: tool {task.tool!r} has no batch implementation")

        targets = {d: self.reference_target(d, graph) for d in task.deps}
        args, kwargs = task.args, task.kwargs
        # only then rebuild the arguments
        if any(d != t or t in self.carried or t in self.given for d, t in targets.items()):

            def resolve(ref: Ref) -> Any:
                target = targets.get(ref.id, ref.id)
                if target in self.given:
                    return self.given[target]
                return Ref(self.carried.get(target, target))

            args, kwargs = map_refs(task.args, resolve), map_refs(task.kwargs, resolve)
        deps = frozenset(self.carried.get(t, t) for t in targets.values() if t not in self.given)
        return Call(task.id, task.tool, fn, tuple(args), dict(kwargs), deps, task.timeout, task.retries, task.batch_of)

    def reference_target(self, task_id: int, graph: TaskGraph) -> int:
        """The id whose observation a reference reads: batch members have their own, CSE duplicates do not."""
        return task_id if task_id in self.producer or task_id in self.given else graph.resolve(task_id)

    def calls(self, tasks: list[Task], graph: TaskGraph) -> tuple[list[Call], list[str]]:
        """The calls of a unit about to be added, and the keys of the units it reads from."""
        calls = [self.call(t, graph) for t in tasks]
        inside = {c.task_id for c in calls} | {m for c in calls for m in c.batch_of}
        outside = {d for c in calls for d in c.deps if d not in inside}
        missing = sorted(d for d in outside if d not in self.producer)
        if missing:
            raise ValueError(f"task {tasks[0].id}: depends on ${missing[0]}, which was never dispatched")
        return calls, sorted({self.producer[d] for d in outside})

    def add(self, key: str, calls: list[Call], tasks: list[Task]) -> None:
        """Record unit ``key`` as the producer of its calls' observations."""
        for call in calls:
            self.producer[call.task_id] = key
            for member in call.batch_of:
                self.producer[member] = key
        for task in tasks:
            self.tasks[task.id] = task

    def carry(self, task: Task, key: str, carried_id: int) -> None:
        """Record that unit ``key`` (this plan's or another run's) produces ``task``'s observation
        under ``carried_id``."""
        self.producer[task.id] = self.producer[carried_id] = key
        self.carried[task.id] = carried_id
        self.tasks[task.id] = task

    def give(self, task: Task, value: Any, unit: str | None = None) -> None:
        """Record ``task``'s result, known without running it (``unit``: the key of the unit that
        computed it in another run, which its record names)."""
        self.given[task.id] = value
        self.tasks[task.id] = task
        if unit is not None:
            self.producer[task.id] = unit

    def clear(self) -> None:
        self.producer.clear()
        self.tasks.clear()
        self.carried.clear()
        self.given.clear()
