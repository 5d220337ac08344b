"""Export a compiled plan as a plain Dask graph (a dict) that ``dask.get`` or any scheduler can run."""

from __future__ import annotations

from typing import Any

from llmcompiler_provider.execution.dataflow import run_unit
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.execution.tool_calls import Observation
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
    dispatcher = Dispatcher(client=None, toolset=toolset, run_id=run_id)
    dsk: dict[str, Any] = {}
    units = graph.units if graph.units is not None else [(tid,) for tid in graph.tasks]
    for unit in units:
        tasks = [graph.tasks[tid] for tid in unit]
        key, calls, upstream = dispatcher.plan_unit(tasks, graph)
        dsk[key] = (run_unit, calls, *upstream)
        dispatcher.register_unit(key, calls, tasks, queued=None)
    for task_id in sorted(set(graph.tasks) | set(graph.aliases)):
        target = dispatcher.reference_target(task_id, graph)
        dsk[task_key(task_id)] = (observation_value, dispatcher.producer[target], target)
    return dsk
