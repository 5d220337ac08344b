"""Load: a batch of prompts through one embedded cluster, every run recorded, GPU slots never shared.

    .venv/bin/python -m benchmarks.load_bench [--runs 200] [--concurrency 16] [--store sqlite:///load.db]

Each prompt is a ``plan=`` run (the planner is left out: the real local model writes
one plan in seconds, too slow for hundreds on two cores, and planning is measured by
benchmarks/planner_bench.py): two BM25 searches over the demo encyclopedia and one call
that holds a ``GPU`` slot for 20 ms. The runs share the default embedded cluster
(2 worker processes x 32 threads, one GPU slot each) and go ``--concurrency`` at a
time, as the mapped tasks of one Airflow batch would. Printed: runs per minute,
failures, runs recorded, peak memory (this process and the cluster's processes,
sampled), memory growth over the batch, and any two GPU calls that overlapped on
one worker's slot (from the stored task intervals). tests/reliability/test_load.py
runs the same batch and asserts on it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cloudpickle
import psutil

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.cluster import GPU_RESOURCE, ClusterOptions, open_client
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store import get_run
from llmcompiler_provider.tools import Toolset
from llmcompiler_provider.tools.demo import demo

GPU_HOLD_S = 0.02
RSS_SAMPLE_S = 0.25
MEGABYTE = 1 << 20
TOPICS = ("Nile", "Eiffel Tower", "Mount Everest", "Amazon River", "Mona Lisa", "Great Wall of China",
          "Statue of Liberty", "Sahara", "Pacific Ocean", "Moon")

load_tools = Toolset("load", description="Demo search and a call that holds one GPU slot.")
load_tools.add(demo["search"].fn, name="search", cost=0.01)


@load_tools.tool(resources={GPU_RESOURCE: 1}, cost=GPU_HOLD_S)
def gpu_summary(text: str) -> str:
    """Hold one GPU slot for 20 ms (a stand-in for a model call on the GPU) and return a summary."""
    time.sleep(GPU_HOLD_S)
    return text[:80]


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers may lack benchmarks/ on their path


def load_plan(n: int) -> str:
    topic, other = TOPICS[n % len(TOPICS)], TOPICS[(n * 7 + 3) % len(TOPICS)]
    return (f'1. search("{topic} #{n}")\n2. gpu_summary("summary of $1")\n'
            f'3. search("{other}")\n4. join()')


class MemorySampler:
    """Samples the resident memory of this process and its children (the cluster's workers)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def resident_mb() -> float:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # a process that just ended
                pass
        return total / MEGABYTE

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((self.elapsed(), self.resident_mb()))
            self._stop.wait(RSS_SAMPLE_S)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((self.elapsed(), self.resident_mb()))


@dataclass
class LoadReport:
    runs: int
    concurrency: int
    elapsed_s: float
    runs_per_minute: float
    succeeded: int
    failures: dict[str, str]  # run id -> error
    recorded: int  # runs found in the store, each with all its tasks
    unsaved: int  # runs whose metrics could not be written
    gpu_calls: int
    gpu_overlaps: list[str] = field(default_factory=list)  # pairs of GPU calls that shared a slot
    peak_rss_mb: float = 0.0
    rss_after_warmup_mb: float = 0.0  # once a quarter of the runs are done
    rss_end_mb: float = 0.0


def gpu_overlaps(stored_runs: list[RunResult]) -> tuple[int, list[str]]:
    """How many GPU calls ran, and each pair that overlapped on one worker (each worker has one slot)."""
    by_worker: dict[str, list[tuple[float, float, str]]] = {}
    for run in stored_runs:
        for task in run.all_tasks:
            if task.resources.get(GPU_RESOURCE) and task.ran:
                label = f"{run.run_id[:8]}/${task.id}"
                by_worker.setdefault(task.worker or "?", []).append((task.start, task.stop, label))
    overlaps = []
    for worker, calls in by_worker.items():
        calls.sort()
        for (_, stop, first), (start, _, second) in zip(calls, calls[1:]):
            if start < stop:
                overlaps.append(f"{first} and {second} on {worker}")
    return sum(map(len, by_worker.values())), overlaps


def run_batch(runs: int, concurrency: int, store_url: str, cluster: ClusterOptions | None = None) -> LoadReport:
    """``runs`` plan runs, ``concurrency`` at a time, on one embedded cluster; what happened."""
    config = RunConfig(toolset=load_tools, store_url=store_url, max_replans=0)
    done = itertools.count(1)
    warmed_up: list[float] = []  # when a quarter of the runs were done

    with open_client(cluster or ClusterOptions(processes=True)) as (client, info), MemorySampler() as memory:

        def one(n: int) -> RunResult:
            result = LLMCompilerRun(plan=load_plan(n), config=config, client=client, cluster_info=info).execute()
            if next(done) == max(1, runs // 4):
                warmed_up.append(memory.elapsed())
            return result

        started = time.monotonic()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="load-run") as pool:
            results = list(pool.map(one, range(runs)))
        elapsed = time.monotonic() - started
    stored = [get_run(r.run_id, store_url) for r in results]
    complete = [s for s in stored if s is not None and len(s.all_tasks) == 3]
    calls, overlaps = gpu_overlaps(complete)
    after_warmup = [mb for t, mb in memory.samples if warmed_up and t >= warmed_up[0]] or [memory.samples[0][1]]
    return LoadReport(
        runs=runs,
        concurrency=concurrency,
        elapsed_s=round(elapsed, 2),
        runs_per_minute=round(runs / elapsed * 60, 1),
        succeeded=sum(r.status == "success" for r in results),
        failures={r.run_id: r.error or "?" for r in results if r.status != "success"},
        recorded=len(complete),
        unsaved=sum(not r.metrics_saved for r in results),
        gpu_calls=calls,
        gpu_overlaps=overlaps,
        peak_rss_mb=round(max(mb for _, mb in memory.samples), 1),
        rss_after_warmup_mb=round(after_warmup[0], 1),
        rss_end_mb=round(memory.samples[-1][1], 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--store", help="SQLAlchemy URL of the metrics store (default: a fresh SQLite file)")
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = args.store or f"sqlite:///{Path(folder) / 'load.db'}"
        report = run_batch(args.runs, args.concurrency, store)
    print(f"{report.runs} runs, {report.concurrency} at a time, in {report.elapsed_s:.1f} s: "
          f"{report.runs_per_minute:.0f} runs/min")
    print(f"succeeded {report.succeeded}, failed {len(report.failures)}, recorded {report.recorded}, "
          f"metrics not saved {report.unsaved}")
    print(f"GPU calls {report.gpu_calls}, overlapping on one slot: {len(report.gpu_overlaps)}")
    print(f"memory (this process + cluster): peak {report.peak_rss_mb:.0f} MB, after the first quarter "
          f"{report.rss_after_warmup_mb:.0f} MB, at the end {report.rss_end_mb:.0f} MB")
    for run_id, error in list(report.failures.items())[:5]:
        print(f"  failed {run_id}: {error}")
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=1))


if __name__ == "__main__":
    main()
