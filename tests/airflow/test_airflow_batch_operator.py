"""``LLMCompilerBatchOperator`` under ``dag.test()``: prompts from an XCom, a file and SQL rows, a row per
prompt written through object storage, the summary as the return value, a failed prompt failing the task by
name, and a rerun under the same batch id planning only what did not succeed."""

from __future__ import annotations

import json
import sqlite3

import pytest

from airflow.sdk.exceptions import AirflowException

from airflow_test_support import set_connection, task_states, xcoms
from llmcompiler_provider.batch import BatchOptions, Prices
from llmcompiler_provider.store import get_batch, get_run, list_runs
from tests.batch.planning_server import PlanningServer

pytestmark = pytest.mark.slow
BROKEN_PLAN = '1. serch("x")\n2. join()\n<END_OF_PLAN>'


@pytest.fixture
def planning_server(monkeypatch):
    with PlanningServer() as server:
        set_connection(monkeypatch, "batch_test_llm", conn_type="llmcompiler_llm", host=server.url("planner"),
                       extra={"model": "scripted"})
        yield server


def test_prompts_from_an_xcom_run_as_one_batch_with_a_row_each(run_dag, planning_server, tmp_path):
    out = tmp_path / "answers" / "rows.jsonl"  # the folder is made
    dag_run = run_dag("llmcompiler_batch_from_xcom", run_conf={"output": out.as_uri()})

    assert task_states(dag_run)[("answer_all", -1)] == "success"
    pushed = xcoms(dag_run, "answer_all")
    summary = pushed["return_value"]
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (2, 2, 0)
    assert summary["batch_id"] == pushed["llmcompiler_batch_id"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["id"], r["answer"]) for r in rows) == [("q0", "answer to question 0"),
                                                             ("q1", "answer to question 1")]
    stored = get_run(rows[0]["run_id"])
    assert stored.batch_id == summary["batch_id"] and stored.airflow.dag_id == "llmcompiler_batch_from_xcom"
    assert get_batch(summary["batch_id"]).status == "success"


def test_a_failed_prompt_fails_the_task_and_a_rerun_of_the_batch_plans_only_it(run_dag, planning_server):
    planning_server.plans["question 1"] = BROKEN_PLAN
    conf = {"questions": ["question 0", "question 1", "question 2"], "batch_id": "nightly-test-7"}
    first = run_dag("llmcompiler_batch_from_xcom", run_conf=conf)

    assert task_states(first)[("answer_all", -1)] == "failed"
    summary = xcoms(first, "answer_all")["return_value"]
    assert (summary["failed"], summary["failed_ids"]) == (1, ["q1"])
    assert "1 of 3 prompts failed" in summary["error"]

    del planning_server.plans["question 1"]
    second = run_dag("llmcompiler_batch_from_xcom", run_conf=conf)
    assert task_states(second)[("answer_all", -1)] == "success"
    again = xcoms(second, "answer_all")["return_value"]
    assert (again["succeeded"], again["resumed"]) == (3, 2)
    assert planning_server.planned["question 0"] == 1 and planning_server.planned["question 2"] == 1


def test_prompts_from_sql_rows(run_dag, planning_server, tmp_path, monkeypatch):
    path = tmp_path / "prompts.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE questions (id TEXT, prompt TEXT)")
        db.executemany("INSERT INTO questions VALUES (?, ?)", [("a", "question a"), ("b", "question b")])
    set_connection(monkeypatch, "batch_test_prompts", conn_type="sqlite", host=str(path))

    dag_run = run_dag("llmcompiler_batch_from_sql")

    assert task_states(dag_run)[("answer_all", -1)] == "success"
    summary = xcoms(dag_run, "answer_all")["return_value"]
    runs = list_runs(batch_id=summary["batch_id"], limit=None)
    assert sorted(r.prompt_id for r in runs) == ["a", "b"]


