"""The suite: every workload on every executor that applies, repeated, on one machine in one run."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Any, Sequence

from benchmarks import compile_growth, measure
from benchmarks import workloads as catalogue
from benchmarks.executors.base import Executor, Outcome, Prepared
from benchmarks.profiling import client_cost_per_call, dask_round_trip, profile_runs
from benchmarks.progress import Progress
from benchmarks.replay import DEFAULT_TOKENS_PER_S, join_arrival, line_arrivals, stream_duration
from benchmarks.tools import (
    CRUNCH_COST_S,
    CRUNCH_SHORT_COST_S,
    GPU_S,
    bench,
    calibrate_crunch,
    process_scaling,
)
from benchmarks.workloads import Workload
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.simulate import ClusterShape, simulate
from llmcompiler_provider.tool_costs import ToolCost, declared_costs

CLUSTER_WORKERS, CLUSTER_THREADS = 2, 32  # the embedded cluster of execution/cluster.py
LARGE_PLAN = 500  # calls


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    repeats: int
    sequential_repeats: int
    compile_sizes: tuple[int, ...]
    compile_repeats: int
    workload_names: tuple[str, ...] | None  # None: every workload
    airflow_workloads: tuple[str, ...] = ()
    airflow_repeats: int = 2
    compile_detail: bool = False  # also time compiles without passes and through PlanStream
    description: str = ""


SUITES = {
    "smoke": SuiteSpec(
        "smoke", 1, 1, (200, 1000), 1, ("llmc-lookups-4", "streamed-llmc-compare-2", "gpu-fanout-16x100ms"),
        description="three small workloads once each, for the tests",
    ),
    "quick": SuiteSpec(
        "quick", 3, 1, (1000, 10000, 100000), 1,
        (
            "fanout-8x200ms", "fanout-64x100ms", "fanout-512x5ms", "layers-4x4x100ms", "chain-20x20ms",
            "random-dag-1000", "llmc-compare-2", "llmc-lookups-4", "llmc-lookups-math", "fanout-64x100ms-blocking",
            "streamed-llmc-compare-2", "streamed-llmc-lookups-math", "cpu-fanout-8x200ms", "cpu-fanout-8x12ms",
            "gpu-fanout-16x100ms",
        ),
        description="every workload shape, 3 repeats (2 for 500+ calls and streamed plans, sequential once), "
        "compile growth measured once",
    ),
    "full": SuiteSpec(
        "full", 7, 3, (1000, 10000, 100000), 3, None,
        ("fanout-8x200ms", "fanout-64x100ms", "layers-4x4x100ms", "chain-20x20ms", "llmc-lookups-math",
         "gpu-fanout-16x100ms"),
        compile_detail=True,
        description="every workload, 7 repeats (sequential 3), plus Airflow task mapping on six workloads",
    ),
}


@dataclass
class WorkloadResult:
    workload: Workload
    executor: str
    summary: measure.Summary
    outcomes: list[Outcome]
    gpu_peak_sharing: int | None = None
    simulated: dict[str, Any] | None = None
    resource_bound_s: float | None = None  # GPU workloads: calls x 100 ms / slots


@dataclass
class SuiteResult:
    spec: SuiteSpec
    machine: dict[str, Any]
    versions: dict[str, str]
    settings: dict[str, Any]
    results: list[WorkloadResult] = field(default_factory=list)
    compile: list[compile_growth.CompileFigures] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


def all_workloads(crunch_work: int) -> list[Workload]:
    return [
        *catalogue.io_workloads(),
        *catalogue.streamed_workloads(),
        *catalogue.cpu_workloads(crunch_work),
        *catalogue.gpu_workloads(),
    ]


def select(spec: SuiteSpec, crunch_work: int) -> list[Workload]:
    everything = {w.name: w for w in all_workloads(crunch_work)}
    names = spec.workload_names or tuple(everything)
    return [everything[n] for n in names]


def machine_info() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_before": list(load) if load else None,
    }


def cpu_times() -> tuple[int, int] | None:
    """(stolen, total) CPU time of this machine so far, in clock ticks (Linux's ``/proc/stat``):
    the time the hypervisor gave to other guests counts as stolen. None where it cannot be read."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 8:
        return None
    return fields[7], sum(fields[:8])  # user nice system idle iowait irq softirq steal


def stolen_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of CPU time stolen between two ``cpu_times()`` readings."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in ("llmcompiler-provider", "dask", "distributed", "apache-airflow", "tornado", "msgpack"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def run_suite(
    spec: SuiteSpec,
    *,
    tokens_per_s: float = DEFAULT_TOKENS_PER_S,
    progress: Progress | None = None,
    with_profile: bool = True,
) -> SuiteResult:
    """Run ``spec`` on the embedded cluster (started and closed here)."""
    from benchmarks.executors.registry import make_executors
    from llmcompiler_provider.execution.cluster import ClusterOptions, open_client

    progress = progress or Progress(enabled=False)
    cpu_before = cpu_times()
    # before the cluster starts: its worker processes spend their first seconds importing
    crunch_work = calibrate_crunch()
    scaling = process_scaling(crunch_work)
    workloads = select(spec, crunch_work)
    result = SuiteResult(
        spec,
        machine_info(),
        versions(),
        {"tokens_per_s": tokens_per_s, "chars_per_token": 4, "crunch_iterations": crunch_work,
         "repeats": spec.repeats, "sequential_repeats": spec.sequential_repeats},
    )
    result.machine["two_process_scaling"] = scaling
    options = ClusterOptions(n_workers=CLUSTER_WORKERS, threads_per_worker=CLUSTER_THREADS, processes=True)
    progress.stage("starting the embedded Dask cluster")
    with open_client(options) as (client, info):
        result.machine["cluster"] = {
            "kind": info.kind, "workers": info.workers, "threads_per_worker": CLUSTER_THREADS,
            "gpu_slots": info.gpu_slots, "gpu_fallback": info.gpu_fallback,
        }
        executors = make_executors(client, info, airflow=bool(spec.airflow_workloads))
        try:
            prepared = [
                Prepared(w, compile_plan(w.plan, bench.signatures(), optimize=False), bench, tokens_per_s)
                for w in workloads
            ]
            pairs = [(p, e) for p in prepared for e in executors if e.applies_to(p.workload) and _wanted(spec, p.workload, e)]
            progress.start(len(pairs))
            _warm_up(executors, tokens_per_s)
            for p, executor in pairs:
                repeats = repeats_for(spec, p.workload, executor.name)
                progress.begin(p.workload.name, executor.name, repeats)
                try:
                    measured = _measure(p, executor, repeats, progress)
                    if p.workload.kind == "gpu":
                        measured.resource_bound_s = measure.gpu_bound(p.graph, info.gpu_slots, GPU_S)
                    result.results.append(measured)
                except Exception as exc:  # one failing pair is reported, the suite goes on
                    result.errors.append(f"{p.workload.name} on {executor.name}: {type(exc).__name__}: {exc}")
                progress.end()
        finally:
            for executor in executors:
                getattr(executor, "close", lambda: None)()
        progress.stage("calibrating the simulator: a Dask round trip, the client's work per call")
        trip = dask_round_trip(client)
        calibration = {
            "unit_overhead_s": trip["median_ms"] / 1000,
            "client_per_call_s": client_cost_per_call(catalogue.random_dag(1000), bench),
        }
        result.settings["simulator"] = calibration
        result.profile["dask_round_trip"] = trip
        _add_predictions(result, prepared, info.gpu_slots, calibration)
        if with_profile:
            progress.stage("profiling the client side of the project's runs")
            result.profile["runs"] = profile_runs(executors, prepared)
    progress.stage(f"compile growth: {', '.join(f'{n:,}' for n in spec.compile_sizes)} tasks")
    result.compile = [
        compile_growth.measure(size, spec.compile_repeats, detail=spec.compile_detail) for size in spec.compile_sizes
    ]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    result.machine["load_average_after"] = list(load) if load else None
    result.machine["cpu_stolen_share"] = stolen_share(cpu_before, cpu_times())
    progress.done()
    return result


