"""LLMCompilerBatchOperator in the real deployment: a batch whose first try fails on one prompt is retried by
the scheduler, and the retry (a new task process) resumes the batch, planning only the prompt that failed."""

from __future__ import annotations

import json

import pytest

from llmcompiler_provider.store import batch_prompt_states, get_batch
from tests.batch.planning_server import PlanningServer

pytestmark = pytest.mark.slow
DAG_ID = "llmcompiler_deployment_batch"


def test_a_retried_batch_resumes_and_plans_only_what_failed(deployment, tmp_path):
    source = tmp_path / "prompts.jsonl"
    source.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) + "\n" for i in range(4)))
    out = tmp_path / "answers.jsonl"
    with PlanningServer() as server:
        server.broken_first["question 2"] = 2  # both planner attempts of the first try fail
        response = deployment.api.post("/api/v2/connections", json={
            "connection_id": "deployment_batch_llm", "conn_type": "llmcompiler_llm",
            "host": server.url("planner"), "extra": json.dumps({"model": "scripted"})})
        assert response.status_code in (201, 409), response.text

        run_id = deployment.trigger(DAG_ID, conf={"input": source.as_uri(), "output": out.as_uri()})
        assert deployment.wait_for_run(DAG_ID, run_id) == "success"

    [task_instance] = deployment.task_instances(DAG_ID, run_id)
    assert task_instance["try_number"] == 2  # the first try failed on question 2, the scheduler retried it
    summary = deployment.xcom(DAG_ID, run_id, "answer_all")
    assert (summary["total"], summary["succeeded"], summary["resumed"], summary["failed"]) == (4, 4, 3, 0)
    assert {q: server.planned[q] for q in sorted(server.planned)} == {
        "question 0": 1, "question 1": 1, "question 2": 3, "question 3": 1}
    store = f"sqlite:///{deployment.home / 'llmcompiler.db'}"
    assert {s for s, _ in batch_prompt_states(summary["batch_id"], store).values()} == {"success"}
    assert get_batch(summary["batch_id"], store).status == "success"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["id"], r["resumed"]) for r in rows) == [("q0", True), ("q1", True), ("q2", False),
                                                              ("q3", True)]
    log = deployment.task_log(DAG_ID, run_id, "answer_all", try_number=2)
    assert "4/4 done (4 ok, 0 failed, 0 skipped, 3 from an earlier attempt)" in log
