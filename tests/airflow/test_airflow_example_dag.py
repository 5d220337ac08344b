"""``llmcompiler_example`` under real Airflow: the answer, the XComs, the store record, the extra link."""

from __future__ import annotations

import pytest

from airflow_test_support import load_dag, task_states, xcoms
from llmcompiler_provider.links import run_page_path
from llmcompiler_provider.store import get_run

pytestmark = pytest.mark.slow

DEFAULT_QUESTION = "Which is taller, the Eiffel Tower or the Statue of Liberty?"


@pytest.fixture(scope="module")
def example_run(airflow_db):
    dag_run = load_dag("llmcompiler_example").test()
    return dag_run, xcoms(dag_run, "ask")


def test_the_example_dag_succeeds_and_returns_the_answer(example_run):
    dag_run, pushed = example_run
    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == {("ask", -1): "success"}
    assert isinstance(pushed["return_value"], str) and pushed["return_value"].strip()


def test_the_run_is_recorded_with_its_airflow_identity_and_rendered_prompt(example_run):
    dag_run, pushed = example_run
    stored = get_run(pushed["run_id"])
    assert stored is not None
    assert stored.status == "success"
    assert stored.answer == pushed["return_value"]
    assert stored.prompt == DEFAULT_QUESTION  # "{{ params.question }}" rendered
    assert stored.airflow.model_dump() == {"dag_id": "llmcompiler_example", "run_id": dag_run.run_id,
                                           "task_id": "ask", "map_index": -1, "try_number": 1}
    assert stored.counts.tasks >= 1
    assert stored.plans and stored.plans[0].text.strip()


def test_the_metrics_xcom_is_a_small_summary_of_the_run(example_run):
    _dag_run, pushed = example_run
    metrics = pushed["metrics"]
    assert metrics["status"] == "success"
    assert metrics["tasks"] >= 1 and metrics["failed_tasks"] == 0
    assert metrics["prompt_tokens"] > 0 and metrics["completion_tokens"] > 0
    assert metrics["wall_s"] > 0 and metrics["planning_s"] > 0
    assert metrics["cluster"] == "local" and metrics["metrics_saved"] is True
    assert DEFAULT_QUESTION not in str(metrics)  # no prompt or answer text in the summary
    assert set(pushed) == {"return_value", "run_id", "metrics", "_link_LLMCompilerRunLink"}


def test_the_extra_link_opens_the_runs_page(example_run):
    dag_run, pushed = example_run
    expected = run_page_path(pushed["run_id"])
    assert expected == f"/llmcompiler/runs/{pushed['run_id']}"
    assert pushed["_link_LLMCompilerRunLink"] == expected
    # what the API server does: the serialized task reads the link back for the task instance
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.serialize_dag(load_dag("llmcompiler_example"))
    scheduler_dag = DagSerialization.deserialize_dag(serialized)
    ti = dag_run.get_task_instance("ask")
    assert scheduler_dag.get_task("ask").get_extra_links(ti, "LLMCompiler run") == expected
