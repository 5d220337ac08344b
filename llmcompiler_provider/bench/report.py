"""The suite's results as JSON, PNG charts and the markdown of ``docs/benchmarks.md``."""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from llmcompiler_provider.bench.profiling import median_phases
from llmcompiler_provider.bench.suite import SuiteResult, WorkloadResult

#: workloads whose calls take 100 ms or more (the 10%-of-critical-path target)
LONG_CALL_WORKLOADS = (
    "fanout-8x200ms", "fanout-64x100ms", "layers-4x4x100ms", "llmc-lookups-4", "fanout-64x100ms-blocking",
)
OURS = "llmcompiler"
STREAMED = "llmcompiler-streamed"
POLLING = "asyncio-poll-10ms"
DASK = "dask-submit"
AIRFLOW = "airflow-mapping"


# JSON ------------------------------------------------------------------------------------
def to_json(result: SuiteResult, command: str) -> dict[str, Any]:
    sequential = _walls(result, "sequential")
    dask = _walls(result, DASK)
    rows = []
    for item in result.results:
        s = item.summary
        tasks = item.workload.tasks
        seq, base = sequential.get(item.workload.name), dask.get(item.workload.name)
        units = [o.units for o in item.outcomes if o.units is not None]
        row = {
            "workload": item.workload.name,
            "executor": item.executor,
            "wall_s": s.wall_s,
            "critical_path_s": s.critical_path_s,
            "overhead_per_task_ms": s.overhead_s / tasks * 1000,
            "repeats": [{"wall_s": r.wall_s, "critical_path_s": r.critical_path_s} for r in s.repeats],
            "kind": item.workload.kind,
            "streamed": item.workload.streamed,
            "tasks": tasks,
            "wall_min_s": s.wall_min_s,
            "wall_spread_s": s.wall_spread_s,
            "overhead_s": s.overhead_s,
            "overhead_min_s": s.overhead_min_s,
            "speedup_vs_sequential": seq / s.wall_s if seq else None,
            "ratio_to_dask_submit": s.wall_s / base if base else None,
            "dask_tasks": units[0] if units else None,
            "gpu_peak_sharing": item.gpu_peak_sharing,
            "resource_bound_s": item.resource_bound_s,
            "phases_ms": median_phases(item.outcomes) if item.outcomes and item.outcomes[0].calls else {},
            "simulated": item.simulated,
        }
        rows.append(row)
    return {
        "suite": result.spec.name,
        "command": command,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": result.machine,
        "versions": result.versions,
        "settings": result.settings,
        "results": rows,
        "compile": [
            {"tasks": c.tasks, "seconds": c.seconds, "peak_mb": c.peak_mb, "us_per_task": c.us_per_task,
             "seconds_unoptimized": c.seconds_unoptimized, "seconds_streamed": c.seconds_streamed,
             "plan_kib": c.plan_kib}
            for c in result.compile
        ],
        "targets": targets(rows, result),
        "errors": list(result.errors),
        "profile": result.profile,
    }


def _walls(result: SuiteResult, executor: str) -> dict[str, float]:
    return {r.workload.name: r.summary.wall_s for r in result.results if r.executor == executor}


def _row(rows: Iterable[dict[str, Any]], workload: str, executor: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["workload"] == workload and r["executor"] == executor), None)


