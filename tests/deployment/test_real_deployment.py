"""The provider in a real Airflow deployment (scheduler, dag-processor, triggerer, api-server, LocalExecutor,
PostgreSQL), driven as a user drives it: through the REST API, with the DAGs of ``dags/``.

The per-task figures these runs measure (task start to the planner's first token, the run's own
start-up) are written to ``test-artifacts/deployment/figures.json`` for docs/deployment.md, never asserted.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store import get_run

pytestmark = pytest.mark.slow
FIGURES = Path(__file__).resolve().parents[2] / "test-artifacts" / "deployment" / "figures.json"


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _store(deployment):
    return f"sqlite:///{deployment.home / 'llmcompiler.db'}"


def _record_figures(name: str, task_instance: dict, run: RunResult) -> None:
    """Task start (Airflow's start_date) -> run start -> the planner's first token, in seconds."""
    task_start = _epoch(task_instance["start_date"])
    planner = next((call for call in run.llm_calls if call.role == "planner"), None)
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[name] = {
        "task_start_to_run_start_s": round(run.started - task_start, 3),
        "task_start_to_first_plan_token_s": (
            round(planner.started + planner.ttft_s - task_start, 3) if planner and planner.ttft_s else None
        ),
        "run_wall_s": run.timings.wall_s,
        "task_duration_s": round(_epoch(task_instance["end_date"]) - task_start, 3),
    }
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2))


def _most_at_once(task_instances: list[dict]) -> int:
    """The most of these task instances that were running at the same moment."""
    edges = sorted([(_epoch(ti["start_date"]), 1) for ti in task_instances]
                   + [(_epoch(ti["end_date"]), -1) for ti in task_instances])
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most


def test_the_example_dag_succeeds_on_embedded_defaults(deployment):
    run_id = deployment.trigger("llmcompiler_example")
    assert deployment.wait_for_run("llmcompiler_example", run_id) == "success"

    answer = deployment.xcom("llmcompiler_example", run_id, "ask")
    assert isinstance(answer, str) and answer.strip()
    stored = get_run(deployment.xcom("llmcompiler_example", run_id, "ask", key="run_id"), _store(deployment))
    assert stored.status == "success" and stored.answer == answer
    assert stored.airflow.run_id == run_id and stored.airflow.task_id == "ask"
    assert stored.all_tasks and all(task.status == "success" for task in stored.all_tasks)
    assert stored.cluster.kind == "local"
    [task_instance] = deployment.task_instances("llmcompiler_example", run_id)
    _record_figures("llmcompiler_example (first task on the machine)", task_instance, stored)


def test_a_second_run_of_the_example_starts_from_what_the_first_left_on_disk(deployment):
    run_id = deployment.trigger("llmcompiler_example", conf={"question": "How long is the Nile?"})
    assert deployment.wait_for_run("llmcompiler_example", run_id) == "success"

    stored = get_run(deployment.xcom("llmcompiler_example", run_id, "ask", key="run_id"), _store(deployment))
    assert stored.status == "success" and stored.prompt == "How long is the Nile?"
    [task_instance] = deployment.task_instances("llmcompiler_example", run_id)
    _record_figures("llmcompiler_example (model state on disk)", task_instance, stored)


def test_the_batch_dag_runs_its_prompts_at_once_and_summarises_them(deployment):
    run_id = deployment.trigger("llmcompiler_batch")
    assert deployment.wait_for_run("llmcompiler_batch", run_id) == "success"

    asked = [ti for ti in deployment.task_instances("llmcompiler_batch", run_id) if ti["task_id"] == "ask"]
    assert sorted(ti["map_index"] for ti in asked) == [0, 1, 2, 3]
    assert {ti["state"] for ti in asked} == {"success"}
    assert _most_at_once(asked) == 4  # four embedded clusters and models on two cores at once
    summary = deployment.xcom("llmcompiler_batch", run_id, "summarize")
    assert (summary["runs"], summary["succeeded"], summary["failed"]) == (4, 4, 0)
    for ti in asked:
        stored = get_run(deployment.xcom("llmcompiler_batch", run_id, "ask", key="run_id",
                                         map_index=ti["map_index"]), _store(deployment))
        assert stored.status == "success"
        _record_figures(f"llmcompiler_batch[{ti['map_index']}]", ti, stored)


def test_a_failed_prompt_fails_the_batch_run_and_the_summary_names_it(deployment):
    questions = ["How long is the Nile?", "   "]
    run_id = deployment.trigger("llmcompiler_batch", conf={"questions": questions})
    assert deployment.wait_for_run("llmcompiler_batch", run_id) == "failed"

    states = {(ti["task_id"], ti["map_index"]): ti["state"]
              for ti in deployment.task_instances("llmcompiler_batch", run_id)}
    assert (states[("ask", 0)], states[("ask", 1)], states[("summarize", -1)]) == ("success", "failed", "failed")
    failed_run_id = deployment.xcom("llmcompiler_batch", run_id, "ask", key="run_id", map_index=1)
    summary = deployment.xcom("llmcompiler_batch", run_id, "summarize")
    assert (summary["runs"], summary["succeeded"], summary["failed_map_indexes"]) == (2, 1, [1])
    log = deployment.task_log("llmcompiler_batch", run_id, "summarize")
    assert f"1 of 2 prompts failed, more than max_failed_fraction=0 allows: map index 1 (run {failed_run_id}" in log


def test_a_deferrable_run_waits_in_the_triggerer_and_resumes_with_the_answer(deployment):
    seen: set[str] = set()
    run_id = deployment.trigger("llmcompiler_deployment_deferred")
    state = deployment.wait_for_run("llmcompiler_deployment_deferred", run_id,
                                    watch=lambda tis: seen.update(ti["state"] for ti in tis))
    assert state == "success"
    assert "deferred" in seen

    answer = deployment.xcom("llmcompiler_deployment_deferred", run_id, "ask")
    stored = get_run(deployment.xcom("llmcompiler_deployment_deferred", run_id, "ask", key="run_id"),
                     _store(deployment))
    assert stored.status == "success" and stored.answer == answer and answer.strip()
    assert stored.cluster.kind == "address"


def test_embedded_worker_processes_start_inside_a_task_process(deployment):
    run_id = deployment.trigger("llmcompiler_deployment_worker_processes")
    assert deployment.wait_for_run("llmcompiler_deployment_worker_processes", run_id) == "success"

    stored = get_run(deployment.xcom("llmcompiler_deployment_worker_processes", run_id, "compute", key="run_id"),
                     _store(deployment))
    assert [task.result for task in stored.all_tasks] == ["42", "13"]
    assert all(task.worker.startswith("tcp://") for task in stored.all_tasks)  # processes, not inproc://
    [task_instance] = deployment.task_instances("llmcompiler_deployment_worker_processes", run_id)
    _record_figures("embedded worker processes, a plan without an LLM", task_instance, stored)


def test_the_plugin_serves_the_runs_page_without_a_plugins_folder(deployment):
    assert not (deployment.home / "plugins").exists()
    plugins = deployment.get("/api/v2/plugins")["plugins"]
    [plugin] = [p for p in plugins if p["name"] == "llmcompiler"]
    assert plugin["source"].startswith("llmcompiler-provider==")
    assert deployment.get("/api/v2/plugins/importErrors")["total_entries"] == 0

    page = deployment.api.get("/llmcompiler/runs")
    assert page.status_code == 200 and page.text.count('<tr class="run-row"') >= 1
    assert httpx.get(f"{deployment.base_url}/llmcompiler/runs").status_code == 401
