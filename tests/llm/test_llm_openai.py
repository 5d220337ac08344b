"""The OpenAI-compatible backend against real servers on 127.0.0.1: llama.cpp's own server, and a
scripted HTTP server for the failures a healthy server will not produce on demand."""

from __future__ import annotations

import re

import pytest

from llmcompiler_provider.llm import (
    ChatModel,
    LLMAuthError,
    LLMBadResponse,
    LLMRateLimited,
    LLMStreamCut,
    LLMTimeout,
    LLMUnavailable,
    OpenAIChatModel,
    make_chat_model,
    plan_grammar,
)

HELLO = [{"role": "user", "content": "Say hello."}]
COUNTING = [{"role": "user", "content": "Count from one to twenty in words, separated by spaces."}]
SECRET = "sk-secret-key-123456"


def scripted(server, scenario: str, **options) -> OpenAIChatModel:
    options = {"timeout": 5.0, "max_retries": 2, "backoff_s": 0.01, **options}
    return OpenAIChatModel(server.url(scenario), SECRET, "scripted", **options)


# --- llama.cpp's server ------------------------------------------------------------------
@pytest.mark.slow
def test_streams_pieces_from_a_real_llama_cpp_server(llama_server):
    model = make_chat_model("openai", base_url=llama_server.base_url, model=llama_server.model)
    assert isinstance(model, ChatModel)
    stream = model.stream(COUNTING, max_tokens=12)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces).strip()
    usage = stream.usage
    assert usage is model.last_usage
    assert 1 <= usage.completion_tokens <= 12
    assert usage.prompt_tokens > 0
    assert usage.ttft_s is not None and usage.ttft_s <= usage.latency_s


@pytest.mark.slow
def test_the_server_answers_like_the_embedded_model(llama_server, local_model):
    remote = OpenAIChatModel(llama_server.base_url, None, llama_server.model)
    remote_text, _ = remote.complete(COUNTING, max_tokens=8)
    local_text, _ = local_model.complete(COUNTING, max_tokens=8)
    assert remote_text.split()[:2] == local_text.split()[:2]


@pytest.mark.slow
def test_stop_sequences_and_max_tokens_reach_the_server(llama_server):
    model = OpenAIChatModel(llama_server.base_url, None, llama_server.model)
    full, _ = model.complete(COUNTING, max_tokens=20)
    stop_word = full.split()[2]
    cut, _ = model.complete(COUNTING, max_tokens=20, stop=[stop_word])
    assert stop_word not in cut and full.startswith(cut.rstrip())
    _, usage = model.complete(COUNTING, max_tokens=3)
    assert usage.completion_tokens <= 3


@pytest.mark.slow
def test_grammar_is_passed_through_to_a_server_that_supports_it(llama_server, small_catalogue, planner_messages):
    model = OpenAIChatModel(llama_server.base_url, None, llama_server.model, supports_grammar=True)
    text, _ = model.complete(planner_messages, grammar=plan_grammar(small_catalogue, max_tasks=4), max_tokens=160)
    assert re.match(r"(Thought: [^\n]+\n)?1\. (search|math)\(", text), text
    assert text.endswith("<END_OF_PLAN>"), text


@pytest.mark.slow
def test_a_wrong_path_is_a_clear_error_naming_the_endpoint(llama_server):
    wrong = llama_server.base_url.replace("/v1", "/nope/v1")
    model = OpenAIChatModel(wrong, None, llama_server.model, max_retries=0)
    with pytest.raises(LLMBadResponse, match=r"HTTP 404: check the base URL") as caught:
        model.complete(HELLO, max_tokens=2)
    assert wrong in str(caught.value) and llama_server.model in str(caught.value)


# --- unreachable endpoints -----------------------------------------------------------------
def test_connection_refused_is_llm_unavailable(refused_url):
    url = refused_url
    model = OpenAIChatModel(url, None, "any", timeout=2, max_retries=1, backoff_s=0.01)
    with pytest.raises(LLMUnavailable, match=rf"cannot reach {re.escape(url)} \(model any\) after 2 attempts"):
        model.complete(HELLO, max_tokens=2)


def test_an_unresolvable_host_is_llm_unavailable():
    model = OpenAIChatModel("http://no-such-host.invalid/v1", None, "any", timeout=5, max_retries=0)
    with pytest.raises(LLMUnavailable, match=r"cannot reach http://no-such-host\.invalid/v1"):
        model.complete(HELLO, max_tokens=2)


def test_the_real_openai_endpoint_without_a_key_is_refused_before_any_request():
    import os

    if os.environ.get("OPENAI_API_KEY"):
        pytest.skip("OPENAI_API_KEY is set")
    with pytest.raises(LLMAuthError, match="set OPENAI_API_KEY"):
        make_chat_model("openai", model="gpt-4o-mini")


