"""Sizes are capped: a plan's literal arguments at compile time, and what the store keeps of a
task's arguments, result and error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faulty_model import FaultyModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.plan.analyzer import MAX_ARGUMENT_CHARS
from llmcompiler_provider.results import RESULT_PREVIEW_CHARS
from llmcompiler_provider.store import get_run
from llmcompiler_provider.store.convert import ARGUMENTS_JSON_CHARS, ERROR_CHARS

OVER_THE_CAP = "x" * (MAX_ARGUMENT_CHARS + 1)
CAP_MESSAGE = (f"an argument of echo() holds more than {MAX_ARGUMENT_CHARS:,} characters, the limit for a plan's "
               "literals: pass large data from a task's result ($N) instead")


def run(threaded_cluster, store: str, plan: str | None = None, llm=None, prompt: str | None = None):
    client, info = threaded_cluster
    config = RunConfig(toolset="guarded_tools:guarded", store_url=store, max_replans=0)
    return LLMCompilerRun(prompt, plan=plan, llm=llm, config=config, client=client, cluster_info=info).execute()


@pytest.mark.parametrize(
    "argument",
    [f'"{OVER_THE_CAP}"', "[" + ", ".join(["0"] * (MAX_ARGUMENT_CHARS + 1)) + "]",
     '{"a": ["' + "y" * (MAX_ARGUMENT_CHARS // 2) + '", "' + "z" * (MAX_ARGUMENT_CHARS // 2 + 1) + '"]}'],
    ids=["string", "list", "nested"],
)
def test_a_plan_literal_over_the_cap_is_a_compile_error_and_nothing_runs(argument, threaded_cluster, canary,
                                                                           sqlite_url):
    result = run(threaded_cluster, sqlite_url, plan=f'1. search("first")\n2. echo({argument})\n3. join()')
    # the cap is the first error; echo(text: str) also refuses a list or dict by its type
    assert (result.status, result.error.splitlines()[0]) == ("failed", f"<plan>:2:4: error: {CAP_MESSAGE}")
    stored = get_run(result.run_id, sqlite_url)
    assert stored.status == "failed" and stored.all_tasks == []


@pytest.fixture(scope="module")
def model_server() -> Iterator[FaultyModelServer]:
    with FaultyModelServer({"huge": [f'1. echo("{OVER_THE_CAP}")\n2. join()']}) as server:
        yield server


def test_a_planner_writing_a_literal_over_the_cap_fails_to_compile_and_is_recorded(
    model_server, threaded_cluster, canary, sqlite_url
):
    llm = OpenAIChatModel(model_server.url("huge"), None, "scripted", max_retries=0)
    result = run(threaded_cluster, sqlite_url, llm=llm, prompt="Repeat this enormous text.")
    assert (result.status, result.error) == ("failed", f"<planner>:1:4: error: {CAP_MESSAGE}")
    stored = get_run(result.run_id, sqlite_url)
    assert [p.compile_errors for p in stored.plans] == [[result.error]] * 2  # asked again once
    assert stored.all_tasks == []


def test_the_store_keeps_capped_arguments_results_and_errors(threaded_cluster, canary, sqlite_url):
    just_under = "w" * (MAX_ARGUMENT_CHARS - 10)
    plan = f'1. big_result(5000000)\n2. loud_failure(1000000)\n3. echo("{just_under}")\n4. join()'
    result = run(threaded_cluster, sqlite_url, plan=plan)
    stored = {t.id: t for t in get_run(result.run_id, sqlite_url).all_tasks}

    assert stored[1].status == "success" and len(stored[1].result) == RESULT_PREVIEW_CHARS
    assert stored[2].status == "failed" and stored[2].error.startswith("RuntimeError: eee")
    assert len(stored[2].error) <= ERROR_CHARS
    assert stored[3].args_preview is not None and (stored[3].args, stored[3].kwargs) == ([], {})  # capped
    assert len(stored[3].args_preview) <= ARGUMENTS_JSON_CHARS
    assert len(stored[3].result) == RESULT_PREVIEW_CHARS
