"""Under ``dag.test()`` a run's trace reaches a real OTLP/HTTP receiver with the task's Airflow identity,
as a child of the span current in the task process, and without the connection's API key.

``dag.test()`` runs the task through ``task_runner.run`` (not ``main``), so Airflow makes no task span
of its own here; when Airflow's traces are on (``[traces] otel_on``), ``task_runner.main`` runs the task
inside ``_make_task_span``'s current span ``worker.{task_id}``. The test plays that span around
``dag.test()`` and checks the run's span hangs beneath it."""

from __future__ import annotations

import pytest
from airflow_test_support import free_port, set_connection, task_states, xcoms
from otlp_receiver import OTLPReceiver, otlp_env, run_tree

pytestmark = pytest.mark.slow

API_KEY = "sk-llmcompiler-trace-Pw38-do-not-leak"


def test_a_dag_run_sends_the_run_as_a_child_of_the_task_span(run_dag, monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    endpoint = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: the joiner's call fails
    set_connection(monkeypatch, "llmcompiler_test_secret_llm", conn_type="llmcompiler_llm", host=endpoint,
                   password=API_KEY,
                   extra={"model": "test-model", "max_retries": 0, "timeout": 5, "connect_timeout": 2})
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