def _wanted(spec: SuiteSpec, workload: Workload, executor: Executor) -> bool:
    if executor.name.startswith("airflow"):
        return workload.name in spec.airflow_workloads
    return True


def repeats_for(spec: SuiteSpec, workload: Workload, executor: str) -> int:
    """The suite's repeats; fewer for the slow baselines and, in the quick suite, for the largest and the
    streamed plans (a streamed run lasts as long as its plan takes to arrive)."""
    if executor == "sequential":
        return spec.sequential_repeats
    if executor.startswith("airflow"):
        return spec.airflow_repeats
    if spec.name == "quick" and (workload.tasks >= LARGE_PLAN or workload.streamed):
        return min(spec.repeats, 2)
    return spec.repeats


def _warm_up(executors: Sequence[Executor], tokens_per_s: float) -> None:
    """One unmeasured run per executor on a small plan of every tool kind (imports, first pickles)."""
    text = catalogue.lookups_then_math()
    warm = Workload("warm-up", "io", text, "warm-up")
    p = Prepared(warm, compile_plan(text, bench.signatures(), optimize=False), bench, tokens_per_s)
    for executor in executors:
        if executor.applies_to(warm) and not executor.name.startswith("airflow"):
            executor.run(p)


def _measure(prepared: Prepared, executor: Executor, repeats: int, progress: Progress) -> WorkloadResult:
    outcomes, repeat_figures = [], []
    for index in range(repeats):
        progress.repeat(index + 1)
        outcome = executor.run(prepared)
        if len(outcome.calls) != len(prepared.graph.tasks):
            raise RuntimeError(f"{len(outcome.calls)} of {len(prepared.graph.tasks)} calls ran")
        if outcome.failures:
            raise RuntimeError(f"{outcome.failures} calls failed")
        if prepared.workload.streamed:
            path = measure.streamed_bound(prepared.graph, outcome.calls, prepared.workload.plan, prepared.tokens_per_s)
        else:
            path = measure.critical_path(prepared.graph, outcome.calls)
        outcomes.append(outcome)
        repeat_figures.append(measure.Repeat(outcome.wall_s, path))
    peaks = [measure.gpu_peak_sharing(o.calls) for o in outcomes]
    known = [p for p in peaks if p is not None]
    return WorkloadResult(
        prepared.workload, executor.name, measure.Summary(tuple(repeat_figures)), outcomes, max(known) if known else None
    )


