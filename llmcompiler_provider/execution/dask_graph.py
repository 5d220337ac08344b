"""Export a compiled plan as a plain Dask graph (a dict) that ``dask.get`` or any scheduler can run."""

from __future__ import annotations

from typing import Any

from llmcompiler_provider.execution.dataflow import run_unit
from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.execution.unit_plan import UnitPlan, graph_units, new_attempt, unit_key
from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.tools.registry import Toolset


def observation_value(results: dict[int, Observation], task_id: int) -> Any:
    """The value of one task's observation; a failed task raises with its cause."""
    obs = results[task_id]
    if not obs.ok:
        raise RuntimeError(f"task {task_id} {obs.status}: {obs.error}")
    return obs.value


def task_key(task_id: int) -> str:
    return f"task-{task_id}"


def to_dask_graph(graph: TaskGraph, toolset: Toolset, *, run_id: str = "graph") -> dict[str, Any]:
    """One key per execution unit (its value: the unit's observations), plus ``task-N`` keys
    holding each task's own result, e.g. ``dask.get(dsk, "task-3")``."""
    plan = UnitPlan(toolset)
    attempt = new_attempt()
    dsk: dict[str, Any] = {}
    for tasks in graph_units(graph):
        calls, upstream = plan.calls(tasks, graph)
        key = unit_key(run_id, attempt, 0, tasks)
        dsk[key] = (run_unit, calls, *upstream)
        plan.add(key, calls, tasks)
    for task_id in sorted(set(graph.tasks) | set(graph.aliases)):
        target = plan.reference_target(task_id, graph)
        dsk[task_key(task_id)] = (observation_value, plan.producer[target], target)
    return dsk
