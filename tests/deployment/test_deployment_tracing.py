"""Under Airflow's own OpenTelemetry traces in a real deployment (conftest.py switches them on in
every component, see ``airflow_traces_env``), a run's ``invoke_workflow llmcompiler`` span is a
child of the task instance's span in the task process, in the DAG run's trace.

Airflow 3.3's trace of a DAG run, as the receiver gets it::

    dag_run.{dag_id}            the scheduler, when the DAG run ends (a root)
      task_run.{task_id}        the api-server's execution API, when the task instance ends
        worker.{task_id}        the task process (Task SDK ``task_runner.main``), current while the task runs
          invoke_workflow llmcompiler          this provider's run, with its chat and execute_tool spans

``worker.{task_id}`` is the current span while the operator runs, its parent the task instance's
``context_carrier`` (the span id ``task_run.{task_id}`` is later emitted with), so the run's span
needs nothing but the current span to hang beneath it.
"""

from __future__ import annotations

import time

import pytest
from otlp_receiver import OTLPReceiver, ReceivedSpan, run_tree

pytestmark = pytest.mark.slow
SPANS_TIMEOUT_S = 60
AIRFLOW_KEYS = ("airflow.dag_id", "airflow.task_id", "airflow.dag_run.run_id", "airflow.task_instance.map_index",
                "airflow.task_instance.try_number")


def _spans_of(collector: OTLPReceiver, dag_run_id: str, llm_run_id: str) -> dict[str, ReceivedSpan]:
    """The DAG run's Airflow spans and the run's span, once all four have arrived."""
    deadline = time.monotonic() + SPANS_TIMEOUT_S
    while True:
        spans = list(collector.spans)
        found = {s.name: s for s in spans if s.attributes.get("airflow.dag_run.run_id") == dag_run_id
                 or s.attributes.get("llmcompiler.run_id") == llm_run_id}
        roots = [s for s in spans if s.name == "dag_run.llmcompiler_example"
                 and any(f.trace_id == s.trace_id for f in found.values())]
        if roots and {"task_run.ask", "worker.ask", "invoke_workflow llmcompiler"} <= set(found):
            return {**found, "dag_run": roots[0]}
        assert time.monotonic() < deadline, (
            f"the DAG run's spans did not all arrive in {SPANS_TIMEOUT_S} s: {sorted(found)}; "
            f"every span received: {sorted({s.name for s in spans})}")
        time.sleep(0.5)


def test_a_run_s_span_is_a_child_of_the_task_instance_s_span_in_the_dag_run_s_trace(deployment, trace_collector):
    dag_run_id = deployment.trigger("llmcompiler_example")
    assert deployment.wait_for_run("llmcompiler_example", dag_run_id) == "success"
    llm_run_id = deployment.xcom("llmcompiler_example", dag_run_id, "ask", key="run_id")

    spans = _spans_of(trace_collector, dag_run_id, llm_run_id)
    dag_run, task_run, worker = spans["dag_run"], spans["task_run.ask"], spans["worker.ask"]
    run = spans["invoke_workflow llmcompiler"]
    assert dag_run.parent_span_id == "" and task_run.parent_span_id == dag_run.span_id
    assert worker.parent_span_id == task_run.span_id
    assert (run.trace_id, run.parent_span_id) == (worker.trace_id, worker.span_id)
    assert len({dag_run.trace_id, task_run.trace_id, worker.trace_id}) == 1
    assert worker.start <= run.start <= run.end <= worker.end
    assert {k: run.attributes[k] for k in AIRFLOW_KEYS} == {k: worker.attributes[k] for k in AIRFLOW_KEYS}
    assert run.attributes["airflow.dag_run.run_id"] == dag_run_id
    assert run.attributes["llmcompiler.status"] == "success"

    beneath = [s for s in trace_collector.spans if s.trace_id == run.trace_id and s.parent_span_id == run.span_id]
    _, chats, tools = run_tree([run, *beneath])
    assert [c.attributes["llmcompiler.llm.role"] for c in sorted(chats, key=lambda s: s.start)][0] == "planner"
    assert "joiner" in {c.attributes["llmcompiler.llm.role"] for c in chats}
    assert all(c.attributes["gen_ai.provider.name"] == "llama_cpp" for c in chats)
    assert all(c.attributes["gen_ai.usage.output_tokens"] > 0 for c in chats)
    assert tools and all(t.attributes["llmcompiler.task.worker"] for t in tools)
    assert {t.attributes["gen_ai.tool.name"] for t in tools} <= {"search", "math", "llm"}
