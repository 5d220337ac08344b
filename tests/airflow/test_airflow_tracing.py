"""Under ``dag.test()`` a run's trace reaches a real OTLP/HTTP receiver with the task's Airflow identity,
as a child of the span current in the task process, and without the connection's API key; a batch task
sends one batch span there with its runs beneath.

``dag.test()`` runs the task through ``task_runner.run`` (not ``main``), so Airflow makes no task span
of its own here; when Airflow's traces are on (``[traces] otel_on``), ``task_runner.main`` runs the task
inside ``_make_task_span``'s current span ``worker.{task_id}``. The tests play that span around
``dag.test()`` and check the run's (or the batch's) span hangs beneath it; tests/deployment checks
Airflow's own span in a real deployment."""

from __future__ import annotations

import pytest
from airflow_test_support import free_port, set_connection, task_states, xcoms
from otlp_receiver import OTLPReceiver, otlp_env, run_tree

from llmcompiler_provider.store import get_run
from tests.batch.planning_server import PlanningServer

pytestmark = pytest.mark.slow

API_KEY = "sk-llmcompiler-trace-Pw38-do-not-leak"


def test_a_dag_run_sends_the_run_as_a_child_of_the_task_span(run_dag, monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    endpoint = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: the joiner's call fails
    set_connection(monkeypatch, "llmcompiler_test_secret_llm", conn_type="llmcompiler_llm", host=endpoint,
                   password=API_KEY,
                   extra={"model": "test-model", "max_retries": 0, "timeout": 5, "connect_timeout": 2,
                          "prices": {"test-model": {"input_per_million": 1.0, "output_per_million": 2.0}}})
    with OTLPReceiver() as collector:
        otlp_env(monkeypatch, collector, LLMCOMPILER_TRACE_CONTENT="true")
        with TracerProvider().get_tracer("test").start_as_current_span("worker.ask") as task_span:
            dag_run = run_dag("llmcompiler_test_secret")
    assert task_states(dag_run) == {("ask", -1): "failed"}
    run_id = xcoms(dag_run, "ask")["run_id"]

    run, chats, tools = run_tree(collector.spans)
    assert run.trace_id == format(task_span.get_span_context().trace_id, "032x")
    assert run.parent_span_id == format(task_span.get_span_context().span_id, "016x")
    assert run.attributes["llmcompiler.run_id"] == run_id
    assert run.attributes["airflow.dag_id"] == "llmcompiler_test_secret"
    assert run.attributes["airflow.task_id"] == "ask"
    assert run.attributes["airflow.dag_run.run_id"] == dag_run.run_id
    assert run.attributes["airflow.task_instance.map_index"] == -1
    assert run.attributes["airflow.task_instance.try_number"] >= 1
    assert run.attributes["llmcompiler.status"] == "failed" and run.status_code == 2  # ERROR
    assert sorted(s.attributes["gen_ai.tool.name"] for s in tools) == ["math", "search", "search"]
    assert all(s.attributes["llmcompiler.task.status"] == "success" for s in tools)
    assert [c.attributes["llmcompiler.llm.role"] for c in chats] == ["joiner"]
    assert chats[0].name == "chat test-model" and chats[0].status_code == 2
    assert API_KEY not in b"".join(collector.bodies).decode("latin-1")
    stored = get_run(run_id)  # the run records its cost at the connection's prices
    assert stored.cost == pytest.approx((stored.tokens.prompt + 2 * stored.tokens.completion) / 1e6)


def test_a_batch_task_sends_its_batch_span_beneath_the_task_span_and_its_runs_beneath_it(run_dag, monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    with PlanningServer() as server, OTLPReceiver() as collector:
        set_connection(monkeypatch, "batch_test_llm", conn_type="llmcompiler_llm", host=server.url("planner"),
                       extra={"model": "scripted"})
        otlp_env(monkeypatch, collector)
        with TracerProvider().get_tracer("test").start_as_current_span("worker.answer_all") as task_span:
            dag_run = run_dag("llmcompiler_batch_from_xcom")
    assert task_states(dag_run)[("answer_all", -1)] == "success"
    summary = xcoms(dag_run, "answer_all")["return_value"]

    [batch] = [s for s in collector.spans if s.name == "invoke_workflow llmcompiler.batch"]
    assert batch.trace_id == format(task_span.get_span_context().trace_id, "032x")
    assert batch.parent_span_id == format(task_span.get_span_context().span_id, "016x")
    a = batch.attributes
    assert (a["llmcompiler.batch.id"], a["llmcompiler.batch.status"]) == (summary["batch_id"], "success")
    assert (a["llmcompiler.batch.total"], a["llmcompiler.batch.succeeded"]) == (2, 2)
    assert (a["airflow.dag_id"], a["airflow.task_id"]) == ("llmcompiler_batch_from_xcom", "answer_all")
    assert a["airflow.dag_run.run_id"] == dag_run.run_id

    runs = [s for s in collector.spans if s.name == "invoke_workflow llmcompiler"]
    assert sorted(r.attributes["llmcompiler.batch.prompt_id"] for r in runs) == ["q0", "q1"]
    for run in runs:
        assert (run.trace_id, run.parent_span_id) == (batch.trace_id, batch.span_id)
        assert batch.start <= run.start <= run.end <= batch.end
        _, chats, tools = run_tree([run, *(s for s in collector.spans if s.parent_span_id == run.span_id)])
        assert {c.attributes["llmcompiler.llm.role"] for c in chats} == {"planner", "joiner"} and tools
