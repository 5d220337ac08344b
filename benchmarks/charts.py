"""The suite's PNG charts: overhead per call by executor and workload, compile growth."""

from __future__ import annotations

import os
from typing import Any

from benchmarks.targets import row


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
            found = row(rows, workload, executor)
            values.append(max(found["overhead_per_task_ms"], 1e-3) if found else float("nan"))
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
