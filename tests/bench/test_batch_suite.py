"""``llmcompiler bench --suite batch`` run tiny, as a user runs it: the scripted endpoint as a process, the batch
runner on a real embedded cluster, ``llmcompiler batch`` SIGKILLed and resumed, real SQLite stores; and the
Airflow comparison under a real deployment (slow)."""

from __future__ import annotations

import os

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.batch_report import HEADING, keep_batch_section, write_section

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--suite", "batch", "--prompts", "20", "--airflow-prompts", "0", "--resume-prompts", "20",
        "--memory-sizes", "20,40", "--capacity", "4", "--max-active-runs", "8"]
OTHER_SUITES = "# Benchmarks\n\nThe other suites' tables.\n"


def bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch-suite")
    (out / "benchmarks.md").write_text(OTHER_SUITES)
    done = bench(*TINY, "--json", str(out / "batch.json"), "--report", str(out / "benchmarks.md"))
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    return json.loads((out / "batch.json").read_text()), out, done


def test_every_prompt_of_the_batch_is_answered_right_and_no_tool_call_runs_twice(tiny):
    data, _, _ = tiny
    batch = data["batch"]
    assert batch["succeeded"] == batch["rows"] == 20 and batch["failed"] == 0 and batch["wrong_answers"] == 0
    stats = batch["endpoint"]
    assert stats["tool_duplicates"] == 0 and stats["tool_executions"] == batch["workload"]["distinct_calls"]
    assert stats["completed_by_role"]["joiner"] == 20
    assert 0 < batch["bound_s"] < batch["wall_s"] and 0 < batch["efficiency"] <= 1


def test_the_resumed_batch_plans_no_prompt_the_killed_one_had_recorded(tiny):
    resume = tiny[0]["resume"]
    assert resume["killed"] and resume["first_exit"] == -9
    assert resume["checkpointed_before_kill"] >= 1
    assert resume["replanned_after_checkpoint"] == 0
    assert resume["planned_twice"] <= resume["in_flight_at_kill"]
    assert resume["summary"]["succeeded"] == 20 and resume["summary"]["resumed"] == resume["checkpointed_before_kill"]
    assert resume["planned_after_kill"] == 20 - resume["checkpointed_before_kill"]


def test_memory_is_measured_per_size_in_a_fresh_process(tiny):
    memory = tiny[0]["memory"]
    assert [m["prompts"] for m in memory] == [20, 40]
    assert all(m["failed"] == 0 and m["succeeded"] == m["prompts"] and m["peak_rss_mb"] > 0 for m in memory)
    assert all(m["tool_duplicates"] == 0 for m in memory)


def test_the_targets_are_reported_and_the_airflow_comparison_skipped_when_asked(tiny):
    data, _, done = tiny
    names = " | ".join(t["target"] for t in data["targets"])
    for expected in ("endpoint's bound", "no prompt failed", "429", "duplicate tool call", "SIGKILL", "memory bounded"):
        assert expected in names
    assert data["airflow"] is None and "Airflow task mapping" not in names
    assert data["errors"] == []
    assert "suite batch: 20 prompts" in done.stdout and "[bench" in done.stderr


def test_the_report_replaces_only_its_own_section(tiny, tmp_path):
    data, out, _ = tiny
    report = (out / "benchmarks.md").read_text()
    assert report.startswith(OTHER_SUITES) and report.count(HEADING + "\n") == 1
    assert "--suite batch --prompts 20" in report and "### Resume after SIGKILL" in report
    again = bench("--suite", "batch", "--from-json", str(out / "batch.json"), "--report", str(out / "benchmarks.md"))
    assert again.returncode == 0, again.stderr
    assert (out / "benchmarks.md").read_text() == report


def test_another_suites_report_keeps_the_batch_section(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text(OTHER_SUITES)
    write_section({"batch": None, "targets": [], "errors": [], "generated": "now", "settings": _settings(),
                   "machine": {"cpus": 2, "processor": "x", "platform": "p", "python": "3"}}, str(path))
    section = path.read_text()[len(OTHER_SUITES) + 1:]
    assert section.startswith(HEADING)
    assert keep_batch_section("# Benchmarks\n\nNew tables.\n", str(path)) == "# Benchmarks\n\nNew tables.\n\n" + section


def test_a_bad_size_is_one_line_and_exit_status_2():
    done = bench("--suite", "batch", "--prompts", "0")
    assert done.returncode == 2 and done.stderr.strip() == "python -m benchmarks: --prompts must be at least 1, not 0"


def _settings() -> dict:
    from dataclasses import asdict

    from benchmarks.batch_suite import BatchSuiteSpec

    return asdict(BatchSuiteSpec())


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("LLMCOMPILER_BENCH_AIRFLOW_TESTS"),
                    reason="starts a whole Airflow deployment for the benchmark's own comparison (about 100 s; "
                           "tests/deployment proves the deployment): set LLMCOMPILER_BENCH_AIRFLOW_TESTS=1")
def test_mapped_operator_tasks_under_a_real_airflow_answer_every_prompt(tmp_path):
    """The Airflow comparison on its own: 3 prompts as mapped tasks under the LocalExecutor and PostgreSQL."""
    from benchmarks.batch_airflow import airflow_phase
    from benchmarks.batch_endpoint import EndpointProcess
    from benchmarks.batch_suite import BatchSuiteSpec
    from benchmarks.progress import Progress

    spec = BatchSuiteSpec(prompts=3, airflow_prompts=3, airflow_parallelism=3)
    with EndpointProcess(spec.endpoint, spec.workload(3)) as endpoint:
        figures = airflow_phase(spec, endpoint, tmp_path, Progress(enabled=False))
    assert figures["state"] == "success" and figures["succeeded"] == 3 and figures["failed"] == 0
    assert figures["requests"] >= 6 and figures["wall_s"] > 0 and figures["overhead_per_prompt_s"] is not None
    assert figures["tool_executions"] >= 1
