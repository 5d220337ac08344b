"""Dynamic task mapping: ``llmcompiler_batch`` (one store run per mapped prompt, then a summary that
fails the DAG run on failed prompts), and templated plans rendered per map index."""

from __future__ import annotations

import pytest

from airflow_test_support import load_dag, task_states, xcoms
from llmcompiler_provider.store import get_run, list_runs

pytestmark = pytest.mark.slow


def default_questions() -> list[str]:
    return list(load_dag("llmcompiler_batch").params["questions"])


def test_the_batch_dag_records_one_run_per_prompt_and_summarises_them(run_dag):
    # two of its questions: dag.test() runs mapped tasks one after another, each a local-model run (the
    # deployment tier runs all four at once)
    prompts = default_questions()[:2]
    dag_run = run_dag("llmcompiler_batch", run_conf={"questions": prompts})

    states = task_states(dag_run)
    assert sorted(key for key in states if key[0] == "ask") == [("ask", i) for i in range(len(prompts))]
    assert states[("summarize", -1)] == "success" and str(dag_run.state) == "success"

    run_ids = {}
    for index, prompt in enumerate(prompts):
        pushed = xcoms(dag_run, "ask", index)
        stored = get_run(pushed["run_id"])
        assert stored.prompt == prompt
        assert stored.airflow.map_index == index and stored.airflow.run_id == dag_run.run_id
        assert pushed["metrics"]["status"] == stored.status
        run_ids[index] = pushed["run_id"]
    assert len(set(run_ids.values())) == len(prompts)

    in_store = [r for r in list_runs(dag_id="llmcompiler_batch", limit=1000)
                if r.airflow.run_id == dag_run.run_id]
    summary = xcoms(dag_run, "summarize")["return_value"]
    assert summary["runs"] == len(prompts) == len(in_store)
    assert (summary["succeeded"], summary["failed"], summary["failed_map_indexes"]) == (len(prompts), 0, [])
    assert [(p["map_index"], p["run_id"]) for p in summary["prompts"]] == sorted(run_ids.items())
    assert summary["run_ids"] == [run_ids[i] for i in range(len(prompts))]
    assert summary["tasks"] == sum(r.counts.tasks for r in in_store)
    assert summary["prompt_tokens"] == sum(r.tokens.prompt for r in in_store) > 0
    assert summary["mean_wall_s"] > 0


def test_a_failed_prompt_fails_the_batch_dag_run_and_the_summary_names_it(run_dag):
    dag_run = run_dag("llmcompiler_batch", run_conf={"questions": ["How long is the Nile?", "   "]})

    states = task_states(dag_run)
    assert (states[("ask", 0)], states[("ask", 1)]) == ("success", "failed")
    assert states[("summarize", -1)] == "failed" and str(dag_run.state) == "failed"
    failed_run_id = xcoms(dag_run, "ask", 1)["run_id"]
    assert get_run(failed_run_id).error == "the prompt is empty: give a question, or a plan to run"
    summary = xcoms(dag_run, "summarize")["return_value"]  # still pushed: every prompt is reported
    assert (summary["runs"], summary["succeeded"], summary["failed_map_indexes"]) == (2, 1, [1])
    assert [(p["map_index"], p["status"]) for p in summary["prompts"]] == [(0, "success"), (1, "failed")]
    assert summary["prompts"][1]["run_id"] == failed_run_id


def test_mapped_plans_are_rendered_per_map_index_and_run_without_an_llm(run_dag):
    dag_run = run_dag("llmcompiler_test_mapped_plans")

    assert task_states(dag_run) == {("compute", i): "success" for i in range(3)}
    results = []
    for index in range(3):
        stored = get_run(xcoms(dag_run, "compute", index)["run_id"])
        assert stored.planner_model is None and stored.llm_calls == []
        assert stored.airflow.map_index == index
        results.append((stored.plans[0].text, stored.plans[0].tasks[0].result))
    assert results == [
        ('1. math("40 + 2")\n2. join()', "42"),
        ('1. math("40 * 2")\n2. join()', "80"),
        ('1. math("40 - 2")\n2. join()', "38"),
    ]
