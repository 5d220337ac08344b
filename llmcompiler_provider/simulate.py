"""Capacity planning: a discrete-event simulation of compiled plans on a cluster of a given shape.

The model follows what the dispatcher and Dask do:

* each execution unit (``TaskGraph.units``; one per task without them) is one Dask
  task: it becomes ready when the units it reads from are done, waits
  ``unit_overhead_s`` (scheduling and messaging), and holds one worker thread and
  its ``resources`` (merged as the dispatcher merges them) until its last call ends;
* ready units are placed in the dispatcher's priority order (highest first, then
  submission order) on the worker with the most free threads that has the resources;
  a unit that does not fit waits while lower-priority units that fit go ahead;
* inside a unit, calls run as a dataflow, each the moment its inputs are done;
* a call takes its tool's cost in seconds when it has what it needs. A call's
  ``cpu`` share (0: it only waits, 1: pure Python) competes for its worker
  process's one interpreter lock and for the machine's cores: calls progress at a
  shared rate (processor sharing), so eight 200 ms computations in one process
  take 1.6 s.

Costs come from ``tool_costs``: declared by tools, given in a file, or learned from
the metrics store.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.plan.signature import GPU_RESOURCE
from llmcompiler_provider.tool_costs import ToolCost


#: scheduling and messaging between a unit becoming ready and its first call starting
DEFAULT_UNIT_OVERHEAD_S = 0.003
_EPSILON = 1e-12


@dataclass(frozen=True)
class ClusterShape:
    workers: int = 2
    threads: int = 32  # per worker
    gpus: int | None = None  # GPU slots in all; None: one per worker (the embedded cluster's CPU fallback)
    cores: int | None = None  # cores the workers share; None: this machine's

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads < 1:
            raise ValueError("a cluster needs at least one worker with at least one thread")
        if self.gpus is not None and self.gpus < 0:
            raise ValueError("the number of GPU slots cannot be negative")

    def gpu_slots(self, worker: int) -> int:
        total = self.workers if self.gpus is None else self.gpus
        return total // self.workers + (1 if worker < total % self.workers else 0)

    @property
    def core_count(self) -> int:
        return self.cores or os.cpu_count() or 1


@dataclass(frozen=True)
class SimulatedCall:
    plan: int
    task_id: int
    worker: int
    start: float
    stop: float


@dataclass
class Simulation:
    wall_s: float
    critical_path_s: float
    utilization: dict[str, float]
    bottleneck: str
    units: int
    calls: list[SimulatedCall] = field(default_factory=list)
    waited_s: dict[str, float] = field(default_factory=dict)  # unit-seconds lost, by cause

    def summary(self) -> str:
        lines = [
            f"predicted wall time   {self.wall_s:.3f} s",
            f"critical path         {self.critical_path_s:.3f} s",
            f"units (Dask tasks)    {self.units}",
        ]
        for name, value in self.utilization.items():
            lines.append(f"{name + ' utilization':<22}{value:.0%}")
        lines.append(f"bottleneck            {self.bottleneck}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall_s,
            "critical_path_s": self.critical_path_s,
            "units": self.units,
            "utilization": dict(self.utilization),
            "bottleneck": self.bottleneck,
            "waited_s": dict(self.waited_s),
        }


# the model -------------------------------------------------------------------------------
@dataclass
class _Unit:
    plan: int
    calls: list[int]  # task ids, in plan order
    resources: dict[str, float]
    priority: int
    upstream: set[int] = field(default_factory=set)
    downstream: set[int] = field(default_factory=set)
    worker: int = -1
    release: float = 0.0  # not dispatched before this second (its plan lines arrive then)


@dataclass
class _Call:
    plan: int
    task_id: int
    unit: int
    work: float  # seconds at full speed
    cpu: float
    inputs: set[int] = field(default_factory=set)  # calls of the same unit it waits for
    dependents: list[int] = field(default_factory=list)
    start: float = 0.0
    left: float = 0.0
    rate: float = 1.0


def simulate(
    graphs: Sequence[TaskGraph],
    shape: ClusterShape,
    costs: Mapping[str, ToolCost] | None = None,
    *,
    unit_overhead_s: float = DEFAULT_UNIT_OVERHEAD_S,
    client_per_call_s: float = 0.0,
    arrivals: Mapping[tuple[int, int], float] | None = None,
) -> Simulation:
    """Simulate ``graphs`` (a batch of plans, all submitted at time 0) on ``shape``.

    ``client_per_call_s`` is the client's own work per call (compiling, submitting,
    collecting results), done one call after another: it adds ``calls x cost`` to the
    wall time. ``arrivals`` maps (plan index, task id) to the second a task is handed
    to the dispatcher (a streamed plan); a unit is dispatched once all its tasks have
    arrived.
    """
    costs = costs or {}
    units, calls = _build(graphs, costs)
    for (plan, task_id), moment in (arrivals or {}).items():
        call = calls.get((plan, task_id))
        if call is not None:
            unit = units[call.unit]
            unit.release = max(unit.release, moment)
    for unit in units:
        gpus = unit.resources.get(GPU_RESOURCE, 0)
        others = {name for name in unit.resources if name != GPU_RESOURCE}
        if others or not any(gpus <= shape.gpu_slots(w) for w in range(shape.workers)):
            needed = ", ".join(f"{k}={v:g}" for k, v in unit.resources.items())
            raise ValueError(f"no worker of this cluster offers {needed}: the plan cannot run on it")
    engine = _Engine(shape, units, calls, unit_overhead_s)
    wall = engine.run() + len(calls) * client_per_call_s
    path = max((_critical_path(graph, costs) for graph in graphs), default=0.0)
    utilization = {
        "threads": engine.thread_busy / (shape.workers * shape.threads * wall) if wall else 0.0,
        "CPU": engine.cpu_busy / (shape.core_count * wall) if wall else 0.0,
    }
    gpu_total = sum(shape.gpu_slots(w) for w in range(shape.workers))
    if gpu_total:
        utilization["GPU slots"] = engine.gpu_busy / (gpu_total * wall) if wall else 0.0
    return Simulation(
        wall_s=wall,
        critical_path_s=path,
        utilization=utilization,
        bottleneck=_bottleneck(engine.waited, wall, path),
        units=len(units),
        calls=sorted(engine.finished, key=lambda c: (c.plan, c.task_id)),
        waited_s=dict(engine.waited),
    )


def _build(graphs: Sequence[TaskGraph], costs: Mapping[str, ToolCost]) -> tuple[list[_Unit], dict[tuple[int, int], _Call]]:
    units: list[_Unit] = []
    calls: dict[tuple[int, int], _Call] = {}
    for p, graph in enumerate(graphs):
        groups = graph.units if graph.units is not None else [(task_id,) for task_id in graph.tasks]
        unit_of: dict[int, int] = {}
        for members in groups:
            tasks = [graph.tasks[i] for i in members]
            resources: dict[str, float] = {}
            for task in tasks:
                for name, amount in task.resources.items():
                    resources[name] = max(resources.get(name, 0), amount)
            unit_of.update({task.id: len(units) for task in tasks})
            for task in tasks:
                unit_of.update({member: len(units) for member in task.batch_of})
            units.append(_Unit(p, list(members), resources, max(t.priority for t in tasks)))
        for task in graph.tasks.values():
            cost = costs.get(task.tool) or ToolCost(max(0.0, task.cost))
            call = _Call(p, task.id, unit_of[task.id], cost.seconds, cost.cpu, left=cost.seconds)
            calls[(p, task.id)] = call
            for dep in task.deps:
                source = dep if dep in graph.tasks else graph.resolve(dep)
                if source not in graph.tasks or source == task.id:
                    continue  # a result of an earlier plan: already there
                if unit_of[source] == call.unit:
                    call.inputs.add(source)
                else:
                    units[call.unit].upstream.add(unit_of[source])
                    units[unit_of[source]].downstream.add(call.unit)
        for call in [c for c in calls.values() if c.plan == p]:
            for source in call.inputs:
                calls[(p, source)].dependents.append(call.task_id)
    return units, calls


class _Engine:
    """Time advances from event to event; running calls progress at their current rates."""

    def __init__(self, shape: ClusterShape, units: list[_Unit], calls: dict[tuple[int, int], _Call], overhead: float):
        self.shape, self.units, self.calls, self.overhead = shape, units, calls, overhead
        self.free_threads = [shape.threads] * shape.workers
        self.free_gpus = [shape.gpu_slots(w) for w in range(shape.workers)]
        self.waiting_inputs = [len(u.upstream) + (1 if u.release > 0 else 0) for u in units]
        self.releases = [(u.release, index) for index, u in enumerate(units) if u.release > 0]
        heapq.heapify(self.releases)
        self.calls_left = [len(u.calls) for u in units]
        self.ready: list[tuple[int, int]] = []  # heap of (-priority, unit index)
        self.starts: list[tuple[float, int]] = []  # heap of (time, unit) placed units begin
        self.running: list[_Call] = []
        self.finished: list[SimulatedCall] = []
        self.now = 0.0
        self.thread_busy = self.cpu_busy = self.gpu_busy = 0.0
        self.waited: dict[str, float] = {"threads": 0.0, "GPU slots": 0.0, "CPU": 0.0}

    def run(self) -> float:
        for index, count in enumerate(self.waiting_inputs):
            if count == 0:
                heapq.heappush(self.ready, (-self.units[index].priority, index))
        while self.ready or self.starts or self.running or self.releases:
            self._place()
            self._set_rates()
            step = self._next_event()
            if step is None:
                break  # nothing can ever run (cannot happen once resources were checked)
            self._advance(step)
        return self.now

    def _place(self) -> None:
        skipped = []
        while self.ready:
            entry = heapq.heappop(self.ready)
            unit = self.units[entry[1]]
            worker = self._worker_for(unit)
            if worker is None:
                skipped.append(entry)
                continue
            unit.worker = worker
            self.free_threads[worker] -= 1
            self.free_gpus[worker] -= int(unit.resources.get(GPU_RESOURCE, 0))
            heapq.heappush(self.starts, (self.now + self.overhead, entry[1]))
        for entry in skipped:
            heapq.heappush(self.ready, entry)

    def _worker_for(self, unit: _Unit) -> int | None:
        gpus = unit.resources.get(GPU_RESOURCE, 0)
        fits = [w for w in range(self.shape.workers) if self.free_threads[w] > 0 and self.free_gpus[w] >= gpus]
        return max(fits, key=lambda w: (self.free_threads[w], -w)) if fits else None

    def _start_unit(self, index: int) -> None:
        unit = self.units[index]
        for task_id in unit.calls:
            call = self.calls[(unit.plan, task_id)]
            if not call.inputs:
                self._start_call(call)

    def _start_call(self, call: _Call) -> None:
        call.start = self.now
        if call.left <= _EPSILON:
            self._finish_call(call)
        else:
            self.running.append(call)

    def _set_rates(self) -> None:
        demand = [0.0] * self.shape.workers
        for call in self.running:
            demand[self.units[call.unit].worker] += call.cpu
        busy = sum(min(1.0, d) for d in demand)
        machine = min(1.0, self.shape.core_count / busy) if busy > 0 else 1.0
        for call in self.running:
            if call.cpu <= 0:
                call.rate = 1.0
                continue
            share = min(1.0, 1.0 / demand[self.units[call.unit].worker]) * machine
            call.rate = 1.0 / ((1 - call.cpu) + call.cpu / share)

    def _next_event(self) -> float | None:
        candidates = [c.left / c.rate for c in self.running]
        for heap in (self.starts, self.releases):
            if heap:
                candidates.append(max(0.0, heap[0][0] - self.now))
        return min(candidates) if candidates else None

    def _advance(self, step: float) -> None:
        self._account(step)
        self.now += step
        for call in self.running:
            call.left -= step * call.rate
        done = [c for c in self.running if c.left <= _EPSILON]
        self.running = [c for c in self.running if c.left > _EPSILON]
        while self.starts and self.starts[0][0] <= self.now + _EPSILON:
            self._start_unit(heapq.heappop(self.starts)[1])
        while self.releases and self.releases[0][0] <= self.now + _EPSILON:
            self._input_done(heapq.heappop(self.releases)[1])
        for call in done:
            self._finish_call(call)

    def _account(self, step: float) -> None:
        if step <= 0:
            return
        placed = {u for _, u in self.starts} | {c.unit for c in self.running}
        self.thread_busy += step * len(placed)
        self.gpu_busy += step * sum(self.units[u].resources.get(GPU_RESOURCE, 0) for u in placed)
        self.cpu_busy += step * sum(c.cpu * c.rate for c in self.running)
        self.waited["CPU"] += step * sum(1 - c.rate for c in self.running if c.cpu > 0)
        for _, index in self.ready:
            needs_gpu = self.units[index].resources.get(GPU_RESOURCE, 0) > 0
            cause = "GPU slots" if needs_gpu and any(self.free_threads) else "threads"
            self.waited[cause] += step

    def _finish_call(self, call: _Call) -> None:
        unit = self.units[call.unit]
        self.finished.append(SimulatedCall(call.plan, call.task_id, unit.worker, call.start, self.now))
        for task_id in call.dependents:
            dependent = self.calls[(call.plan, task_id)]
            dependent.inputs.discard(call.task_id)
            if not dependent.inputs:
                self._start_call(dependent)
        self.calls_left[call.unit] -= 1
        if self.calls_left[call.unit] == 0:
            self._finish_unit(call.unit)

    def _finish_unit(self, index: int) -> None:
        unit = self.units[index]
        self.free_threads[unit.worker] += 1
        self.free_gpus[unit.worker] += int(unit.resources.get(GPU_RESOURCE, 0))
        for consumer in unit.downstream:
            self._input_done(consumer)

    def _input_done(self, index: int) -> None:
        self.waiting_inputs[index] -= 1
        if self.waiting_inputs[index] == 0:
            heapq.heappush(self.ready, (-self.units[index].priority, index))


def _critical_path(graph: TaskGraph, costs: Mapping[str, ToolCost]) -> float:
    finish: dict[int, float] = {}
    for task in graph.tasks.values():  # dependency order
        cost = costs.get(task.tool) or ToolCost(max(0.0, task.cost))
        inputs = [finish.get(d if d in graph.tasks else graph.resolve(d), 0.0) for d in task.deps]
        finish[task.id] = max(inputs, default=0.0) + cost.seconds
    return max(finish.values(), default=0.0)


def _bottleneck(waited: Mapping[str, float], wall: float, path: float) -> str:
    cause, lost = max(waited.items(), key=lambda item: item[1]) if waited else ("", 0.0)
    if wall <= 0 or lost < 0.05 * wall:
        return "the critical path (dependencies): more workers would not help"
    return {
        "threads": "worker threads: ready units wait for a free thread",
        "GPU slots": "GPU slots: GPU calls wait for a free slot",
        "CPU": "CPU: Python computations share each worker's interpreter lock and the cores",
    }[cause]
