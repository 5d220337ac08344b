"""A run becomes an OpenTelemetry GenAI trace, sent by the SDK's OTLP/HTTP exporter to a real
receiver on loopback (tests/otlp_receiver.py): a streamed run with a replan gives one
``invoke_workflow`` span with its ``chat`` and ``execute_tool`` spans beneath, at the times the run
recorded; nothing is sent (or imported) when traces are not configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from otlp_receiver import OTLPReceiver, otlp_env, run_tree
from scripted_llm import ScriptedModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import OpenAIChatModel
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


def test_nothing_is_sent_or_imported_when_traces_are_not_configured(tmp_path):
    """In a fresh interpreter without OTEL_TRACES_EXPORTER (and with OTEL_SDK_DISABLED overriding it):
    a run imports no OpenTelemetry module and sends nothing."""
    script = """
import os, sys
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.tracing import traces_configured
from distributed import Client, LocalCluster
with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c:
    with Client(c) as client:
        config = RunConfig(toolset="demo", store_url="none")
        r = LLMCompilerRun(plan='1. math("2 + 2")\\n2. join()', config=config, client=client).execute()
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
