"""Where the overhead goes: cProfile of the client side of a run, and each run's phases.

The client side (compile, dispatch, waiting, gathering, records) is profiled with
cProfile in this process; the worker side shows in the phases every run
records: plan handed over -> first unit submitted -> first call started -> last
call stopped -> every result back in the client.
"""

from __future__ import annotations

import cProfile
import io
import pickle
import pstats
import statistics
import time
from typing import Any, Sequence

from benchmarks.executors.base import Executor, Outcome, Prepared

PROFILED = ("fanout-512x5ms", "llmc-lookups-4")
ROUND_TRIPS = 30
TOP = 12


def phases(outcome: Outcome) -> dict[str, float]:
    """Milliseconds spent in each phase of one run (llmcompiler runs record the dispatch moment)."""
    first_start = min(c.start for c in outcome.calls) - outcome.started
    last_stop = max(c.stop for c in outcome.calls) - outcome.started
    dispatched = outcome.phases.get("first_dispatch")
    out = {}
    if dispatched is not None:
        out["compile_and_submit_ms"] = dispatched * 1000
        out["submit_to_first_call_ms"] = (first_start - dispatched) * 1000
    else:
        out["to_first_call_ms"] = first_start * 1000
    out["calls_ms"] = (last_stop - first_start) * 1000
    out["last_call_to_results_ms"] = (outcome.wall_s - last_stop) * 1000
    return out


def median_phases(outcomes: Sequence[Outcome]) -> dict[str, float]:
    each = [phases(o) for o in outcomes]
    return {key: statistics.median(p[key] for p in each) for key in each[0]} if each else {}


async def _nothing() -> None:
    return None


def dask_round_trip(client: Any, count: int = ROUND_TRIPS) -> dict[str, float]:
    """The floor under any Dask executor here: submit a coroutine that does nothing, gather its result."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        future = client.submit(_nothing, pure=False)
        client.gather([future], direct=True)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "count": count}


def client_cost_per_call(plan: str, toolset: Any, repeat: int = 3) -> float:
    """Seconds of the client's own work per call, without a cluster: compile, build the units'
    calls and pickle them, unpickle one observation per call, build the records (best of ``repeat``)."""
    from llmcompiler_provider.execution.dispatch import Dispatcher
    from llmcompiler_provider.execution.tool_calls import Observation
    from llmcompiler_provider.plan import compile_plan

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        graph = compile_plan(plan, toolset.signatures())
        dispatcher = Dispatcher(client=None, toolset=toolset, run_id="dry")
        units = graph.units if graph.units is not None else [(task_id,) for task_id in graph.tasks]
        for unit in units:
            tasks = [graph.tasks[task_id] for task_id in unit]
            key, calls, _upstream = dispatcher.plan_unit(tasks, graph)
            pickle.loads(pickle.dumps(calls))
            dispatcher.register_unit(key, calls, tasks, queued=None)
        now = time.time()
        observations = pickle.loads(pickle.dumps(
            {task_id: Observation(value=f"{task_id} ok", start=now, stop=now, worker="tcp://127.0.0.1:1") for task_id in graph.tasks}
        ))
        dispatcher.records(observations, graph)
        best = min(best, time.perf_counter() - start)
    return best / max(1, len(graph.tasks))


def profile_runs(executors: Sequence[Executor], prepared: Sequence[Prepared]) -> dict[str, Any]:
    """Workload -> executor -> the run's wall and its top functions by own time (client side)."""
    by_name = {e.name: e for e in executors}
    out: dict[str, Any] = {}
    for p in prepared:
        if p.workload.name not in PROFILED:
            continue
        for name in ("llmcompiler", "llmcompiler-nofusion"):
            executor = by_name.get(name)
            if executor is None or not executor.applies_to(p.workload):
                continue
            profiler = cProfile.Profile()
            profiler.enable()
            outcome = executor.run(p)
            profiler.disable()
            out.setdefault(p.workload.name, {})[name] = {"wall_s": outcome.wall_s, "top": _top(profiler)}
    return out


def _top(profiler: cProfile.Profile) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{_short(filename)}:{line}({function})", "calls": calls,
                     "self_ms": tottime * 1000, "cumulative_ms": cumtime * 1000})
    rows.sort(key=lambda r: r["self_ms"], reverse=True)
    return rows[:TOP]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "llmcompiler_provider/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1] if marker != "llmcompiler_provider/" else "llmcompiler_provider/" + filename.split(marker, 1)[1]
    return filename
