"""Derived figures of a run, computed from its task intervals.

Pure functions, no I/O. ``RunResult.fill_figures`` uses :func:`figures_for_plans` to fill
a run's ``Timings``.

Definitions (all in seconds, per run):

* *sum of task times*: the sum of every task's recorded duration (stop - start);
  what the tasks would take one after another.
* *execution wall*: for each plan iteration, the span from its first task start to
  its last task stop; iterations run one after another (the joiner sits between
  them), so a run's execution wall is the sum over its iterations.
* *critical path*: the longest chain of dependent tasks, weighted by their recorded
  durations; summed over iterations for the same reason.
* *speedup* = sum of task times / execution wall.
* *ideal speedup* = sum of task times / critical path (what unlimited workers give).
* *efficiency* = speedup / ideal speedup.
* *GPU-slot utilization* = busy GPU-slot-seconds / (GPU slots × execution wall).

Example: 4 independent tasks of 1 s on 2 workers: sum 4 s, wall 2 s, critical
path 1 s, speedup 2, ideal 4, efficiency 0.5.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

from llmcompiler_provider.plan.signature import GPU_RESOURCE

if TYPE_CHECKING:
    from llmcompiler_provider.results import PlanIteration, TaskRecord


@dataclass(frozen=True)
class Interval:
    """When one task ran, what it waited for, and how many GPU slots it held."""

    key: Hashable
    start: float | None
    stop: float | None
    deps: tuple[Hashable, ...] = ()
    gpu_slots: float = 0.0

    @property
    def ran(self) -> bool:
        return self.start is not None and self.stop is not None

    @property
    def duration(self) -> float:
        return max(0.0, self.stop - self.start) if self.ran else 0.0


@dataclass(frozen=True)
class TaskFigures:
    sum_task_s: float
    execution_wall_s: float
    critical_path_s: float
    speedup: float
    ideal_speedup: float
    efficiency: float
    gpu_slot_utilization: float | None


def sum_task_s(intervals: Iterable[Interval]) -> float:
    return sum(i.duration for i in intervals)


def execution_wall_s(intervals: Iterable[Interval]) -> float:
    """Span from the first task start to the last task stop (0 when nothing ran)."""
    ran = [i for i in intervals if i.ran]
    if not ran:
        return 0.0
    return max(i.stop for i in ran) - min(i.start for i in ran)  # type: ignore[type-var]


def critical_path_s(intervals: Iterable[Interval]) -> float:
    """Longest dependency chain weighted by recorded durations.

    Dependencies on tasks outside ``intervals`` are ignored; a cycle is an error.
    """
    by_key = {i.key: i for i in intervals}
    graph = {k: [d for d in i.deps if d in by_key] for k, i in by_key.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(f"task dependencies form a cycle: {exc.args[1]}") from None
    finish: dict[Hashable, float] = {}
    for key in order:
        finish[key] = max((finish[d] for d in graph[key]), default=0.0) + by_key[key].duration
    return max(finish.values(), default=0.0)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or 0 when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else 0.0


def busy_gpu_slot_s(intervals: Iterable[Interval]) -> float:
    return sum(i.duration * i.gpu_slots for i in intervals)


def gpu_slot_utilization(busy_slot_s: float, slots: float, wall_s: float) -> float | None:
    """Busy GPU-slot-seconds over available ones; None when the cluster has no GPU slots."""
    if slots <= 0:
        return None
    return ratio(busy_slot_s, slots * wall_s)


def compute_figures(iterations: Sequence[Sequence[Interval]], gpu_slots: float = 0) -> TaskFigures:
    """All figures for a run whose plan iterations ran one after another."""
    total = sum_task_s(i for it in iterations for i in it)
    wall = sum(execution_wall_s(it) for it in iterations)
    path = sum(critical_path_s(it) for it in iterations)
    speed = ratio(total, wall)
    ideal = ratio(total, path)
    busy = busy_gpu_slot_s(i for it in iterations for i in it)
    return TaskFigures(
        sum_task_s=total,
        execution_wall_s=wall,
        critical_path_s=path,
        speedup=speed,
        ideal_speedup=ideal,
        efficiency=ratio(speed, ideal),
        gpu_slot_utilization=gpu_slot_utilization(busy, gpu_slots, wall),
    )


def interval_of(task: TaskRecord) -> Interval:
    return Interval(
        key=task.id,
        start=task.start,
        stop=task.stop,
        deps=tuple(task.deps),
        gpu_slots=float(task.resources.get(GPU_RESOURCE, 0.0)),
    )


def figures_for_plans(plans: Iterable[PlanIteration], gpu_slots: float = 0) -> TaskFigures:
    """Figures for a run's plan iterations."""
    return compute_figures([[interval_of(t) for t in p.tasks] for p in plans], gpu_slots)


def replans(plans: Iterable[PlanIteration]) -> int:
    """Times the joiner asked for a new plan: plans that compiled, after the first. A plan the
    planner wrote again because the last one did not compile is a re-ask, not a replan."""
    return max(0, sum(1 for plan in plans if not plan.compile_errors) - 1)
