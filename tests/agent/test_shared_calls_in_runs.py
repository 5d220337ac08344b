"""Runs planned by a (scripted) model, their plans streamed and dispatched line by line, share their
identical tool calls through one SharedCalls."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from scripted_llm import ScriptedModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.shared_calls import SharedCalls
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.store.location import NO_STORE
from llmcompiler_provider.tools import Toolset

RUNS = 4
ANSWER = "Thought: found both\nAction: Finish(Both rivers are long.)"


def counting_toolset(folder: Path) -> Toolset:
    toolset = Toolset("shared-in-runs")

    @toolset.tool
    def lookup(river: str) -> str:
        """Look a river up."""
        with open(folder / river, "a") as handle:
            handle.write("x\n")
        return f"{river} is long"

    return toolset


@pytest.mark.parametrize("streaming", [True, False])
def test_planned_runs_share_their_identical_calls(cluster_client, tmp_path, streaming):
    plan = '1. lookup("nile")\n2. lookup("amazon")\n3. join()\n<END_OF_PLAN>'
    replies = {f"run{i}": [plan, ANSWER] for i in range(RUNS)}
    client, info = cluster_client
    toolset, shared = counting_toolset(tmp_path), SharedCalls()
    results = [None] * RUNS
    with ScriptedModelServer(replies) as server:

        def execute(i: int) -> None:
            llm = OpenAIChatModel(server.url(f"run{i}"), None, "scripted", max_retries=0)
            config = RunConfig(toolset=toolset, store_url=NO_STORE, max_replans=0, streaming=streaming,
                               shared_calls=shared)
            run = LLMCompilerRun("How long are the Nile and the Amazon?", llm=llm, config=config,
                                 client=client, cluster_info=info)
            results[i] = run.execute()

        threads = [threading.Thread(target=execute, args=(i,)) for i in range(RUNS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
    assert [r.status for r in results] == ["success"] * RUNS, [r.error for r in results]
    assert [r.answer for r in results] == ["Both rivers are long."] * RUNS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["amazon", "nile"]
    assert all(len((tmp_path / name).read_text().splitlines()) == 1 for name in ("amazon", "nile"))
    assert sum(r.counts.shared_calls for r in results) == 2 * RUNS - 2 == shared.hits
    for result in results:
        assert [t.result for t in result.plans[0].tasks] == ["nile is long", "amazon is long"]
