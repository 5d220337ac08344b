"""A run's timings count every planner attempt, also when planning fails in the end."""

from __future__ import annotations

import time

import pytest
from scripted_llm import ScriptedModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.store import get_run

GARBAGE = "Sure! Rivers are long. (;;) 1.. ??"
GOOD_PLAN = '1. search("Nile length")\n2. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(about 6650 km)"
DELAY_S = 0.4  # each answer takes this long, so the planner's time is plain to see


class SlowModelServer(ScriptedModelServer):
    def respond(self, handler, name, n, body):
        time.sleep(DELAY_S)
        super().respond(handler, name, n, body)


@pytest.fixture(scope="module")
def slow_server():
    with SlowModelServer({"garbage": [GARBAGE], "fixes-itself": [GARBAGE, GOOD_PLAN, ANSWER]}) as server:
        yield server


def run_with(cluster_client, store, llm):
    client, info = cluster_client
    config = RunConfig(store_url=store, max_replans=0, max_plan_attempts=2)
    return LLMCompilerRun("How long is the Nile?", llm=llm, config=config, client=client, cluster_info=info).execute()


def test_a_run_that_fails_while_planning_records_its_planning_time(cluster_client, slow_server, sqlite_url):
    llm = OpenAIChatModel(slow_server.url("garbage"), None, "scripted", max_retries=0)
    result = run_with(cluster_client, sqlite_url, llm)
    assert result.status == "failed" and [c.role for c in result.llm_calls] == ["planner", "planner"]
    planner_s = sum(c.latency_s for c in result.llm_calls)
    assert planner_s >= 2 * DELAY_S
    assert planner_s <= result.timings.planning_s <= result.timings.wall_s
    assert get_run(result.run_id, sqlite_url).timings.planning_s == pytest.approx(result.timings.planning_s)


def test_a_failed_attempt_counts_in_the_planning_time_of_a_run_that_succeeds(cluster_client, slow_server, sqlite_url):
    llm = OpenAIChatModel(slow_server.url("fixes-itself"), None, "scripted", max_retries=0)
    result = run_with(cluster_client, sqlite_url, llm)
    assert result.status == "success", result.error
    planner_s = sum(c.latency_s for c in result.llm_calls if c.role == "planner")
    assert planner_s >= 2 * DELAY_S and result.timings.planning_s >= planner_s
    assert result.timings.planning_s < result.timings.wall_s
