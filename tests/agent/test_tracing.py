"""A run becomes an OpenTelemetry GenAI trace, sent by the SDK's OTLP/HTTP exporter to a real
receiver on loopback (tests/otlp_receiver.py): a streamed run with a replan gives one
``invoke_workflow`` span with its ``chat`` and ``execute_tool`` spans beneath, at the times the run
recorded; a batch gives one ``invoke_workflow llmcompiler.batch`` span with its runs beneath;
nothing is sent (or imported) when traces are not configured.

The batch tests trace synthetic ``RunResult``s and a ``BatchSummary``: the batch runner only
calls ``start_batch_trace`` / ``end_batch_trace`` around runs recorded as any other run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from otlp_receiver import OTLPReceiver, otlp_env, run_tree
from scripted_llm import ScriptedModelServer

from llmcompiler_provider import tracing
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.results import AirflowIdentity, LLMCall, PlanIteration, RunResult, TaskRecord, Tokens
from llmcompiler_provider.store.location import NO_STORE

PLAN_1 = '1. search("Eiffel Tower height")\n2. search("Statue of Liberty height")\n3. join()\n<END_OF_PLAN>'
REPLAN = "Thought: need both as numbers\nAction: Replan(compare them)"
PLAN_2 = '1. math("330 - 93")\n2. join()\n<END_OF_PLAN>'
ANSWER = "Thought: done\nAction: Finish(The Eiffel Tower)"


def replanned_run(cluster_client):
    client, info = cluster_client
    with ScriptedModelServer({"r": [PLAN_1, REPLAN, PLAN_2, ANSWER]}) as server:
        llm = OpenAIChatModel(server.url("r"), None, "scripted", max_retries=0)
        config = RunConfig(toolset="demo", store_url=NO_STORE, max_replans=1)
        run = LLMCompilerRun("Which is taller?", llm=llm, config=config, client=client, cluster_info=info)
        return run.execute()


@pytest.mark.parametrize("content", [False, True])
def test_a_replanned_run_is_one_trace_of_chat_and_tool_spans(cluster_client, monkeypatch, content):
    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver, **({"LLMCOMPILER_TRACE_CONTENT": "true"} if content else {}))
        result = replanned_run(cluster_client)
    assert result.status == "success", result.error
    run, chats, tools = run_tree(receiver.spans)

    assert run.parent_span_id == "" and run.service == "llmcompiler"
    assert run.start == int(result.started * 1e9)
    a = run.attributes
    assert a["gen_ai.operation.name"] == "invoke_workflow" and a["llmcompiler.run_id"] == result.run_id
    assert (a["llmcompiler.toolset"], a["llmcompiler.status"]) == ("demo", "success")
    assert a["llmcompiler.replans"] == 1
    assert a["llmcompiler.critical_path_s"] == result.timings.critical_path_s
    assert a["llmcompiler.speedup"] == result.timings.speedup
    assert not any(k.startswith("airflow.") for k in a)

    assert [c.attributes["llmcompiler.llm.role"] for c in sorted(chats, key=lambda s: s.start)] == [
        "planner", "joiner", "planner", "joiner"]
    for span, call in zip(sorted(chats, key=lambda s: s.start), result.llm_calls):
        assert span.name == "chat scripted" and span.kind == 3  # CLIENT
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == "openai"
        assert span.attributes["gen_ai.request.model"] == "scripted"
        assert span.attributes["gen_ai.usage.input_tokens"] == call.prompt_tokens
        assert span.attributes["gen_ai.usage.output_tokens"] == call.completion_tokens
        assert span.start == int(call.started * 1e9) and span.status_code == 0
        assert span.attributes.get("gen_ai.response.finish_reasons") == ([call.finish_reason] if call.finish_reason
                                                                         else None), (call.role, call.finish_reason)
        if call.role == "joiner":  # the scripted server ends each answer with finish_reason "stop"
            assert span.attributes["gen_ai.response.finish_reasons"] == ["stop"]

    records = {(p.iteration, t.id): t for p in result.plans for t in p.tasks}
    assert len(tools) == len(records) == 3
    for span in tools:
        attributes = span.attributes
        task = records[(attributes["llmcompiler.plan.iteration"], int(attributes["gen_ai.tool.call.id"]))]
        assert span.name == f"execute_tool {task.tool}" and span.kind == 1  # INTERNAL
        assert span.attributes["gen_ai.tool.name"] == task.tool
        assert span.attributes["llmcompiler.task.worker"] == task.worker
        assert span.attributes["llmcompiler.task.attempts"] == task.attempts
        assert span.attributes["llmcompiler.task.status"] == "success"
        assert (span.start, span.end) == (int(task.start * 1e9), int(task.stop * 1e9))  # the worker's times
        assert ("gen_ai.tool.call.arguments" in span.attributes) is content
        assert ("gen_ai.tool.call.result" in span.attributes) is content
        if content:
            assert json.loads(span.attributes["gen_ai.tool.call.arguments"])["args"] == task.args
            assert span.attributes["gen_ai.tool.call.result"] == task.result
    # the second plan's tool ran after the replan's planner call started
    second_planner = sorted(chats, key=lambda s: s.start)[2]
    replanned = [s for s in tools if s.attributes["llmcompiler.plan.iteration"] == 1]
    assert replanned and all(s.start >= second_planner.start for s in replanned)


def test_a_failed_tool_and_a_traceparent_from_the_environment(cluster_client, monkeypatch):
    trace_id, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    client, info = cluster_client
    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver, TRACEPARENT=f"00-{trace_id}-{parent}-01", OTEL_SERVICE_NAME="svc")
        config = RunConfig(toolset="demo", store_url=NO_STORE, max_replans=0)
        result = LLMCompilerRun(plan='1. math("1 +")\n2. join()', config=config, client=client,
                                cluster_info=info).execute()
    run, chats, tools = run_tree(receiver.spans)
    assert (run.trace_id, run.parent_span_id, run.service) == (trace_id, parent, "svc")
    assert chats == [] and len(tools) == 1
    task = result.plans[0].tasks[0]
    assert task.status == "failed" and task.error
    assert tools[0].status_code == 2 and tools[0].status_message == task.error  # ERROR
    assert tools[0].attributes["llmcompiler.task.status"] == "failed"


def test_a_run_in_another_process_hangs_beneath_the_span_its_carrier_names(cluster_client, monkeypatch):
    """The carrier taken where the task's span is current (an Airflow task process) makes the run's
    span its child where the run is recorded (a Dask worker): in this test, another thread."""
    from opentelemetry.sdk.trace import TracerProvider

    client, info = cluster_client
    assert tracing.trace_carrier() == {}  # no span current
    with TracerProvider().get_tracer("test").start_as_current_span("worker.ask") as task_span:
        carrier = tracing.trace_carrier()
    assert set(carrier) == {"traceparent"}
    results = []

    def drive() -> None:  # where the remote run is driven: no span current there
        with tracing.beneath(carrier):
            config = RunConfig(toolset="demo", store_url=NO_STORE)
            results.append(LLMCompilerRun(plan='1. math("2 + 3")\n2. join()', config=config, client=client,
                                          cluster_info=info).execute())

    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver)
        driver = threading.Thread(target=drive)
        driver.start()
        driver.join()
        with tracing.beneath({}):  # nothing to carry: a root
            tracing.emit_run_trace(synthetic_run(time.time() - 5))
    [carried, alone] = sorted((s for s in receiver.spans if s.name == "invoke_workflow llmcompiler"),
                              key=lambda s: s.attributes["llmcompiler.run_id"] != results[0].run_id)
    assert carried.trace_id == format(task_span.get_span_context().trace_id, "032x")
    assert carried.parent_span_id == format(task_span.get_span_context().span_id, "016x")
    assert alone.parent_span_id == ""


def synthetic_run(started: float, batch_id: str | None = None, prompt_id: str | None = None,
                  finish_reasons: tuple[str | None, str | None] = ("stop", "stop")) -> RunResult:
    """A run as the agent records it: a planner call, one tool call on a worker, a joiner call."""
    planner, joiner = (LLMCall(role=role, model="m-1", provider="openai", prompt_tokens=40, completion_tokens=9,
                               latency_s=0.2, ttft_s=0.05, started=started + offset, finish_reason=reason)
                       for role, offset, reason in (("planner", 0.01, finish_reasons[0]),
                                                    ("joiner", 0.6, finish_reasons[1])))
    task = TaskRecord(id=1, tool="search", args=["Nile"], status="success", worker="tcp://127.0.0.1:4000",
                      start=started + 0.3, stop=started + 0.5, attempts=1, result="6650 km")
    return RunResult(prompt="How long is the Nile?", status="success", toolset="demo", started=started,
                     finished=started + 0.9, batch_id=batch_id, prompt_id=prompt_id, llm_calls=[planner, joiner],
                     plans=[PlanIteration(iteration=0, text='1. search("Nile")\n2. join()', tasks=[task])])


def test_chat_spans_carry_the_finish_reason_each_call_recorded(monkeypatch):
    result = synthetic_run(time.time() - 5, finish_reasons=("length", None))
    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver)
        tracing.emit_run_trace(result)
    _, chats, _ = run_tree(receiver.spans)
    by_role = {c.attributes["llmcompiler.llm.role"]: c.attributes for c in chats}
    assert by_role["planner"]["gen_ai.response.finish_reasons"] == ["length"]
    assert "gen_ai.response.finish_reasons" not in by_role["joiner"]  # a call that recorded none


def test_a_batch_is_one_span_with_its_runs_beneath_and_its_figures_at_the_end(monkeypatch):
    t0 = time.time() - 10
    airflow = AirflowIdentity(dag_id="d", task_id="batch", run_id="manual__1", map_index=-1, try_number=2)
    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver)
        batch = tracing.start_batch_trace("b-1", "prompts.jsonl", airflow, started=t0)
        assert batch is not None
        tracing.emit_run_trace(synthetic_run(t0 + 1, "b-1", "p-a"))  # found by its batch id
        tracing.emit_run_trace(synthetic_run(t0 + 2, "b-1", "p-b"), parent=batch)  # named
        tracing.emit_run_trace(synthetic_run(t0 + 3, "b-other", "p-c"))  # a batch without a trace: a root
        summary = BatchSummary(batch_id="b-1", status="success", name="prompts.jsonl", airflow=airflow, started=t0,
                               finished=t0 + 2.5, total=2, succeeded=2, wall_s=2.5, tokens=Tokens(prompt=160, completion=36),
                               cost=0.25, llm_requests=4, rate_limited=1, tool_calls=2, tool_calls_deduplicated=1,
                               options={"llm_conn_id": "a-connection"})
        tracing.end_batch_trace(batch, summary)
        tracing.emit_run_trace(synthetic_run(t0 + 4, "b-1", "p-late"))  # after the batch ended: a root

    [batch_span] = [s for s in receiver.spans if s.name == "invoke_workflow llmcompiler.batch"]
    assert batch_span.parent_span_id == "" and batch_span.status_code == 0
    assert batch_span.start == int(t0 * 1e9)
    a = batch_span.attributes
    assert (a["gen_ai.operation.name"], a["gen_ai.workflow.name"]) == ("invoke_workflow", "llmcompiler.batch")
    assert (a["llmcompiler.batch.id"], a["llmcompiler.batch.name"]) == ("b-1", "prompts.jsonl")
    assert (a["airflow.dag_id"], a["airflow.task_id"], a["airflow.task_instance.try_number"]) == ("d", "batch", 2)
    assert (a["llmcompiler.batch.status"], a["llmcompiler.batch.total"], a["llmcompiler.batch.succeeded"],
            a["llmcompiler.batch.failed"], a["llmcompiler.batch.skipped"]) == ("success", 2, 2, 0, 0)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (160, 36)
    assert (a["llmcompiler.batch.cost"], a["llmcompiler.batch.llm_requests"], a["llmcompiler.batch.rate_limited"],
            a["llmcompiler.batch.tool_calls"], a["llmcompiler.batch.tool_calls_deduplicated"]) == (0.25, 4, 1, 2, 1)
    assert a["llmcompiler.batch.runs_per_minute"] == summary.runs_per_minute and a["llmcompiler.batch.wall_s"] == 2.5
    assert not any("a-connection" in str(v) for v in a.values())  # the options stay out

    runs = {s.attributes["llmcompiler.batch.prompt_id"]: s for s in receiver.spans
            if s.name == "invoke_workflow llmcompiler"}
    assert sorted(runs) == ["p-a", "p-b", "p-c", "p-late"]
    for prompt_id in ("p-a", "p-b"):
        run = runs[prompt_id]
        assert (run.trace_id, run.parent_span_id) == (batch_span.trace_id, batch_span.span_id)
        assert batch_span.start <= run.start <= run.end <= batch_span.end
        assert run.attributes["llmcompiler.batch.id"] == "b-1"
        inside = [s for s in receiver.spans if s.parent_span_id == run.span_id]
        _, chats, tools = run_tree([run, *inside])
        assert len(chats) == 2 and len(tools) == 1
    assert batch_span.end == runs["p-b"].end > int(summary.finished * 1e9)  # it ends when its last run did
    for prompt_id in ("p-c", "p-late"):
        assert runs[prompt_id].parent_span_id == "" and runs[prompt_id].trace_id != batch_span.trace_id


def test_a_failed_batch_span_is_an_error_under_the_current_span(monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    summary = BatchSummary(batch_id="b-2", status="failed", total=3, succeeded=1, failed=2,
                           error="2 of 3 prompts failed, more than max_failed_fraction=0 allows: p-1, p-2")
    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver)
        with TracerProvider().get_tracer("test").start_as_current_span("worker.batch") as task_span:
            batch = tracing.start_batch_trace("b-2")
        tracing.end_batch_trace(batch, summary)
    [span] = receiver.spans
    assert span.trace_id == format(task_span.get_span_context().trace_id, "032x")
    assert span.parent_span_id == format(task_span.get_span_context().span_id, "016x")
    assert (span.status_code, span.status_message) == (2, summary.error)  # ERROR
    assert span.attributes["llmcompiler.batch.failed"] == 2 and "llmcompiler.batch.name" not in span.attributes


def test_nothing_is_sent_or_imported_when_traces_are_not_configured(tmp_path):
    """In a fresh interpreter without OTEL_TRACES_EXPORTER (and with OTEL_SDK_DISABLED overriding it):
    a run (beneath a carried parent) and a batch import no OpenTelemetry module and send nothing."""
    script = """
