"""The planner's slips are repaired in a run, with warnings recorded with it; a given plan stays exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from scripted_llm import ScriptedModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.store import get_run

SLIPPED = '```\n1. search(Nile length)\n2. search("Nile cruise tickets over $50"\n3. join()\n'
GOOD_PLAN = '1. search("Nile length")\n2. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(The Nile is 6650 km long.)"
REPAIRS = [
    "<planner>:1:1: warning: Markdown code fence dropped",
    '<planner>:2:11: warning: unquoted argument text taken as one string: "Nile length"',
    "<planner>:3:37: warning: '$50' in a string is no earlier task's result: kept as the text '$50'",
    "<planner>:3:41: warning: missing ')' at the end of the line: added",
]


@pytest.fixture(scope="module")
def model_server():
    replies = {name: [SLIPPED, ANSWER] for name in ("streamed", "whole", "cli")}
    replies["exact"] = [SLIPPED, GOOD_PLAN, ANSWER]
    with ScriptedModelServer(replies) as server:
        yield server


def run_with(cluster_client, store, model_server, name, **config):
    client, info = cluster_client
    llm = OpenAIChatModel(model_server.url(name), None, "scripted", max_retries=0)
    config = RunConfig(store_url=store, max_replans=0, **config)
    return LLMCompilerRun("How long is the Nile?", llm=llm, config=config, client=client, cluster_info=info).execute()


@pytest.mark.parametrize(("name", "streaming"), [("streamed", True), ("whole", False)])
def test_the_planners_slips_are_repaired_without_asking_again_and_recorded(
    cluster_client, model_server, sqlite_url, name, streaming
):
    result = run_with(cluster_client, sqlite_url, model_server, name, streaming=streaming)
    assert result.status == "success", result.error
    assert [c.role for c in result.llm_calls] == ["planner", "joiner"]
    (plan,) = result.plans
    assert plan.warnings == REPAIRS and plan.compile_errors == []
    assert [t.args or list(t.kwargs.values()) for t in plan.tasks] == [
        ["Nile length"], ["Nile cruise tickets over $50"]]
    assert get_run(result.run_id, sqlite_url).plans[0].warnings == REPAIRS


def test_without_repair_the_planner_is_shown_the_errors_and_asked_again(cluster_client, model_server, sqlite_url):
    result = run_with(cluster_client, sqlite_url, model_server, "exact", repair_plans=False)
    assert result.status == "success", result.error
    assert [c.role for c in result.llm_calls] == ["planner", "planner", "joiner"]
    rejected, planned = result.plans
    assert rejected.compile_errors[0].startswith("<planner>:1:1: error: expected a numbered action")
    assert rejected.warnings == planned.warnings == []


def test_a_given_plan_is_compiled_exactly(cluster_client, sqlite_url):
    client, info = cluster_client
    config = RunConfig(store_url=sqlite_url)
    result = LLMCompilerRun(plan=SLIPPED, config=config, client=client, cluster_info=info).execute()
    assert result.status == "failed"
    assert result.error.startswith("<plan>:1:1: error: expected a numbered action")


def test_cli_run_json_shows_the_repairs(tmp_path, model_server):
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    command = [sys.executable, "-m", "llmcompiler_provider", "run", "How long is the Nile?", "--llm", "openai",
               "--base-url", model_server.url("cli"), "--model", "scripted", "--api-key-env", "NO_KEY",
               "--store", store, "--max-replans", "0", "--workers", "1"]
    proc = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NO_KEY": "none"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plans"][0]["warnings"] == REPAIRS
