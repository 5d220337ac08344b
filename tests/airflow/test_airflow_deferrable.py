"""Deferrable mode against a real ``dask scheduler`` / ``dask worker`` pair of processes."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from airflow_test_support import free_port, set_connection, task_states, wait_for, xcoms
from llmcompiler_provider.agent.run import RunConfig
from llmcompiler_provider.agent.remote_run import RemoteRun, submit_remote_run
from llmcompiler_provider.operators.summaries import metrics_summary
from llmcompiler_provider.operators.toolsets import build_toolset
from llmcompiler_provider.store import get_run, resolve_store_url
from llmcompiler_provider.triggers.run import LLMCompilerRunTrigger

pytestmark = pytest.mark.slow


def first_event(trigger: LLMCompilerRunTrigger) -> dict:
    async def first():
        return await anext(trigger.run())

    return asyncio.run(first()).payload


def test_a_deferred_run_runs_on_the_cluster_and_returns_the_same_result(
    run_dag, monkeypatch, caplog, dask_scheduler
):
    from distributed import Client

    set_connection(monkeypatch, "llmcompiler_test_dask", conn_type="llmcompiler_dask", host=dask_scheduler)
    with caplog.at_level("INFO", logger="airflow.sdk.definitions.dag"):
        dag_run = run_dag("llmcompiler_test_deferred")

    assert task_states(dag_run) == {("ask", -1): "success"}
    assert "running trigger in line" in caplog.text  # the task deferred, and dag.test() ran the trigger
    pushed = xcoms(dag_run, "ask")
    stored = get_run(pushed["run_id"])
    assert stored.status == "success"
    assert pushed["return_value"] == stored.answer and stored.answer.strip()
    assert pushed["metrics"] == metrics_summary(stored)
    assert stored.cluster.kind == "address" and stored.cluster.address == dask_scheduler
    with Client(dask_scheduler) as client:
        worker_addresses = set(client.scheduler_info(n_workers=-1)["workers"])
        assert not client.list_datasets()  # the trigger released the driver's future
    assert {t.worker for t in stored.all_tasks} <= worker_addresses
    assert stored.airflow.dag_id == "llmcompiler_test_deferred"


def test_a_scheduler_that_cannot_be_reached_fails_the_task_and_records_why(run_dag, monkeypatch):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    set_connection(monkeypatch, "llmcompiler_test_dask", conn_type="llmcompiler_dask", host=address)
    dag_run = run_dag("llmcompiler_test_deferred")

    assert task_states(dag_run) == {("ask", -1): "failed"}
    stored = get_run(xcoms(dag_run, "ask")["run_id"])
    assert stored.status == "failed"
    assert stored.error.startswith(f"could not submit the run to the Dask scheduler at {address}: ")


def slow_remote_step() -> str:
    time.sleep(30)
    return "finished"


def test_the_triggers_on_kill_cancels_the_run_on_the_cluster(airflow_db, dask_scheduler):
    from distributed import Client

    run_id = uuid.uuid4().hex
    config = RunConfig(toolset=build_toolset(None, [slow_remote_step]), store_url=resolve_store_url())
    with Client(dask_scheduler) as client:
        submit_remote_run(client, RemoteRun(run_id, None, "1. slow_remote_step()\n2. join()", None, config))
        def slow_tool_runs() -> bool:
            running = [key for keys in client.processing().values() for key in keys]
            return any(key.startswith("slow_remote_step") for key in running)

        wait_for(slow_tool_runs, 120, "the slow tool never started")
    trigger = LLMCompilerRunTrigger(run_id=run_id, store_url=config.store_url, scheduler=dask_scheduler)

    asyncio.run(trigger.on_kill())

    assert first_event(trigger) == {"status": "finished", "run_id": run_id, "run_status": "cancelled"}
    assert get_run(run_id).status == "cancelled"


def test_the_trigger_reports_a_run_the_cluster_does_not_know(airflow_db, dask_scheduler):
    trigger = LLMCompilerRunTrigger(
        run_id="no-such-run", store_url=resolve_store_url(), scheduler=dask_scheduler
    )
    event = first_event(trigger)
    assert event["status"] == "error" and event["run_id"] == "no-such-run"
    assert "is not known to the Dask scheduler" in event["message"]


def test_the_trigger_fires_no_sooner_than_it_was_told(airflow_db, sqlite_url):
    """A run that ends right after its task deferred is reported at ``not_before`` (Airflow 3.3 fails
    a task resumed before the executor reported the process that deferred it)."""
    from llmcompiler_provider.results import RunResult
    from llmcompiler_provider.store import save_run

    finished = RunResult(status="success")
    save_run(finished, sqlite_url)
    not_before = time.time() + 2.0
    trigger = LLMCompilerRunTrigger(run_id=finished.run_id, store_url=sqlite_url,
                                    scheduler=f"tcp://127.0.0.1:{free_port()}", not_before=not_before)
    assert trigger.serialize()[1]["not_before"] == not_before  # survives the trip to the triggerer

    event = first_event(trigger)
    fired_at = time.time()
    assert event == {"status": "finished", "run_id": finished.run_id, "run_status": "success"}
    assert fired_at >= not_before
