"""``llmcompiler bench`` and ``llmcompiler simulate`` as a user runs them (real cluster, real files)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LLMCOMPILER = str(Path(sys.executable).parent / "llmcompiler")
ROOT = Path(__file__).resolve().parents[2]
BENCH_TOOLSET = "benchmarks.tools:bench"


def llmcompiler(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The command as run in the repository's root (``--toolset benchmarks.tools:bench`` imports from there)."""
    return subprocess.run([LLMCOMPILER, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = llmcompiler("bench", "--suite", "smoke", "--json", str(out / "results.json"), "--plot", str(out / "img"),
                       "--report", str(out / "benchmarks.md"))
    return done, out


def test_the_smoke_suite_writes_json_of_the_documented_shape(smoke):
    done, out = smoke
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    assert {"machine", "versions", "results", "compile"} <= set(data)
    assert data["machine"]["cpus"] and data["versions"]["distributed"]
    assert 0.0 <= data["machine"]["cpu_stolen_share"] < 1.0  # Linux: read from /proc/stat
    executors = {r["executor"] for r in data["results"]}
    assert {"llmcompiler", "llmcompiler-streamed", "dask-submit", "asyncio-poll-10ms", "sequential"} <= executors
    for row in data["results"]:
        assert {"workload", "executor", "wall_s", "critical_path_s", "overhead_per_task_ms", "repeats"} <= set(row)
        assert row["wall_s"] > 0 and row["critical_path_s"] > 0 and row["repeats"]
        assert all({"wall_s", "critical_path_s"} <= set(r) for r in row["repeats"])
    assert [c["tasks"] for c in data["compile"]] == [200, 1000]
    assert all(c["seconds"] > 0 and c["peak_mb"] > 0 for c in data["compile"])


def test_gpu_slots_are_never_shared_by_the_project_and_are_by_the_unbounded_executor(smoke):
    data = json.loads((smoke[1] / "results.json").read_text())
    peaks = {r["executor"]: r["gpu_peak_sharing"] for r in data["results"] if r["workload"] == "gpu-fanout-16x100ms"}
    assert peaks["llmcompiler"] == 1 and peaks["dask-submit"] == 1
    assert peaks["asyncio-poll-10ms"] > 1


def test_the_report_names_its_command_and_the_charts_are_pngs(smoke):
    done, out = smoke
    report = (out / "benchmarks.md").read_text()
    assert "llmcompiler bench --suite smoke" in report and "## Targets" in report
    assert "of this virtual machine's CPU time to other guests" in report
    assert "![overhead per call](img/overhead.png)" in report
    for name in ("overhead.png", "compile.png"):
        assert (out / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_goes_to_stderr_and_a_summary_to_stdout(smoke):
    done, _ = smoke
    assert "[bench" in done.stderr and "workload/executor pairs" in done.stderr
    assert "suite smoke:" in done.stdout and "[bench" not in done.stdout


def test_a_bad_token_rate_is_one_line_and_exit_status_2():
    done = llmcompiler("bench", "--tokens-per-s", "0")
    assert done.returncode == 2 and done.stderr.strip() == "llmcompiler bench: --tokens-per-s must be positive"


def test_python_m_benchmarks_is_the_same_command_under_its_own_name():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--tokens-per-s", "0"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == "python -m benchmarks: --tokens-per-s must be positive"


def test_without_the_repository_the_command_says_where_the_suite_lives(tmp_path):
    """The package as a wheel installs it: a copy with no benchmarks/ beside it, run from elsewhere."""
    shutil.copytree(ROOT / "llmcompiler_provider", tmp_path / "site" / "llmcompiler_provider",
                    ignore=shutil.ignore_patterns("__pycache__"))
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-m", "llmcompiler_provider", "bench", "--suite", "smoke"],
                          capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("llmcompiler bench: the benchmark suite is not part of the installed package")
    assert "benchmarks/ folder" in done.stderr


def test_simulate_prints_the_prediction_for_a_plan_file(tmp_path):
    plan = tmp_path / "plan.txt"
    plan.write_text('1. gpu_100ms("a")\n2. gpu_100ms("b")\n3. gpu_100ms("c")\n4. join()\n')
    done = llmcompiler("simulate", str(plan), "--toolset", BENCH_TOOLSET, "--workers", "1", "--gpus", "1",
                       "--overhead-ms", "0", "--json")
    assert done.returncode == 0, done.stderr
    prediction = json.loads(done.stdout)
    assert prediction["wall_s"] == pytest.approx(0.3) and prediction["critical_path_s"] == pytest.approx(0.1)
    assert prediction["bottleneck"].startswith("GPU slots")
    text = llmcompiler("simulate", str(plan), "--toolset", BENCH_TOOLSET, "--copies", "2", "--overhead-ms", "0")
    assert "predicted wall time   0.300 s" in text.stdout  # 6 calls on the default 2 slots


def test_simulate_reports_a_bad_plan_like_the_compiler_and_a_bad_option_in_one_line(tmp_path):
    plan = tmp_path / "bad.txt"
    plan.write_text('1. serch("a")\n')
    done = llmcompiler("simulate", str(plan))
    assert done.returncode == 2 and done.stderr.startswith(f"{plan}:1:4: error: unknown tool 'serch'")
    done = llmcompiler("simulate", str(plan), "--workers", "0")
    assert done.returncode == 2
    assert done.stderr.strip() == "llmcompiler simulate: a cluster needs at least one worker with at least one thread"


def test_the_report_can_be_rendered_again_from_the_json_without_running(smoke, tmp_path):
    _, out = smoke
    done = llmcompiler("bench", "--from-json", str(out / "results.json"), "--report", str(tmp_path / "again.md"))
    assert done.returncode == 0, done.stderr
    again = (tmp_path / "again.md").read_text()
    assert "llmcompiler bench --suite smoke" in again and "## Targets" in again
    missing = llmcompiler("bench", "--from-json", str(tmp_path / "nothing.json"))
    assert missing.returncode == 2 and missing.stderr.startswith("llmcompiler bench: cannot read results from")
