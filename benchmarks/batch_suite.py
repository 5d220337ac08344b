"""``llmcompiler bench --suite batch``: a batch of prompts against the scripted endpoint, in one run.

Four phases, each against the same scripted endpoint (``batch_endpoint.py``, a process
of its own; its counts are reset between phases):

* ``batch``: ``prompts`` prompts through ``run_batch`` in this process, with no request
  limits given (the LLM backend's admission control settles at what the endpoint
  accepts): throughput against the endpoint's bound, prompts failed, 429s, duplicate
  tool calls executed.
* ``airflow``: ``airflow_prompts`` of them as mapped ``LLMCompilerOperator`` tasks under
  a real Airflow LocalExecutor (``batch_airflow.py``); 0 skips it.
* ``resume``: ``llmcompiler batch`` on ``resume_prompts`` prompts, SIGKILLed once half
  of them were answered, then run again with the same ``--batch-id``: the prompts
  planned twice, from the endpoint's log of planner requests.
* ``memory``: peak resident memory of a batch of ``plan=`` prompts (no LLM) at each of
  ``memory_sizes``, each in a fresh process.

Every size is a parameter (:class:`BatchSuiteSpec`), so the tests run the suite tiny.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import ROOT, child_environment
from benchmarks.batch_endpoint import EndpointProcess, EndpointSpec
from benchmarks.batch_workload import ENDPOINT_ENV, BatchWorkload
from benchmarks.progress import Progress
from benchmarks.suite import cpu_times, machine_info, stolen_share, versions

TOOLSET_PATH = "benchmarks.batch_workload:TOOLSET"
MODEL = "bench"
API_KEY_ENV = "LLMCOMPILER_BENCH_API_KEY"
API_KEY = "bench-key"  # the scripted endpoint takes any key
#: the requests of a batch counted as the limiter settling (the first share, by arrival)
SETTLE_SHARE = 0.1
LLMCOMPILER = str(Path(sys.executable).parent / "llmcompiler")
MEGABYTE = 1 << 20
MEMORY_SAMPLE_S = 0.25


@dataclass(frozen=True)
class BatchSuiteSpec:
    prompts: int = 1000
    airflow_prompts: int = 100  # 0: no Airflow phase
    resume_prompts: int = 300  # 0: no resume phase
    memory_sizes: tuple[int, ...] = (1000, 10000)
    max_active_runs: int = 48
    memory_active_runs: int = 128
    airflow_parallelism: int = 8
    seed: int = 16
    endpoint: EndpointSpec = field(default_factory=EndpointSpec)

    def workload(self, prompts: int) -> BatchWorkload:
        return BatchWorkload(prompts=prompts, seed=self.seed, shared_pool=BatchWorkload(self.prompts).pool)


def llm_settings(endpoint: EndpointProcess) -> Any:
    from llmcompiler_provider.llm.settings import LLMSettings

    return LLMSettings(kind="openai", base_url=endpoint.base_url, model=MODEL, api_key=API_KEY)


def run_config(store: Path) -> Any:
    from llmcompiler_provider.agent.run import RunConfig

    return RunConfig(toolset=TOOLSET_PATH, store_url=f"sqlite:///{store}", max_replans=0)


# phase 1: the batch's throughput ------------------------------------------------------------------
def batch_phase(spec: BatchSuiteSpec, endpoint: EndpointProcess, folder: Path, progress: Progress) -> dict[str, Any]:
    from llmcompiler_provider.batch import BatchOptions, progress_line, run_batch
    from llmcompiler_provider.batch_results import BatchPrompt

    workload = spec.workload(spec.prompts)
    prompts = [BatchPrompt(id=workload.prompt_id(k), prompt=workload.prompt(k)) for k in range(spec.prompts)]
    output = folder / "batch.jsonl"
    endpoint.reset()
    summary = run_batch(
        prompts, llm=llm_settings(endpoint), config=run_config(folder / "batch.db"),
        options=BatchOptions(max_active_runs=spec.max_active_runs, progress_every_s=10.0),
        output=output, on_progress=lambda s: progress.stage(f"batch: {progress_line(s)}"),
    )
    stats, log = endpoint.stats(), endpoint.log()
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    expected = {workload.prompt_id(k): workload.answer(k) for k in range(spec.prompts)}
    wrong = [r["id"] for r in rows if r["status"] == "success" and r["answer"] != expected.get(r["id"])]
    window = (stats["last_end"] - stats["first_arrival"]) if stats["first_arrival"] and stats["last_end"] else None
    return {
        "prompts": spec.prompts,
        "wall_s": summary.wall_s,
        "runs_per_minute": summary.runs_per_minute,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "failed_ids": summary.failed_ids[:20],
        "errors": dict(Counter(r.get("error") or "" for r in rows if r["status"] != "success").most_common(5)),
        "wrong_answers": len(wrong),
        "rows": len(rows),
        "bound_s": stats["bound_s"],
        "efficiency": stats["bound_s"] / summary.wall_s if summary.wall_s else None,
        "endpoint_window_s": window,
        "efficiency_in_window": stats["bound_s"] / window if window else None,
        "tokens": summary.tokens.model_dump(mode="json"),
        "llm_requests_client": summary.llm_requests,
        "rate_limited_client": summary.rate_limited,
        "tool_calls": summary.tool_calls,
        "tool_calls_deduplicated": summary.tool_calls_deduplicated,
        "endpoint": stats,
        "settled": settled_rate_limits(log["requests"]),
        "workload": workload.figures(),
    }


def settled_rate_limits(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """429s among the requests after the first ``SETTLE_SHARE`` of them (by arrival)."""
    ordered = sorted(requests, key=lambda r: r["arrived"])
    later = ordered[int(len(ordered) * SETTLE_SHARE):]
    limited = sum(r["status"] == 429 for r in later)
    return {"after_first_share": SETTLE_SHARE, "requests": len(later), "rate_limited": limited,
            "share": limited / len(later) if later else 0.0,
            "rate_limited_before": sum(r["status"] == 429 for r in ordered) - limited}


# phase 3: resume after SIGKILL --------------------------------------------------------------------
def resume_phase(spec: BatchSuiteSpec, endpoint: EndpointProcess, folder: Path, progress: Progress) -> dict[str, Any]:
    count = spec.resume_prompts
    workload = spec.workload(count)
    source = folder / "resume-input.jsonl"
    source.write_text("".join(json.dumps({"id": workload.prompt_id(k), "prompt": workload.prompt(k)}) + "\n"
                              for k in range(count)), encoding="utf-8")
    batch_id = f"bench-resume-{int(time.time())}"
    command = [
        LLMCOMPILER, "batch", str(source), "--output", str(folder / "resume-output.jsonl"), "--batch-id", batch_id,
        "--toolset", TOOLSET_PATH, "--llm", "openai", "--base-url", endpoint.base_url, "--model", MODEL,
        "--api-key-env", API_KEY_ENV, "--max-replans", "0", "--max-active-runs", str(spec.max_active_runs),
        "--store", f"sqlite:///{folder / 'resume.db'}", "--progress-every", "5", "--json",
    ]
    environment = child_environment(**{ENDPOINT_ENV: endpoint.url, API_KEY_ENV: API_KEY})
    endpoint.reset()
    progress.stage(f"resume: llmcompiler batch on {count} prompts, SIGKILLed once {count // 2} are answered")
    first = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    killed_at = _kill_when_answered(first, endpoint, count // 2)
    _, first_err = first.communicate()
    checkpointed = _checkpointed(batch_id, folder / "resume.db", workload)
    progress.stage(f"resume: the same --batch-id again ({len(checkpointed)} prompts checkpointed)")
    second = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=3600)
    summary = _last_json(second.stdout)
    figures = replanned(endpoint.log()["requests"], killed_at, checkpointed)
    return {
        "prompts": count,
        "killed_at_answers": count // 2,
        "killed": killed_at is not None,
        "first_exit": first.returncode,
        "first_stderr_tail": first_err.strip().splitlines()[-3:] if killed_at is None else [],
        "second_exit": second.returncode,
        "second_stderr_tail": second.stderr.strip().splitlines()[-3:] if second.returncode else [],
        "summary": summary,
        **figures,
    }


def _kill_when_answered(process: subprocess.Popen, endpoint: EndpointProcess, answers: int) -> float | None:
    """SIGKILL the process's group once the endpoint streamed ``answers`` joiner replies; when it was killed
    (None: it ended first)."""
    while process.poll() is None:
        if endpoint.stats()["completed_by_role"].get("joiner", 0) >= answers:
            os.killpg(process.pid, signal.SIGKILL)
            return time.time()
        time.sleep(0.2)
    return None


def _checkpointed(batch_id: str, store: Path, workload: BatchWorkload) -> set[int]:
    """The prompts (numbers) whose runs the killed attempt recorded as succeeded: what a rerun skips."""
    from llmcompiler_provider.store import batch_prompt_states

    numbers = {workload.prompt_id(k): k for k in range(workload.prompts)}
    states = batch_prompt_states(batch_id, f"sqlite:///{store}") if store.exists() else {}
    return {numbers[p] for p, (status, _) in states.items() if status == "success" and p in numbers}


def replanned(requests: list[dict[str, Any]], killed_at: float | None, checkpointed: set[int]) -> dict[str, Any]:
    """Prompts planned (a planner stream admitted) before and after the kill; those planned in both, and of
    those the ones whose runs were checkpointed before the kill (the rest were in flight: planned, not recorded)."""
    if killed_at is None:
        return {"planned_twice": None, "in_flight_at_kill": None, "replanned_after_checkpoint": None}
    planned_before = {r["prompt"] for r in requests if r["role"] == "planner" and r["admitted"] and r["arrived"] < killed_at}
    planned_after = {r["prompt"] for r in requests if r["role"] == "planner" and r["admitted"] and r["arrived"] >= killed_at}
    answered = {r["prompt"] for r in requests if r["role"] == "joiner" and r["completed"] and r["ended"] < killed_at}
    twice = planned_before & planned_after
    return {
        "planned_before_kill": len(planned_before),
        "answered_before_kill": len(answered),
        "checkpointed_before_kill": len(checkpointed),
        "answered_not_checkpointed": len(answered - checkpointed),
        "in_flight_at_kill": len(planned_before - checkpointed),
        "planned_twice": len(twice),
        "replanned_after_checkpoint": len(twice & checkpointed),
        "planned_after_kill": len(planned_after),
    }


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


# phase 4: memory ----------------------------------------------------------------------------------
def memory_phase(spec: BatchSuiteSpec, endpoint: EndpointProcess, folder: Path, progress: Progress) -> list[dict[str, Any]]:
    out = []
    for size in spec.memory_sizes:
        progress.stage(f"memory: {size:,} plan= prompts (no LLM) in a fresh process")
        endpoint.reset()
        command = [sys.executable, "-m", "benchmarks.batch_suite", "memory", "--prompts", str(size),
                   "--seed", str(spec.seed), "--shared-pool", str(spec.workload(size).pool),
                   "--max-active-runs", str(spec.memory_active_runs), "--store", f"sqlite:///{folder / f'memory-{size}.db'}"]
        done = subprocess.run(command, cwd=ROOT, env=child_environment(**{ENDPOINT_ENV: endpoint.url}),
                              capture_output=True, text=True, timeout=7200)
        figures = _last_json(done.stdout)
        if done.returncode != 0 or figures is None:
            raise RuntimeError(f"the memory run of {size} prompts failed: {' | '.join(done.stderr.strip().splitlines()[-3:])}")
        stats = endpoint.stats()
        out.append({**figures, "tool_executions": stats["tool_executions"], "tool_duplicates": stats["tool_duplicates"]})
    return out


class MemorySampler:
    """Peak resident memory of this process, and of it with its children (the embedded cluster's workers)."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.samples: list[tuple[float, float, float]] = []  # (seconds, this process MB, with children MB)
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def sample(self) -> None:
        import psutil

        own = self.me.memory_info().rss
        total = own
        for child in self.me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # a process that just ended
                pass
        self.samples.append((time.monotonic() - self._started, own / MEGABYTE, total / MEGABYTE))

    def _loop(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_S):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def figures(self) -> dict[str, Any]:
        end = self.samples[-1][0] or 1.0
        half = end / 2
        tenths = [max((s[1] for s in self.samples if i * end / 10 <= s[0] <= (i + 1) * end / 10), default=None)
                  for i in range(10)]
        return {
            "peak_rss_by_tenth_mb": tenths,
            "peak_rss_mb": max(s[1] for s in self.samples),
            "peak_rss_with_workers_mb": max(s[2] for s in self.samples),
            "peak_rss_first_half_mb": max(s[1] for s in self.samples if s[0] <= half),
            "peak_rss_second_half_mb": max((s[1] for s in self.samples if s[0] > half), default=0.0),
            "start_rss_mb": self.samples[0][1],
        }


def memory_run(prompts: int, seed: int, shared_pool: int, max_active_runs: int, store: str) -> dict[str, Any]:
    """In the child process: a batch of ``plan=`` prompts (no LLM, no output file), its peak memory."""
    from llmcompiler_provider.agent.run import RunConfig
    from llmcompiler_provider.batch import BatchOptions, run_batch
    from llmcompiler_provider.batch_results import BatchPrompt

    workload = BatchWorkload(prompts=prompts, seed=seed, shared_pool=shared_pool)
    batch = (BatchPrompt(id=workload.prompt_id(k), prompt=workload.prompt(k), plan=workload.plan(k))
             for k in range(prompts))
    with MemorySampler() as memory:
        summary = run_batch(batch, llm=None, config=RunConfig(toolset=TOOLSET_PATH, store_url=store, max_replans=0),
                            options=BatchOptions(max_active_runs=max_active_runs, progress_every_s=30.0))
    return {"prompts": prompts, "wall_s": summary.wall_s, "runs_per_minute": summary.runs_per_minute,
            "succeeded": summary.succeeded, "failed": summary.failed, "max_active_runs": max_active_runs,
            **memory.figures()}


# the suite ----------------------------------------------------------------------------------------
def run_batch_suite(spec: BatchSuiteSpec, progress: Progress | None = None) -> dict[str, Any]:
    """Every phase, against one scripted endpoint; the results as the JSON the report reads."""
    progress = progress or Progress(enabled=False)
    cpu_before = cpu_times()
    data: dict[str, Any] = {
        "suite": "batch",
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "settings": {**_jsonable(asdict(spec)), "settle_share": SETTLE_SHARE},
        "errors": [],
    }
    previous = os.environ.get(ENDPOINT_ENV)
    with tempfile.TemporaryDirectory(prefix="llmcompiler-bench-batch-") as tmp, \
            EndpointProcess(spec.endpoint, spec.workload(spec.prompts)) as endpoint:
        folder = Path(tmp)
        os.environ[ENDPOINT_ENV] = endpoint.url  # before any cluster starts: its workers inherit it
        try:
            phases = [("batch", batch_phase, spec.prompts), ("airflow", _airflow_phase, spec.airflow_prompts),
                      ("resume", resume_phase, spec.resume_prompts), ("memory", memory_phase, len(spec.memory_sizes))]
            for name, phase, size in phases:
                if not size:
                    data[name] = None
                    continue
                progress.stage(f"{name}: starting")
                try:
                    data[name] = phase(spec, endpoint, folder, progress)
                except Exception as exc:  # one failing phase is reported, the suite goes on
                    data[name] = None
                    data["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            if previous is None:
                os.environ.pop(ENDPOINT_ENV, None)
            else:
                os.environ[ENDPOINT_ENV] = previous
    data["machine"]["cpu_stolen_share"] = stolen_share(cpu_before, cpu_times())
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    data["machine"]["load_average_after"] = list(load) if load else None
    from benchmarks.batch_report import batch_targets

    data["targets"] = batch_targets(data)
    progress.done()
    return data


def _airflow_phase(spec: BatchSuiteSpec, endpoint: EndpointProcess, folder: Path, progress: Progress) -> dict[str, Any]:
    from benchmarks.batch_airflow import airflow_phase  # Airflow and the deployment helpers only when it runs

    return airflow_phase(spec, endpoint, folder, progress)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.batch_suite memory ...``: one memory run, its figures as JSON on stdout."""
    parser = argparse.ArgumentParser(description="One memory run of the batch suite (the suite starts it).")
    parser.add_argument("what", choices=("memory",))
    parser.add_argument("--prompts", type=int, required=True)
    parser.add_argument("--seed", type=int, default=BatchSuiteSpec.seed)
    parser.add_argument("--shared-pool", type=int, required=True)
    parser.add_argument("--max-active-runs", type=int, default=BatchSuiteSpec.memory_active_runs)
    parser.add_argument("--store", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(memory_run(args.prompts, args.seed, args.shared_pool, args.max_active_runs, args.store)))


if __name__ == "__main__":
    main()
