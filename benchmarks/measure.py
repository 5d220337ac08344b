"""From recorded call intervals to the figures the suite reports."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from benchmarks.executors.base import CallInterval
from benchmarks.replay import join_arrival, line_arrivals
from benchmarks.tools import GPU_SLOT_PATTERN
from llmcompiler_provider.execution.cluster import GPU_RESOURCE
from llmcompiler_provider.figures import Interval, critical_path_s
from llmcompiler_provider.plan.ir import TaskGraph


def critical_path(graph: TaskGraph, calls: Sequence[CallInterval]) -> float:
    """The longest chain of dependent calls, weighted by the durations this run measured."""
    by_id = {c.task_id: c for c in calls}
    return critical_path_s(
        Interval(t.id, by_id[t.id].start, by_id[t.id].stop, tuple(t.deps)) for t in graph.tasks.values() if t.id in by_id
    )


def streamed_bound(graph: TaskGraph, calls: Sequence[CallInterval], plan: str, tokens_per_s: float) -> float:
    """The physical limit when the plan streams: no call starts before its line has arrived
    nor before its inputs are done, and the plan is known to be complete only when its
    ``join()`` line has arrived; durations as measured, dispatch free."""
    arrivals = line_arrivals(plan, tokens_per_s)
    ended = join_arrival(plan, tokens_per_s)
    by_id = {c.task_id: c for c in calls}
    finish: dict[int, float] = {}
    for task in graph.tasks.values():
        arrived = arrivals[task.span.line - 1] if task.span and task.span.line <= len(arrivals) else 0.0
        ready = max([arrived, *(finish.get(d, 0.0) for d in task.deps)])
        call = by_id.get(task.id)
        finish[task.id] = ready + (call.stop - call.start if call else 0.0)
    return max([ended, *finish.values()])


def gpu_peak_sharing(calls: Iterable[CallInterval]) -> int | None:
    """The most GPU calls that ever ran on one (simulated) slot at once, from their intervals."""
    by_slot: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for call in calls:
        match = GPU_SLOT_PATTERN.search(call.result or "")
        if match:
            by_slot[match.group(1)].append((call.start, call.stop))
    if not by_slot:
        return None
    return max(_max_overlap(intervals) for intervals in by_slot.values())


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals], key=lambda e: (e[0], e[1]))
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def gpu_bound(graph: TaskGraph, slots: int, seconds_per_call: float) -> float:
    """The least time the GPU calls need on ``slots`` slots, each call holding one slot alone."""
    calls = sum(1 for t in graph.tasks.values() if t.resources.get(GPU_RESOURCE))
    return calls * seconds_per_call / slots if slots and calls else 0.0


@dataclass(frozen=True)
class Repeat:
    wall_s: float
    critical_path_s: float

    @property
    def overhead_s(self) -> float:
        return self.wall_s - self.critical_path_s


@dataclass(frozen=True)
class Summary:
    """Median, min and spread (max - min) of repeats."""

    repeats: tuple[Repeat, ...]

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.repeats)

    @property
    def wall_min_s(self) -> float:
        return min(r.wall_s for r in self.repeats)

    @property
    def wall_spread_s(self) -> float:
        return max(r.wall_s for r in self.repeats) - self.wall_min_s

    @property
    def critical_path_s(self) -> float:
        return statistics.median(r.critical_path_s for r in self.repeats)

    @property
    def overhead_s(self) -> float:
        return statistics.median(r.overhead_s for r in self.repeats)

    @property
    def overhead_min_s(self) -> float:
        return min(r.overhead_s for r in self.repeats)