def simulator_costs() -> dict[str, ToolCost]:
    """Declared costs, plus what the suite knows: ``crunch`` is pure Python of about 200 ms here,
    ``crunch_12ms`` of about 12 ms."""
    costs = declared_costs(bench.signatures())
    costs["crunch"] = ToolCost(CRUNCH_COST_S, cpu=1.0)
    costs["crunch_12ms"] = ToolCost(CRUNCH_SHORT_COST_S, cpu=1.0)
    return costs


def _add_predictions(
    result: SuiteResult, prepared: Sequence[Prepared], gpu_slots: int, calibration: dict[str, float]
) -> None:
    """What ``simulate`` predicts for the project's runs, beside what they measured."""
    shape = ClusterShape(CLUSTER_WORKERS, CLUSTER_THREADS, gpus=gpu_slots, cores=os.cpu_count())
    costs = simulator_costs()
    by_name = {p.workload.name: p for p in prepared}
    for item in result.results:
        if not item.executor.startswith("llmcompiler"):
            continue
        p = by_name[item.workload.name]
        text, rate = p.workload.plan, p.tokens_per_s
        arrivals: dict[tuple[int, int], float] = {}
        ended = 0.0  # when the executor knows the plan is complete
        if item.executor == "llmcompiler-streamed":  # each task as its line arrives, no plan-wide passes
            graph = compile_plan(text, bench.signatures(), optimize=False)
            lines = line_arrivals(text, rate)
            arrivals = {(0, t.id): lines[t.span.line - 1] for t in graph.tasks.values() if t.span}
            ended = join_arrival(text, rate)
        else:
            disabled = ("fusion",) if item.executor == "llmcompiler-nofusion" else ()
            graph = compile_plan(text, bench.signatures(), disabled_passes=disabled)
            if p.workload.streamed:  # the whole plan, once it has arrived
                ended = stream_duration(text, rate)
                arrivals = {(0, task_id): ended for task_id in graph.tasks}
        simulation = simulate([graph], shape, costs, arrivals=arrivals, **calibration)
        predicted = max(simulation.wall_s, ended)
        measured = item.summary.wall_s
        item.simulated = {
            "wall_s": predicted,
            "critical_path_s": simulation.critical_path_s,
            "bottleneck": simulation.bottleneck,
            "error": (predicted - measured) / measured if measured else None,
        }
