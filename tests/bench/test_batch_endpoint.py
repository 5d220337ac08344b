"""The batch suite's scripted endpoint and workload, driven as the project drives them: a real HTTP server on
loopback, the openai SDK, the project's own prompts, the plan compiler."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from benchmarks.batch_endpoint import EndpointProcess, EndpointServer, EndpointSpec
from benchmarks.batch_workload import ENDPOINT_ENV, TOOLSET, BatchWorkload, combine, lookup
from llmcompiler_provider.agent.joiner import parse_decision
from llmcompiler_provider.agent.prompts import joiner_messages, planner_messages
from llmcompiler_provider.plan import compile_plan

FAST = dict(ttft_s=0.01, tokens_per_s=2000.0, requests_per_minute=None)


def stream(url: str, messages: list[dict], **options) -> tuple[str, list]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    text, chunks = "", []
    for chunk in client.chat.completions.create(model="bench", messages=messages, stream=True, **options):
        chunks.append(chunk)
        for choice in chunk.choices:
            text += choice.delta.content or ""
    return text, chunks


def chat(url: str, k: int) -> httpx.Response:
    """One planner request, read to its end (or its error)."""
    body = {"model": "bench", "stream": True, "messages": planner_messages(f"bench prompt {k}", TOOLSET)}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)


def test_the_planner_gets_the_prompts_plan_and_the_usage_chunk_when_asked():
    workload = BatchWorkload(100)
    with EndpointServer(EndpointSpec(**FAST), workload) as server:
        messages = planner_messages("bench prompt 17", TOOLSET)
        text, chunks = stream(server.url, messages, stop=["<END_OF_PLAN>"], stream_options={"include_usage": True})
        assert text == workload.plan(17)
        assert chunks[-1].usage.completion_tokens == len(chunks) - 3  # role chunk, finish chunk, usage chunk
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        _, without = stream(server.url, messages, stop=["<END_OF_PLAN>"])
        assert all(c.usage is None for c in without)


def test_the_joiner_is_answered_with_finish_for_its_prompt():
    workload = BatchWorkload(100)
    with EndpointServer(EndpointSpec(**FAST), workload) as server:
        messages = joiner_messages("bench prompt 5", workload.plan(5), "$1 = lookup(...)\nObservation: x", can_replan=True)
        text, _ = stream(server.url, messages)
    decision = parse_decision(text, can_replan=True)
    assert not decision.replan and decision.answer == workload.answer(5)


def test_a_question_that_is_no_bench_prompt_is_a_400_that_says_so():
    with EndpointServer(EndpointSpec(**FAST), BatchWorkload(10)) as server:
        body = {"model": "bench", "stream": True, "messages": planner_messages("How tall is it?", TOOLSET)}
        response = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 400 and "bench prompt N" in response.json()["error"]["message"]


def test_a_stream_takes_its_first_token_time_and_its_tokens_at_the_stream_rate():
    spec = EndpointSpec(ttft_s=0.2, tokens_per_s=100.0, prefill_tokens_per_s=1e9, requests_per_minute=None)
    workload = BatchWorkload(10)
    with EndpointServer(spec, workload) as server:
        started = time.monotonic()
        text, chunks = stream(server.url, planner_messages("bench prompt 3", TOOLSET))
        took = time.monotonic() - started
    tokens = len(chunks) - 2
    assert took >= 0.2 + (tokens - 1) / 100.0  # a lower bound: the model never streams faster than its rate


def test_requests_beyond_the_capacity_wait_in_its_queue_and_beyond_the_queue_are_429_with_retry_after():
    spec = EndpointSpec(capacity=1, max_queue=1, ttft_s=0.3, tokens_per_s=400.0, requests_per_minute=None,
                        queue_retry_after_s=2)
    with EndpointServer(spec, BatchWorkload(10)) as server:
        responses: dict[int, httpx.Response] = {}
        threads = [threading.Thread(target=lambda k=k: responses.__setitem__(k, chat(server.url, k))) for k in range(3)]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        stats = server.counts.stats(spec, server.slots)
        log = server.counts.log()["requests"]
    assert sorted(r.status_code for r in responses.values()) == [200, 200, 429]
    limited = next(r for r in responses.values() if r.status_code == 429)
    assert limited.headers["Retry-After"] == "2"
    served = sorted((r for r in log if r["admitted"]), key=lambda r: r["admitted"])
    assert served[1]["admitted"] >= served[0]["ended"]  # the second waited for the only slot
    assert stats["rate_limited"] == 1 and stats["peak_busy"] == 1 and stats["peak_waiting"] == 1
    assert stats["bound_s"] == pytest.approx(sum(r["ended"] - r["admitted"] for r in served))


def test_requests_beyond_the_request_rate_are_429_with_the_seconds_until_one_may_go():
    spec = EndpointSpec(requests_per_minute=30, **{k: v for k, v in FAST.items() if k != "requests_per_minute"})
    with EndpointServer(spec, BatchWorkload(10)) as server:
        first, second = chat(server.url, 1), chat(server.url, 2)
    assert first.status_code == 200 and second.status_code == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 2  # one request every 2 s
    assert "requests per minute" in second.json()["error"]["message"]


def test_plans_are_deterministic_compile_and_share_about_a_third_of_their_calls():
    workload = BatchWorkload(1000)
    assert workload.plan(42) == BatchWorkload(1000).plan(42)
    signatures = TOOLSET.signatures()
    for k in range(0, 1000, 7):
        graph = compile_plan(workload.plan(k), signatures)
        calls = workload.calls(k)
        assert 2 <= len(calls) <= 8 and all(100 <= c.ms <= 500 for c in calls)
        assert len(graph.tasks) <= len(calls) + 1
    assert any(c.deps for k in range(50) for c in workload.calls(k))
    figures = workload.figures()
    assert 0.25 <= figures["shared_share"] <= 0.35
    assert figures["distinct_calls"] < figures["calls"]
    shared = {}
    for k in range(1000):
        for call in workload.calls(k):
            if call.shared:
                assert shared.setdefault(call.key, call.ms) == call.ms  # the same literal arguments everywhere


def test_the_tools_run_at_the_endpoint_which_counts_every_execution(monkeypatch):
    with EndpointServer(EndpointSpec(**FAST), BatchWorkload(10)) as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        started = time.monotonic()
        assert lookup("shared-1", 100) == lookup("shared-1", 100)
        assert time.monotonic() - started >= 0.2
        combine("p1-3", 100, ["a", "b"])
        stats = server.counts.stats(server.spec, server.slots)
    assert stats["tool_executions"] == 3 and stats["tool_distinct"] == 2 and stats["tool_duplicates"] == 1


def test_a_tool_without_the_endpoint_says_which_variable_to_set(monkeypatch):
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    with pytest.raises(RuntimeError, match=f"lookup: {ENDPOINT_ENV} is not set"):
        lookup("k", 100)


def test_the_endpoint_process_serves_counts_and_resets_them():
    with EndpointProcess(EndpointSpec(**FAST), BatchWorkload(10)) as endpoint:
        assert chat(endpoint.url, 1).status_code == 200
        stats = endpoint.stats()
        assert stats["by_role"] == {"planner": 1} and stats["completed_by_role"] == {"planner": 1}
        assert [r["prompt"] for r in endpoint.log()["requests"]] == [1]
        endpoint.reset()
        assert endpoint.stats()["requests"] == 0
    assert endpoint.process.poll() is not None


def test_stream_time_adds_up_over_concurrent_streams():
    spec = EndpointSpec(capacity=4, ttft_s=0.2, tokens_per_s=200.0, requests_per_minute=None)
    with EndpointServer(spec, BatchWorkload(10)) as server:
        threads = [threading.Thread(target=chat, args=(server.url, k)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = server.counts.stats(spec, server.slots)
        held = [r["ended"] - r["admitted"] for r in server.counts.log()["requests"]]
    assert stats["streams_completed"] == 4 and stats["peak_waiting"] == 0
    assert stats["stream_s"] == pytest.approx(sum(held)) and stats["bound_s"] == pytest.approx(sum(held) / 4)
