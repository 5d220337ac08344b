"""The planner's or joiner's endpoint misbehaves: bounded retries, then one clear recorded failure.

Runs go through ``LLMCompilerRun`` with the real OpenAI backend against a scripted
OpenAI-compatible server on a real socket, and are read back from the store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faulty_model import DROPPED, RATE_LIMITED, SERVER_ERROR, SILENT, FaultyModelServer

from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store import get_run

PLAN = '1. echo("6650 km")\n2. echo("independent")\n3. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(The Nile is 6650 km long.)"
RETRIES = 2


@pytest.fixture(scope="module")
def server() -> Iterator[FaultyModelServer]:
    replies = {
        "rate-limited-once": [RATE_LIMITED, PLAN, ANSWER],
        "always-500": [SERVER_ERROR],
        "drops-mid-stream": [DROPPED],
        "never-answers": [SILENT],
        "joiner-500": [PLAN, SERVER_ERROR],
    }
    with FaultyModelServer(replies) as scripted:
        yield scripted


def model(server: FaultyModelServer, name: str, timeout: float = 30, queue_timeout: float = 60) -> OpenAIChatModel:
    return OpenAIChatModel(server.url(name), "sk-reliability-test", "scripted", max_retries=RETRIES,
                           backoff_s=0.05, timeout=timeout, queue_timeout=queue_timeout)


def run_against(make_run, server: FaultyModelServer, name: str, timeout: float = 30, queue_timeout: float = 60):
    return make_run(prompt="How long is the Nile?", llm=model(server, name, timeout, queue_timeout)).execute()


def assert_recorded_failure(result, sqlite_url: str, error: str) -> RunResult:
    assert (result.status, result.error) == ("failed", error)
    stored = get_run(result.run_id, sqlite_url)
    assert (stored.status, stored.error) == ("failed", error)
    assert stored.llm_calls[-1].error == error  # the call that failed says why
    return stored


def test_a_429_then_200_is_retried_and_the_run_succeeds(make_run, server, sqlite_url):
    result = run_against(make_run, server, "rate-limited-once")
    assert result.status == "success", result.error
    assert result.answer == "The Nile is 6650 km long."
    assert server.calls["rate-limited-once"] == 3  # 429, the plan, the answer
    assert [c.role for c in get_run(result.run_id, sqlite_url).llm_calls] == ["planner", "joiner"]


def test_500_every_time_is_retried_a_bounded_number_of_times_then_recorded(make_run, server, sqlite_url):
    result = run_against(make_run, server, "always-500")
    where = f"{server.url('always-500')} (model scripted)"
    assert_recorded_failure(result, sqlite_url, f"{where} answered HTTP 500 after {RETRIES + 1} attempts: scripted failure 500")
    assert server.calls["always-500"] == RETRIES + 1


def test_a_stream_dropped_mid_answer_every_time_is_a_clear_recorded_failure(make_run, server, sqlite_url):
    result = run_against(make_run, server, "drops-mid-stream", queue_timeout=1)
    where = f"{server.url('drops-mid-stream')} (model scripted)"
    assert result.error.startswith(f"{where} cut its answer short ")
    assert "(it dropped the connection mid-answer" in result.error
    assert_recorded_failure(result, sqlite_url, result.error)
    assert server.calls["drops-mid-stream"] > 1  # a cut answer is asked again, within the queue timeout


def test_an_endpoint_that_never_answers_times_out_and_is_recorded(make_run, server, sqlite_url):
    result = run_against(make_run, server, "never-answers", timeout=1, queue_timeout=1)
    where = f"{server.url('never-answers')} (model scripted)"
    assert_recorded_failure(result, sqlite_url, f"{where} did not start answering within the queue timeout (1s)")
    assert server.calls["never-answers"] == 1  # a timeout is not retried: it would only wait as long again


def test_a_joiner_that_fails_still_leaves_the_tasks_that_ran_recorded(make_run, server, sqlite_url):
    result = run_against(make_run, server, "joiner-500")
    where = f"{server.url('joiner-500')} (model scripted)"
    stored = assert_recorded_failure(
        result, sqlite_url, f"{where} answered HTTP 500 after {RETRIES + 1} attempts: scripted failure 500")
    assert [(t.id, t.status, t.result) for t in stored.all_tasks] == [
        (1, "success", "6650 km"), (2, "success", "independent")]
    assert server.calls["joiner-500"] == 1 + RETRIES + 1
