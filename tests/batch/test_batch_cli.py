"""`llmcompiler batch` as a user runs it: a file in, a row per prompt out, the summary as JSON, bad input
named by file and line, and a batch killed half way that resumes without planning its finished prompts again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from llmcompiler_provider.store import batch_prompt_states

REPO = Path(__file__).resolve().parents[2]
PAUSE_PLAN = "1. pause(0.4)\n2. join()\n<END_OF_PLAN>"


def batch_command(server, input_path, *extra: str) -> list[str]:
    return [str(Path(sys.executable).parent / "llmcompiler"), "batch", str(input_path), "--llm", "openai",
            "--base-url", server.url("planner"), "--model", "scripted", "--api-key-env", "NO_SUCH_KEY", *extra]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def write_prompts(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) + "\n" for i in range(n)))
    return path


def test_a_file_of_prompts_gives_a_row_each_and_a_json_summary(planning_server, sqlite_url, tmp_path):
    source = write_prompts(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    done = subprocess.run(batch_command(planning_server, source, "--output", str(out), "--store", sqlite_url,
                                        "--json", "--batch-id", "cli-1"),
                          capture_output=True, text=True, timeout=300, env=environment())

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["batch_id"], summary["total"], summary["succeeded"]) == ("cli-1", 3, 3)
    for key in ("failed", "skipped", "resumed", "wall_s", "runs_per_minute", "tokens", "llm_requests",
                "rate_limited", "tool_calls", "tool_calls_deduplicated"):
        assert key in summary
    assert "[llmcompiler] batch cli-1" in done.stderr  # the progress line
    assert len(out.read_text().splitlines()) == 3


def test_bad_input_exits_2_naming_the_file_and_line(planning_server, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "fine"}\n{"prompt": \n')
    done = subprocess.run(batch_command(planning_server, source, "--store", "none"), capture_output=True,
                          text=True, timeout=120, env=environment())
    assert done.returncode == 2
    assert f"llmcompiler batch: error: {source}:2: not JSON" in done.stderr


def test_a_batch_killed_half_way_resumes_without_planning_finished_prompts_again(planning_server, sqlite_url,
                                                                                 tmp_path):
    n = 12
    planning_server.plans.update({f"question {i}": PAUSE_PLAN for i in range(n)})
    source = write_prompts(tmp_path / "in.jsonl", n)
    command = batch_command(planning_server, source, "--store", sqlite_url, "--batch-id", "killed-1",
                            "--toolset", "tests.batch.batch_tools:tools", "--max-active-runs", "2")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment())
    try:
        deadline = time.monotonic() + 180
        while len(batch_prompt_states("killed-1", sqlite_url)) < n // 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=60)
    finished_before = {p for p, (status, _) in batch_prompt_states("killed-1", sqlite_url).items()
                       if status == "success"}
    assert n // 2 <= len(finished_before) < n

    done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300, env=environment())

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["succeeded"], summary["resumed"]) == (n, len(finished_before))
    planned_twice = [q for q, count in planning_server.planned.items() if count > 1]
    assert len(planned_twice) <= 2  # at most the runs in flight when it was killed
    assert not {f"q{q.split()[1]}" for q in planned_twice} & finished_before


def test_two_batches_on_one_scheduler_share_the_endpoints_concurrency_limit(planning_server, sqlite_url, tmp_path):
    from distributed import LocalCluster

    planning_server.delay_s = 0.3  # long enough that requests of both batches overlap
    with LocalCluster(n_workers=1, threads_per_worker=8, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        commands = [batch_command(planning_server, write_prompts(tmp_path / f"in{k}.jsonl", 6), "--store", sqlite_url,
                                  "--scheduler", cluster.scheduler_address, "--max-active-runs", "4",
                                  "--max-concurrent-requests", "2", "--batch-id", f"shared-{k}")
                    for k in range(2)]
        batches = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
                   for c in commands]
        outcomes = [b.communicate(timeout=300) for b in batches]

    assert [b.returncode for b in batches] == [0, 0], outcomes
    assert sum(planning_server.planned.values()) == 12  # six questions in each file, each planned once per batch
    assert planning_server.most_at_once == 2  # one limit for both processes (4 without), kept by the scheduler