def targets(rows: list[dict[str, Any]], result: SuiteResult) -> list[dict[str, Any]]:
    """Issue 7's targets, each met or missed, by how much."""
    out = []
    for name in LONG_CALL_WORKLOADS:
        ours = _row(rows, name, OURS)
        if ours:
            ratio = ours["wall_s"] / ours["critical_path_s"] - 1
            out.append(_target(f"{name}: wall within 10% of the critical path", ratio <= 0.10,
                               f"wall {ours['wall_s']*1000:.0f} ms is {ratio:+.1%} over the critical path "
                               f"({ours['critical_path_s']*1000:.0f} ms)"))
    for ours in (r for r in rows if r["kind"] == "io" and r["executor"] == (STREAMED if r["streamed"] else OURS)):
        polling = _row(rows, ours["workload"], POLLING)
        if polling:
            diff = ours["overhead_s"] - polling["overhead_s"]
            out.append(_target(f"{ours['workload']}: {ours['executor']} overhead no higher than the 10 ms polling executor's", diff <= 0,
                               f"{ours['overhead_s']*1000:.0f} ms vs {polling['overhead_s']*1000:.0f} ms "
                               f"({diff*1000:+.0f} ms)"))
    for ours in (r for r in rows if r["executor"] == OURS and r["kind"] == "cpu"):
        polling = _row(rows, ours["workload"], POLLING)
        if polling:
            speedup = polling["wall_s"] / ours["wall_s"]
            ceiling = result.machine.get("two_process_scaling")
            note = f"; two processes run the same work {ceiling:.2f}x as fast as one here" if ceiling else ""
            out.append(_target(f"{ours['workload']}: at least 1.8x faster than the asyncio executor", speedup >= 1.8,
                               f"{speedup:.2f}x ({ours['wall_s']:.2f} s vs {polling['wall_s']:.2f} s{note})"))
    for ours in (r for r in rows if r["executor"] == OURS and r["kind"] == "gpu"):
        polling = _row(rows, ours["workload"], POLLING)
        out.append(_target(f"{ours['workload']}: GPU slots never oversubscribed", ours["gpu_peak_sharing"] == 1,
                           f"at most {ours['gpu_peak_sharing']} call(s) on one slot at once"))
        if polling:
            out.append(_target(f"{ours['workload']}: faster than the unbounded asyncio executor",
                               ours["wall_s"] < polling["wall_s"],
                               f"{ours['wall_s']:.2f} s vs {polling['wall_s']:.2f} s "
                               f"(asyncio peaked at {polling['gpu_peak_sharing']} calls per slot)"))
    for airflow in (r for r in rows if r["executor"] == AIRFLOW):
        ours = _row(rows, airflow["workload"], OURS)
        if ours:
            theirs, mine = _per_call_overhead_ms(airflow), _per_call_overhead_ms(ours)
            ratio = theirs / max(mine, 1e-3)
            limit = "the GPU slots' bound" if ours.get("resource_bound_s") else "the critical path"
            out.append(_target(f"{airflow['workload']}: 50x less overhead per call than Airflow task mapping",
                               ratio >= 50, f"{ratio:.0f}x ({theirs:.0f} ms vs {mine:.2f} ms per call over {limit})"))
    for figures in result.compile:
        if figures.tasks == 10000:
            out.append(_target("10k-task plan compiles in under 0.5 s", figures.seconds < 0.5,
                               f"{figures.seconds:.3f} s ({figures.us_per_task:.0f} µs per task)"))
    if len(result.compile) >= 2:
        small, large = result.compile[0], result.compile[-1]
        growth = large.us_per_task / small.us_per_task
        out.append(_target("compile time grows linearly", growth <= 1.5,
                           f"{small.us_per_task:.0f} µs/task at {small.tasks:,} tasks, "
                           f"{large.us_per_task:.0f} µs/task at {large.tasks:,} ({growth:.2f}x)"))
    return out


def _per_call_overhead_ms(row: dict[str, Any]) -> float:
    """Overhead per call over the physical limit: the critical path, or the GPU slots' bound when larger."""
    limit = max(row["critical_path_s"], row.get("resource_bound_s") or 0.0)
    return (row["wall_s"] - limit) / row["tasks"] * 1000


def _target(name: str, met: bool, detail: str) -> dict[str, Any]:
    return {"target": name, "met": bool(met), "detail": detail}


