"""The whole run loop with the real local model, the demo toolset and a real Dask cluster."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmcompiler_provider.agent.joiner import parse_decision
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.store import get_run
from llmcompiler_provider.tools import Toolset

REPO = Path(__file__).resolve().parents[2]


def make_run(cluster_client, store, **kwargs):
    client, info = cluster_client
    config = kwargs.pop("config", None) or RunConfig(store_url=store, max_replans=0)
    return LLMCompilerRun(client=client, cluster_info=info, config=config, **kwargs)


@pytest.mark.slow
def test_a_prompt_is_planned_run_and_answered_by_the_local_model(cluster_client, local_model, sqlite_url):
    run = make_run(cluster_client, sqlite_url, llm=local_model,
                   prompt="Which is taller, the Eiffel Tower or the Statue of Liberty?")
    result = run.execute()
    assert result.status == "success", result.error
    assert result.answer
    plan = result.plans[0]
    assert plan.tasks and all(t.tool in {"search", "math", "llm"} for t in plan.tasks)
    assert [c.role for c in result.llm_calls] == ["planner", "joiner"]
    assert all(c.completion_tokens > 0 and c.latency_s > 0 for c in result.llm_calls)
    assert result.timings.first_dispatch_s is not None and result.timings.planning_s > 0
    stored = get_run(result.run_id, sqlite_url)
    assert stored.status == "success" and len(stored.all_tasks) == len(plan.tasks)


def test_a_given_plan_runs_without_an_llm_and_is_recorded(cluster_client, sqlite_url):
    plan = '1. search("Eiffel Tower")\n2. search("Statue of Liberty")\n3. math("which is larger", [$1, $2])\n4. join()'
    result = make_run(cluster_client, sqlite_url, plan=plan).execute()
    assert result.status == "success" and result.answer is None
    tasks = {t.id: t for t in result.plans[0].tasks}
    assert tasks[3].result.startswith("Eiffel Tower (330) is the largest")
    assert result.metrics_saved is True
    assert result.timings.critical_path_s > 0 and result.timings.sum_task_s >= result.timings.critical_path_s


def test_an_empty_prompt_is_a_clear_recorded_failure(cluster_client, local_model, sqlite_url):
    result = make_run(cluster_client, sqlite_url, prompt="   ", llm=local_model).execute()
    assert result.status == "failed"
    assert result.error == "the prompt is empty: give a question, or a plan to run"
    assert get_run(result.run_id, sqlite_url).error == result.error


def test_a_plan_that_does_not_compile_fails_with_the_compiler_errors(cluster_client, sqlite_url):
    result = make_run(cluster_client, sqlite_url, plan='1. serch("x")\n2. join()').execute()
    assert result.status == "failed"
    assert "unknown tool 'serch' (did you mean 'search'?)" in result.error
    assert get_run(result.run_id, sqlite_url).status == "failed"


def test_cancel_from_another_thread_records_a_cancelled_run(cluster_client, sqlite_url):
    slow = Toolset("slow")

    @slow.tool
    def wait(seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    config = RunConfig(toolset=slow, store_url=sqlite_url, max_replans=0)
    run = make_run(cluster_client, sqlite_url, plan="1. wait(20)\n2. join()", config=config)
    threading.Timer(1.0, run.cancel).start()
    result = run.execute()
    assert result.status == "cancelled"
    stored = get_run(result.run_id, sqlite_url)
    assert stored.status == "cancelled"
    assert [t.status for t in stored.all_tasks] == ["cancelled"]


def test_an_unreachable_store_does_not_fail_the_run_but_says_so(cluster_client, tmp_path):
    url = "postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = make_run(cluster_client, url, plan='1. search("Nile")\n2. join()').execute()
    assert result.status == "success"
    assert result.metrics_saved is False and "could not write to the metrics store" in result.metrics_error


@pytest.mark.parametrize(
    ("text", "replan", "answer"),
    [
        ("Thought: easy\nAction: Finish(330 metres)", False, "330 metres"),
        ("Thought: missing\nAction: Replan(look up Spain)", True, None),
        ("just some words", False, "just some words"),
    ],
)
def test_the_joiner_reply_is_read_as_finish_or_replan(text, replan, answer):
    decision = parse_decision(text, can_replan=True)
    assert decision.replan is replan and decision.answer == answer


def test_a_replan_without_replans_left_is_an_answer():
    decision = parse_decision("Thought: x\nAction: Replan(more)", can_replan=False)
    assert decision.replan is False and decision.answer == "more"


def test_cli_run_with_a_plan_prints_json(tmp_path):
    plan = tmp_path / "plan.txt"
    plan.write_text('1. search("Mount Everest")\n2. math("which is larger", [$1, 8000])\n3. join()\n<END_OF_PLAN>\n')
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "llmcompiler_provider", "run", "--plan", str(plan), "--store", store, "--json"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "success" and data["answer"] is None and data["run_id"]
    tasks = data["plans"][0]["tasks"]
    assert [t["tool"] for t in tasks] == ["search", "math"]
    assert all(t["status"] == "success" and t["worker"] and t["start"] <= t["stop"] for t in tasks)
    assert set(data["timings"]) >= {"wall_s", "critical_path_s", "speedup"}
    shown = subprocess.run(
        [sys.executable, "-m", "llmcompiler_provider", "runs", "show", data["run_id"], "--store", store, "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert json.loads(shown.stdout)["status"] == "success"


def test_cli_run_with_a_bad_plan_fails_with_one_clear_line(tmp_path):
    plan = tmp_path / "bad.txt"
    plan.write_text('1. search("x"\n2. join()\n')
    proc = subprocess.run(
        [sys.executable, "-m", "llmcompiler_provider", "run", "--plan", str(plan), "--store", "none"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "llmcompiler run: failed: <plan>:1:" in proc.stderr