# --- the scripted server -------------------------------------------------------------------
def test_a_good_stream_reports_the_servers_exact_usage(scripted_server):
    model = scripted(scripted_server, "ok")
    text, usage = model.complete(HELLO, max_tokens=5, stop=["\n"])
    assert text == "Hello, world"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.exact) == (7, 2, True)
    sent = scripted_server.bodies["ok"][-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 5 and sent["stop"] == ["\n"] and sent["temperature"] == 0.0
    assert "grammar" not in sent


def test_a_server_that_rejects_stream_options_gets_estimated_usage(scripted_server):
    model = scripted(scripted_server, "old-server-1")
    text, usage = model.complete(HELLO)
    assert text == "Hello, world"
    assert usage.exact is False and usage.completion_tokens == 2 and usage.prompt_tokens > 0
    assert [("stream_options" in body) for body in scripted_server.bodies["old-server-1"]] == [True, False]
    model.complete(HELLO)  # remembered: asked once, not again
    assert scripted_server.requests["old-server-1"] == 3


def test_empty_stop_sequences_are_dropped(scripted_server):
    scripted(scripted_server, "ok-4").complete(HELLO, stop=["", "END", "END"])
    assert scripted_server.bodies["ok-4"][0]["stop"] == ["END"]


def test_grammar_is_only_sent_when_the_server_supports_it(scripted_server):
    scripted(scripted_server, "ok-1").complete(HELLO, grammar='root ::= "x"')
    scripted(scripted_server, "ok-2", supports_grammar=True).complete(HELLO, grammar='root ::= "x"')
    assert "grammar" not in scripted_server.bodies["ok-1"][0]
    assert scripted_server.bodies["ok-2"][0]["grammar"] == 'root ::= "x"'


def test_extra_headers_are_sent(scripted_server):
    scripted(scripted_server, "ok-3", extra_headers={"X-Team": "compilers"}).complete(HELLO)
    sent = scripted_server.headers["ok-3"][0]
    assert sent["x-team"] == "compilers"
    assert sent["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("scenario,status", [("unauthorized", 401), ("forbidden", 403)])
def test_refused_credentials_are_llm_auth_error_without_the_key(scripted_server, scenario, status):
    with pytest.raises(LLMAuthError, match=rf"refused the credentials \(HTTP {status}\)") as caught:
        scripted(scripted_server, scenario).complete(HELLO)
    message = str(caught.value)
    assert SECRET not in message and "123456" not in message
    assert "\n" not in message
    assert scripted_server.requests[scenario] == 1  # never retried


def test_a_429_then_success_is_retried_and_succeeds(scripted_server):
    text, _ = scripted(scripted_server, "flaky-1").complete(HELLO)
    assert text == "Hello, world"
    assert scripted_server.requests["flaky-1"] == 2


def test_429_every_time_is_llm_rate_limited_once_the_queue_timeout_runs_out(scripted_server):
    with pytest.raises(LLMRateLimited, match=r"kept rate-limiting the requests \(HTTP 429\) for the queue timeout "
                                             r"\(0\.5s, \d+ attempts\): lower max_concurrent_requests"):
        scripted(scripted_server, "rate-limited-1", max_retries=2, queue_timeout=0.5).complete(HELLO)
    assert scripted_server.requests["rate-limited-1"] > 3  # not bounded by max_retries: the endpoint's state


def test_500_every_time_is_llm_bad_response_after_bounded_retries(scripted_server):
    with pytest.raises(LLMBadResponse, match=r"HTTP 500 after 3 attempts: the GPU caught fire"):
        scripted(scripted_server, "broken-1", max_retries=2).complete(HELLO)
    assert scripted_server.requests["broken-1"] == 3


def test_a_connection_dropped_mid_stream_every_time_is_llm_stream_cut_after_the_queue_timeout(scripted_server):
    stream = scripted(scripted_server, "drop-1", queue_timeout=0.3).stream(HELLO)
    with pytest.raises(LLMStreamCut, match=r"cut its answer short \d+ times \(it dropped the connection mid-answer"):
        assert next(stream) == "Hel"
        list(stream)  # every replay repeats "Hel", never shown twice, then drops again
    assert stream.usage is not None and stream.usage.retries == scripted_server.requests["drop-1"] - 1 > 0


def test_a_stream_that_ends_without_finishing_every_time_is_llm_stream_cut(scripted_server):
    with pytest.raises(LLMStreamCut, match=r"\(it ended its stream before the answer was finished\)"):
        scripted(scripted_server, "truncated-1", queue_timeout=0.3).complete(HELLO)
    assert isinstance(LLMStreamCut("x"), LLMBadResponse)  # callers catching LLMBadResponse still do


def test_a_malformed_stream_is_llm_bad_response(scripted_server):
    with pytest.raises(LLMBadResponse, match="malformed stream"):
        scripted(scripted_server, "malformed-1").complete(HELLO)


def test_a_server_that_never_answers_is_llm_timeout_after_the_queue_timeout(scripted_server):
    with pytest.raises(LLMTimeout, match=r"did not start answering within the queue timeout \(0\.5s\)"):
        scripted(scripted_server, "silent-1", timeout=0.2, queue_timeout=0.5).complete(HELLO)
    assert scripted_server.requests["silent-1"] == 1  # a timeout is not retried


def test_a_server_that_stalls_mid_stream_is_llm_timeout(scripted_server):
    stream = scripted(scripted_server, "stall-1", timeout=0.5).stream(HELLO)
    assert next(stream) == "Hel"
    with pytest.raises(LLMTimeout, match=r"stopped sending its answer for 0\.5s"):
        next(stream)