# charts ----------------------------------------------------------------------------------
def write_plots(data: dict[str, Any], directory: str) -> list[str]:
    """``overhead.png`` (overhead per call, per executor and workload) and ``compile.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    written = []
    rows = [r for r in data["results"] if not r["streamed"]]
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    executors = list(dict.fromkeys(r["executor"] for r in rows))
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / max(1, len(executors))
    for i, executor in enumerate(executors):
        values = []
        for workload in workloads:
            row = _row(rows, workload, executor)
            values.append(max(row["overhead_per_task_ms"], 1e-3) if row else float("nan"))
        ax.bar([x + i * width for x in range(len(workloads))], values, width, label=executor)
    ax.set_yscale("log")
    ax.set_ylabel("overhead per call, ms (wall - critical path) / calls, log scale")
    ax.set_xticks([x + width * (len(executors) - 1) / 2 for x in range(len(workloads))])
    ax.set_xticklabels(workloads, rotation=30, ha="right", fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title(f"Overhead per call by executor ({data['suite']} suite, median of repeats)")
    fig.tight_layout()
    path = os.path.join(directory, "overhead.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    if data["compile"]:
        fig, ax1 = plt.subplots(figsize=(7, 4.5))
        sizes = [c["tasks"] for c in data["compile"]]
        ax1.loglog(sizes, [c["seconds"] for c in data["compile"]], "o-", label="compile time (s)")
        ax1.loglog(sizes, [c["peak_mb"] for c in data["compile"]], "s--", label="peak memory (MiB)")
        first = data["compile"][0]["seconds"] / sizes[0]
        ax1.loglog(sizes, [first * n for n in sizes], ":", color="grey", label="linear from the first point")
        ax1.set_xlabel("tasks in the plan")
        ax1.set_title("Compile growth (lex + parse + analyze + every pass)")
        ax1.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(directory, "compile.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


# markdown --------------------------------------------------------------------------------
def to_markdown(data: dict[str, Any], images: dict[str, str] | None = None) -> str:
    images = images or {}
    m = data["machine"]
    out = [
        "# Benchmarks",
        "",
        "Generated by the suite; do not edit by hand. To regenerate:",
        "",
        "```",
        data["command"],
        "```",
        "",
        f"Suite `{data['suite']}`, {data['generated']}. Machine: {m['cpus']} CPUs ({m['processor']}), "
        f"{m['platform']}, Python {m['python']}. Load average (1/5/15 min) before: {_load(m.get('load_average_before'))}, "
        f"after: {_load(m.get('load_average_after'))}."
        + (f" Two processes run the same pure-Python work {m['two_process_scaling']:.2f}x as fast as one "
           "(measured before the suite: the ceiling of the CPU-bound workload's speedup)."
           if m.get("two_process_scaling") else "")
        + (f" The hypervisor gave {m['cpu_stolen_share']:.1%} of this virtual machine's CPU time to other guests "
           "during the suite (steal time in /proc/stat; it slows every executor alike)."
           if m.get("cpu_stolen_share") is not None else ""),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()) + ".",
        "",
        _shapes(data),
        "",
        "## Targets",
        "",
        "| target | met | measured |",
        "|---|---|---|",
        *(f"| {t['target']} | {'yes' if t['met'] else '**no**'} | {t['detail']} |" for t in data["targets"]),
        "",
    ]
    if data["errors"]:
        out += ["Pairs that failed:", "", *(f"* {e}" for e in data["errors"]), ""]
    out += ["## Results", "", _definitions(data), ""]
    if "overhead" in images:
        out += [f"![overhead per call]({images['overhead']})", ""]
    for workload in dict.fromkeys(r["workload"] for r in data["results"]):
        out += _workload_table(data, workload)
    out += _predictions(data)
    out += _compile_table(data, images)
    out += _overhead_reading(data)
    return "\n".join(out) + "\n"


def _load(values: list[float] | None) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "unknown"


def _shapes(data: dict[str, Any]) -> str:
    c = data["machine"].get("cluster", {})
    return (
        f"Cluster shapes. `llmcompiler*` and `dask-submit` run on the embedded cluster of "
        f"`execution/cluster.py`: a `LocalCluster` of {c.get('workers')} worker processes x "
        f"{c.get('threads_per_worker')} threads, each declaring `GPU=1` "
        f"({c.get('gpu_slots')} GPU slots, CPU fallback: the GPU is simulated on the CPU, see "
        "`llmcompiler_provider/bench/gpu_sim.py`). `asyncio-poll-10ms` and `sequential` run in the "
        "benchmark process (one process, one event loop; the asyncio executor sees the same number of "
        "simulated GPU slots and does not limit them). `airflow-mapping` runs `dag.test()` in a separate "
        "process with its own SQLite metadata database."
    )


def _definitions(data: dict[str, Any]) -> str:
    s = data["settings"]
    return (
        "Wall: from handing the plan to the executor to having every result in the caller "
        "(for `llmcompiler*`, until the run loop has every observation, before the joiner). Critical "
        "path: the longest chain of dependent calls weighted by the call durations that run measured; for a "
        "streamed plan, the earliest every call could finish if it started the moment its line arrived "
        f"({s['tokens_per_s']:g} tokens/s of {s['chars_per_token']} characters) and its inputs were done. "
        "Overhead = wall - critical path. Median over repeats; min and spread (max - min) of the wall too. "
        "Speedup: the sequential executor's median wall / this one's. Ratio to Dask: this wall / "
        "`dask-submit`'s wall. Dask tasks: how many Dask tasks one run created."
    )


def _workload_table(data: dict[str, Any], workload: str) -> list[str]:
    rows = [r for r in data["results"] if r["workload"] == workload]
    first = rows[0]
    out = [
        f"### {workload} ({first['tasks']} calls, {first['kind']}{', streamed' if first['streamed'] else ''})",
        "",
        "| executor | wall median | wall min | spread | critical path | overhead | per call | speedup | ratio to Dask | Dask tasks | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['executor']} | {_ms(r['wall_s'])} | {_ms(r['wall_min_s'])} | {_ms(r['wall_spread_s'])} | "
            f"{_ms(r['critical_path_s'])} | {_ms(r['overhead_s'])} | {r['overhead_per_task_ms']:.2f} ms | "
            f"{_x(r['speedup_vs_sequential'])} | {_x(r['ratio_to_dask_submit'])} | {r['dask_tasks'] or '-'} | "
            f"{len(r['repeats'])} |"
        )
    gpu = [r for r in rows if r["gpu_peak_sharing"] is not None]
    if gpu:
        out += ["", "Most GPU calls on one simulated slot at once: "
                + ", ".join(f"{r['executor']} {r['gpu_peak_sharing']}" for r in gpu) + "."]
    bound = next((r["resource_bound_s"] for r in rows if r.get("resource_bound_s")), None)
    if bound:
        out += ["", f"The GPU slots bound the wall time at {_ms(bound)} (every call alone on a slot for 100 ms); "
                "over that bound: " + ", ".join(f"{r['executor']} {_ms(r['wall_s'] - bound)}" for r in rows) + "."]
    return out + [""]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if abs(seconds) < 10 else f"{seconds:,.2f} s"


def _s(value: float | None) -> str:
    return f"{value:.3f} s" if value is not None else "-"


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"


def _predictions(data: dict[str, Any]) -> list[str]:
    rows = [r for r in data["results"] if r.get("simulated")]
    if not rows:
        return []
    sim = data["settings"]["simulator"]
    out = [
        "## Simulator predictions",
        "",
        "`llmcompiler simulate` on each plan, cluster of the same shape, declared tool costs (plus: `crunch` is "
        "pure Python), calibrated on this machine with two figures measured apart from the workloads: "
        f"a no-op Dask task's round trip ({sim['unit_overhead_s'] * 1000:.1f} ms per Dask task) and the client's "
        f"own work per call without a cluster ({sim['client_per_call_s'] * 1e6:.0f} µs: compile, build and "
        "pickle the calls, unpickle the observations, build the records). Against the measured median wall.",
        "",
        "| workload | executor | predicted | measured | error | predicted bottleneck |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        sim = r["simulated"]
        out.append(f"| {r['workload']} | {r['executor']} | {_ms(sim['wall_s'])} | {_ms(r['wall_s'])} | "
                   f"{sim['error']:+.1%} | {sim['bottleneck']} |")
    return out + [""]


def _compile_table(data: dict[str, Any], images: dict[str, str]) -> list[str]:
    if not data["compile"]:
        return []
    out = [
        "## Compile time and memory",
        "",
        "Generated plans (`llmcompiler_provider/bench/compile_growth.py`); best of the suite's repeats, the "
        "first in a fresh process, whose growth of peak resident memory during the compile is the peak memory. "
        "The columns without passes and through `PlanStream` are measured by the full suite only.",
        "",
        "| tasks | plan | compile (every pass) | per task | without passes | streamed (PlanStream) | peak memory |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in data["compile"]:
        out.append(f"| {c['tasks']:,} | {c['plan_kib']:,.0f} KiB | {c['seconds']:.3f} s | {c['us_per_task']:.0f} µs | "
                   f"{_s(c['seconds_unoptimized'])} | {_s(c['seconds_streamed'])} | {c['peak_mb']:.1f} MiB |")
    if "compile" in images:
        out += ["", f"![compile growth]({images['compile']})"]
    return out + [""]


def _overhead_reading(data: dict[str, Any]) -> list[str]:
    out = ["## Where the overhead goes", ""]
    phase_rows = [r for r in data["results"] if r["executor"].startswith("llmcompiler") and r["phases_ms"]]
    if phase_rows:
        keys = list(dict.fromkeys(k for r in phase_rows for k in r["phases_ms"]))
        out += [
            "Phases of the project's runs (median ms): plan handed over -> first unit submitted (compile and "
            "submit) -> first call started -> last call stopped -> every result back in the client.",
            "",
            "| workload | executor | " + " | ".join(k.replace("_ms", "").replace("_", " ") for k in keys) + " |",
            "|---|---|" + "---:|" * len(keys),
        ]
        for r in phase_rows:
            out.append(f"| {r['workload']} | {r['executor']} | "
                       + " | ".join(f"{r['phases_ms'].get(k, float('nan')):.1f}" for k in keys) + " |")
        out.append("")
    trip = data.get("profile", {}).get("dask_round_trip")
    if trip:
        out += [
            f"The floor under every Dask executor here: one coroutine task that does nothing, submitted and its "
            f"result gathered, takes {trip['median_ms']:.1f} ms (median of {trip['count']}; min {trip['min_ms']:.1f} ms) "
            "on the embedded cluster.",
            "",
        ]
    for workload, runs in data.get("profile", {}).get("runs", {}).items():
        for executor, figures in runs.items():
            out += [
                f"cProfile of the client side, {workload} on {executor} (wall {figures['wall_s'] * 1000:.0f} ms "
                "while profiled), top functions by own time:",
                "",
                "| function | calls | own ms | cumulative ms |",
                "|---|---:|---:|---:|",
                *(f"| `{t['function']}` | {t['calls']} | {t['self_ms']:.1f} | {t['cumulative_ms']:.1f} |" for t in figures["top"]),
                "",
            ]
    reading = resources.files("llmcompiler_provider.bench").joinpath("reading.md")
    if reading.is_file():
        out += [reading.read_text(encoding="utf-8").strip(), ""]
    return out


def write_outputs(data: dict[str, Any], *, json_path: str | None, plot_dir: str | None, report_path: str | None) -> None:
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    images: dict[str, str] = {}
    if plot_dir:
        for path in write_plots(data, plot_dir):
            name = Path(path).stem
            base = Path(report_path).parent if report_path else Path.cwd()
            images[name] = os.path.relpath(path, base)
    if report_path:
        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text(to_markdown(data, images), encoding="utf-8")