def test_the_nightly_batch_dag_answers_its_file_of_prompts_with_the_local_model(run_dag, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": "nile", "prompt": "How long is the Nile?"}\n')
    dag_run = run_dag("llmcompiler_nightly_batch",
                      run_conf={"prompts": prompts.as_uri(), "output_dir": tmp_path.as_uri()})

    summary = xcoms(dag_run, "answer_all")["return_value"]
    assert summary["total"] == 1 and summary["succeeded"] + summary["failed"] == 1
    rows = [json.loads(line) for path in tmp_path.glob("answers-*.jsonl") for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["nile"]
    assert str(dag_run.state) == ("success" if summary["succeeded"] else "failed")


def test_the_connections_prices_cost_each_run_and_stop_the_batch_at_max_cost(run_dag, planning_server,
                                                                            monkeypatch):
    set_connection(monkeypatch, "batch_test_llm", conn_type="llmcompiler_llm", host=planning_server.url("planner"),
                   extra={"model": "scripted", "prices": {"scripted": {"input_per_million": 1.0,
                                                                       "output_per_million": 2.0}}})
    dag_run = run_dag("llmcompiler_batch_priced")

    summary = xcoms(dag_run, "answer_all")["return_value"]
    assert (summary["succeeded"], summary["skipped"]) == (1, 4)  # one run spent more than the budget
    tokens = summary["tokens"]
    assert summary["cost"] == pytest.approx((tokens["prompt"] * 1.0 + tokens["completion"] * 2.0) / 1e6)
    assert task_states(dag_run)[("answer_all", -1)] == "success"
    (run,) = [get_run(r.run_id) for r in list_runs() if r.batch_id == summary["batch_id"]]
    assert run.cost == pytest.approx(summary["cost"])  # recorded with the run, too


@pytest.mark.parametrize(
    ("extra", "prices"),
    [
        ({"prices": {"scripted": {"input_per_million": 1, "output_per_million": 2}}}, Prices(1.0, 2.0)),
        ({"prices": {"input_per_million": 0.5}}, Prices(0.5, 0.0)),  # one price for every model
        ({"prices": {"another-model": {"input_per_million": 1}}}, None),
        ({}, None),
    ],
)
def test_the_prices_of_the_connections_model(extra, prices):
    from llmcompiler_provider.hooks.llm import prices_from_extra

    assert prices_from_extra(extra, "scripted") == prices


def test_max_cost_without_prices_for_the_model_says_how_to_give_them():
    from llmcompiler_provider.operators.batch import _with_prices

    with pytest.raises(AirflowException, match=r'"prices": \{"MODEL"'):
        _with_prices(BatchOptions(max_cost=1.0, prices=Prices()), None, "scripted")


def test_a_deferred_batch_runs_on_the_remote_cluster_and_reports_from_the_store(
    run_dag, planning_server, monkeypatch, dask_scheduler, tmp_path
):
    from distributed import Client

    set_connection(monkeypatch, "llmcompiler_test_dask", conn_type="llmcompiler_dask", host=dask_scheduler)
    out = tmp_path / "rows.jsonl"
    dag_run = run_dag("llmcompiler_batch_deferred", run_conf={"output": str(out)})

    assert task_states(dag_run)[("answer_all", -1)] == "success"
    summary = xcoms(dag_run, "answer_all")["return_value"]
    assert (summary["total"], summary["succeeded"]) == (3, 3)
    runs = list_runs(batch_id=summary["batch_id"], limit=None)
    assert len(runs) == 3 and {r.cluster.address for r in runs} == {dask_scheduler}  # driven on the cluster
    assert len(out.read_text().splitlines()) == 3  # written by the driver on the cluster's worker
    with Client(dask_scheduler) as client:
        assert not client.list_datasets()  # the trigger released the driver's future


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "needs exactly one of prompts, input_path or sql"),
        ({"prompts": ["a"], "sql": "SELECT 1"}, "not prompts and sql"),
        ({"sql": "SELECT 1"}, "sql needs a sql_conn_id"),
        ({"prompts": ["a"], "max_active_runs": 0}, "max_active_runs must be at least 1"),
        ({"prompts": ["a"], "max_failed_fraction": 2}, "max_failed_fraction must be between 0 and 1"),
        ({"prompts": ["a"], "deferrable": True}, "deferrable=True needs a dask_conn_id"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(arguments, message):
    from llmcompiler_provider.operators.batch import LLMCompilerBatchOperator

    with pytest.raises(ValueError, match=message):
        LLMCompilerBatchOperator(task_id="t", **arguments)
