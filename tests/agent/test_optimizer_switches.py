"""The optimizer switches reach a streamed plan as they reach a whole one: with ``optimize=False`` or
``cse`` disabled, two identical pure calls written by the planner both run (a scripted model over a
real HTTP server, a real Dask cluster)."""

from __future__ import annotations

import pytest
from scripted_llm import ScriptedModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import OpenAIChatModel

TWICE = '1. search("Nile length")\n2. search("Nile length")\n3. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(The Nile is long.)"


@pytest.fixture(scope="module")
def model_server():
    with ScriptedModelServer({"twice": [TWICE, ANSWER]}) as server:
        yield server


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize(
    ("switches", "both_run"),
    [({}, False), ({"optimize": False}, True), ({"disabled_passes": ("cse",)}, True)],
    ids=["default", "no-optimize", "cse-disabled"],
)
def test_identical_calls_are_merged_only_when_cse_is_on(cluster_client, model_server, streaming, switches, both_run):
    client, info = cluster_client
    model_server.calls.clear()
    llm = OpenAIChatModel(model_server.url("twice"), None, "scripted", max_retries=0)
    config = RunConfig(store_url="none", max_replans=0, streaming=streaming, **switches)
    result = LLMCompilerRun("How long is the Nile?", llm=llm, config=config, client=client, cluster_info=info).execute()

    assert result.status == "success", result.error
    tasks = {task.id: task for task in result.plans[0].tasks}
    assert set(tasks) == {1, 2}
    assert tasks[2].result.startswith("(same as $1)") is not both_run  # an alias of task 1, or a call of its own
