"""The LLM connection's API key never reaches the task log, XCom or the metrics store."""

from __future__ import annotations

import json

import pytest

from airflow_test_support import free_port, set_connection, task_states, xcoms
from llmcompiler_provider.store import get_run

pytestmark = pytest.mark.slow

API_KEY = "sk-llmcompiler-test-Zq81x-do-not-leak"


def test_a_failing_endpoint_run_keeps_the_api_key_out_of_logs_xcom_and_store(
    run_dag, monkeypatch, capfd, caplog
):
    endpoint = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    set_connection(monkeypatch, "llmcompiler_test_secret_llm", conn_type="llmcompiler_llm", host=endpoint,
                   password=API_KEY,
                   extra={"model": "test-model", "max_retries": 0, "timeout": 5, "connect_timeout": 2})
    capfd.readouterr()

    dag_run = run_dag("llmcompiler_test_secret")
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text

    assert task_states(dag_run) == {("ask", -1): "failed"}
    pushed = xcoms(dag_run, "ask")
    stored = get_run(pushed["run_id"])
    assert stored.status == "failed" and stored.error
    assert f"LLM: test-model at {endpoint}" in logs  # the task's log lines were captured
    assert stored.error in logs  # the failure's cause is in the log too
    places = {"logs": logs, "xcom": json.dumps(pushed), "store": json.dumps(stored.to_dict())}
    for where, text in places.items():
        assert API_KEY not in text, f"the API key leaked into the {where}"