import os, sys
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.tracing import beneath, end_batch_trace, start_batch_trace, trace_carrier, traces_configured
from distributed import Client, LocalCluster
batch = start_batch_trace("b")
assert batch is None, batch
assert trace_carrier() == {}
with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c:
    with Client(c) as client, beneath({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}):
        config = RunConfig(toolset="demo", store_url="none")
        run = LLMCompilerRun(plan='1. math("2 + 2")\\n2. join()', config=config, client=client)
        run.result.batch_id = "b"
        r = run.execute()
end_batch_trace(batch, BatchSummary(batch_id="b", status="success", total=1, succeeded=1))
assert r.status == "success", r.error
print(traces_configured(), sorted({m.split(".")[1] for m in sys.modules if m.startswith("opentelemetry.")}))
"""
    with OTLPReceiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint  # an endpoint alone configures no exporter
        unset = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                               timeout=300)
        env.update(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                   OTEL_SDK_DISABLED="true")
        disabled = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                  timeout=300)
    for done in (unset, disabled):
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == "False []"
    assert receiver.spans == [] and receiver.bodies == []


@pytest.mark.parametrize("kind", ["run", "batch"])
def test_a_deferred_run_or_batch_hangs_beneath_the_span_of_the_task_that_submitted_it(cluster_client, monkeypatch,
                                                                                       kind):
    """What a deferrable operator submits carries the task's span: the driver task on a Dask worker traces
    the run (or the batch and its runs) beneath it."""
    from opentelemetry.sdk.trace import TracerProvider

    from llmcompiler_provider.agent.remote_run import RemoteRun, submit_remote_run
    from llmcompiler_provider.batch import BatchOptions
    from llmcompiler_provider.batch.remote import RemoteBatch, submit_remote_batch
    from llmcompiler_provider.batch_results import BatchPrompt

    client, _info = cluster_client
    with TracerProvider().get_tracer("test").start_as_current_span("worker.ask") as task_span:
        carrier = tracing.trace_carrier()
    config = RunConfig(toolset="demo", store_url=NO_STORE)
    plan = '1. math("2 + 3")\n2. join()'
    with OTLPReceiver() as receiver:
        otlp_env(monkeypatch, receiver)
        if kind == "run":
            name = submit_remote_run(client, RemoteRun(uuid.uuid4().hex, None, plan, None, config, carrier=carrier))
        else:
            spec = RemoteBatch(uuid.uuid4().hex, [BatchPrompt(id="a", prompt="q", plan=plan)], None, config,
                               BatchOptions(), carrier=carrier)
            name = submit_remote_batch(client, spec)
        assert client.get_dataset(name).result(timeout=120) == "success"
        client.unpublish_dataset(name)
    top = "invoke_workflow llmcompiler" + (".batch" if kind == "batch" else "")
    [span] = [s for s in receiver.spans if s.name == top]
    assert span.trace_id == format(task_span.get_span_context().trace_id, "032x")
    assert span.parent_span_id == format(task_span.get_span_context().span_id, "016x")
    if kind == "batch":
        [run] = [s for s in receiver.spans if s.name == "invoke_workflow llmcompiler"]
        assert run.parent_span_id == span.span_id
