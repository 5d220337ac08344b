"""Tools that raise, overrun their timeout or never return: retried as configured, then the task
fails, its dependents fail with the cause, independent branches finish, the joiner sees the
errors, and the run's status and error are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_tools import called_pids
from faulty_model import FaultyModelServer

from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.store import get_run

ANSWER = "Thought: two lookups failed\nAction: Finish(only part of the answer)"


def failing_plan(tmp_path: Path) -> str:
    return (
        f'1. always_fails("{tmp_path / "fails"}")\n'
        '2. echo("needs $1")\n'
        f'3. overruns("{tmp_path / "overruns"}")\n'
        '4. echo("independent")\n'
        '5. echo("$4 and $3")\n'
        "6. join()\n<END_OF_PLAN>"
    )


@pytest.fixture
def model(tmp_path) -> Iterator[tuple[FaultyModelServer, OpenAIChatModel]]:
    with FaultyModelServer({"faults": [failing_plan(tmp_path), ANSWER]}) as server:
        yield server, OpenAIChatModel(server.url("faults"), None, "scripted", max_retries=0, timeout=30)


def test_failures_are_retried_then_fail_their_dependents_while_independent_branches_finish(
    make_run, model, sqlite_url, tmp_path
):
    server, llm = model
    result = make_run(prompt="What failed?", llm=llm).execute()

    assert result.status == "success", result.error
    assert result.answer == "only part of the answer"
    assert len(called_pids(tmp_path / "fails")) == 3  # retries=2
    assert len(called_pids(tmp_path / "overruns")) == 2  # retries=1
    stored = get_run(result.run_id, sqlite_url)
    tasks = {task.id: task for task in stored.all_tasks}
    assert (tasks[1].status, tasks[1].attempts, tasks[1].error) == (
        "failed", 3, "RuntimeError: backend refused call 3")
    assert (tasks[2].status, tasks[2].error) == ("skipped", "not run: $1 failed: RuntimeError: backend refused call 3")
    assert (tasks[3].status, tasks[3].attempts, tasks[3].error) == ("failed", 2, "timed out after 0.5 s")
    assert (tasks[4].status, tasks[4].result) == ("success", "independent")
    assert (tasks[5].status, tasks[5].error) == ("skipped", "not run: $3 failed: timed out after 0.5 s")
    assert stored.counts.failed_tasks == 2

    joiner_saw = server.messages("faults", 1)
    assert "Observation: ERROR: RuntimeError: backend refused call 3" in joiner_saw
    assert "Observation: ERROR: not run: $1 failed: RuntimeError: backend refused call 3" in joiner_saw
    assert "Observation: ERROR: timed out after 0.5 s" in joiner_saw
    assert "Observation: independent" in joiner_saw


def test_a_tool_that_never_returns_ends_the_run_at_its_timeout_and_independent_work_is_kept(
    make_run, sqlite_url, tmp_path
):
    release = tmp_path / "release"
    plan = f'1. never_returns("{tmp_path / "calls"}", "{release}")\n2. echo("after $1")\n3. echo("independent")\n4. join()'
    try:
        result = make_run(plan, run_timeout=3).execute()
    finally:
        release.touch()  # let the abandoned call end, so no worker thread outlives the test

    assert (result.status, result.error) == ("failed", "the plan's tasks did not finish within 3 s")
    stored = get_run(result.run_id, sqlite_url)
    assert (stored.status, stored.error) == ("failed", "the plan's tasks did not finish within 3 s")
    tasks = {task.id: task for task in stored.all_tasks}
    assert tasks[1].status == "cancelled" and tasks[2].status == "cancelled"
    assert (tasks[3].status, tasks[3].result) == ("success", "independent")
