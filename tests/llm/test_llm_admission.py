"""Staying within an endpoint's limits: admission control, retries of the endpoint's state
(429 with and without Retry-After, a stream cut short, a queue), against the scripted server
on a real loopback socket, with every request's arrival time taken on the server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from scripted_server import USAGE, Reply, ScriptedServer, free_port

from llmcompiler_provider.llm import LLMStreamCut, OpenAIChatModel
from llmcompiler_provider.llm.admission import AdmissionControl, AdmissionLimits, admission_for

HELLO = [{"role": "user", "content": "Say hello."}]


def model(url: str, **options) -> OpenAIChatModel:
    """A model of its own admission control (the registry would share one between tests of one URL)."""
    limits = {k: options.pop(k) for k in ("max_concurrent_requests", "requests_per_minute", "tokens_per_minute")
              if k in options}
    admission = AdmissionControl(url, AdmissionLimits(**limits, adaptive=options.pop("adaptive", True)))
    return OpenAIChatModel(url, None, "scripted", **{"timeout": 5.0, "backoff_s": 0.05, "admission": admission,
                                                      **options})


def complete_in_threads(llm: OpenAIChatModel, threads: int, calls_each: int = 1, **options) -> list:
    """``threads`` threads started together, each completing ``calls_each`` calls on the one model."""
    start = threading.Barrier(threads)

    def work(_: int) -> list:
        start.wait()
        return [llm.complete(HELLO, max_tokens=5, **options) for _ in range(calls_each)]

    with ThreadPoolExecutor(threads) as pool:
        return [answer for answers in pool.map(work, range(threads)) for answer in answers]


def most_in_a_window(times: list[float], window_s: float) -> int:
    """The most arrivals within any ``window_s`` seconds."""
    return max(sum(1 for t in times if start <= t < start + window_s) for start in times)


# --- concurrency ---------------------------------------------------------------------------
def test_sixteen_threads_sharing_one_model_all_succeed_against_a_server_that_refuses_beyond_four(scripted_server):
    url = scripted_server.script("busy-sixteen", "busy", capacity=4, piece_s=0.02)
    answers = complete_in_threads(model(url), 16)
    assert [text for text, _ in answers] == ["Hello, world"] * 16
    assert 429 in scripted_server.statuses["busy-sixteen"]  # the server did refuse, and every call still succeeded


def test_max_concurrent_requests_keeps_the_server_at_that_many_at_once(scripted_server):
    url = scripted_server.script("busy-capped", "busy", capacity=3, piece_s=0.02)
    answers = complete_in_threads(model(url, max_concurrent_requests=3), 16)
    assert [text for text, _ in answers] == ["Hello, world"] * 16
    assert scripted_server.peak["busy-capped"] == 3
    assert 429 not in scripted_server.statuses["busy-capped"]
    assert max(usage.queued_s for _, usage in answers) > 0  # the time waiting for a slot is reported


def test_a_model_without_limits_settles_at_what_the_endpoint_accepts(scripted_server):
    # answers long enough (0.2s) that the client's own overhead does not hide the server's concurrency
    url = scripted_server.script("busy-adaptive", "busy", capacity=4, piece_s=0.2)
    llm = model(url)
    answers = complete_in_threads(llm, 16, calls_each=3)
    assert [text for text, _ in answers] == ["Hello, world"] * 48
    assert llm.admission.concurrency_limit is not None and llm.admission.concurrency_limit <= 4
    statuses = scripted_server.statuses["busy-adaptive"]
    settled = statuses[-(len(statuses) // 3):]
    assert settled.count(429) <= 1, f"{settled.count(429)} of the last {len(settled)} requests were refused"


# --- Retry-After ---------------------------------------------------------------------------
def test_a_retry_comes_no_sooner_than_retry_after_asks(scripted_server):
    url = scripted_server.script("pause-one", "pause", first=1, retry_after="1")
    text, usage = model(url).complete(HELLO)
    assert text == "Hello, world"
    first, retry = scripted_server.arrivals["pause-one"]
    assert retry - first >= 1.0
    assert (usage.retries, usage.rate_limited) == (1, 1) and usage.queued_s >= 0.9


def test_retry_after_longer_than_eight_seconds_is_honoured_not_capped():
    from llmcompiler_provider.llm.openai_compat import MAX_BACKOFF_S, _retry_after_seconds

    class Refusal:
        class response:
            headers = {"retry-after": "20"}

    assert _retry_after_seconds(Refusal()) == 20.0 > MAX_BACKOFF_S


def test_simultaneous_429s_are_retried_spread_out_and_none_before_retry_after(scripted_server):
    url = scripted_server.script("pause-eight", "pause", first=8, retry_after="1")
    answers = complete_in_threads(model(url), 8)
    assert [text for text, _ in answers] == ["Hello, world"] * 8
    arrivals = scripted_server.arrivals["pause-eight"]
    refused, retries = arrivals[:8], arrivals[8:]
    assert min(retries) >= max(refused) + 1.0 - 0.05  # every 429 arrived within the burst
    assert min(retries) >= min(refused) + 1.0
    assert max(retries) - min(retries) > 0.02, "the retries came in lockstep"


# --- a stream cut short ----------------------------------------------------------------------
@pytest.mark.parametrize("end", ["cut", "drop"])
def test_a_stream_cut_short_is_replayed_and_the_consumer_sees_the_whole_answer_once(scripted_server, end):
    url = scripted_server.script(f"replay-{end}", "replies", answers=[
        Reply(["The ", "answer "], end=end),
        Reply(["The answer", " is 42."]),  # the same text, in other pieces
    ])
    with model(url).stream(HELLO) as stream:
        pieces = list(stream)
    assert pieces == ["The ", "answer ", "is 42."]
    assert (stream.usage.retries, stream.usage.finish_reason) == (1, "stop")
    assert scripted_server.requests[f"replay-{end}"] == 2


def test_a_replay_that_answers_differently_is_llm_stream_cut_naming_the_endpoint(scripted_server):
    url = scripted_server.script("replay-diverges", "replies", answers=[
        Reply(["The ", "answer "], end="cut"),
        Reply(["A different", " answer."]),
    ])
    stream = model(url).stream(HELLO)
    assert [next(stream), next(stream)] == ["The ", "answer "]
    with pytest.raises(LLMStreamCut, match=r"\(model scripted\) cut its answer short, and asked again it "
                                           r"answered differently from the 11 characters already delivered") as caught:
        next(stream)
    assert str(caught.value).startswith(f"{url} (model scripted)")


# --- the server's own queue ------------------------------------------------------------------
@pytest.mark.parametrize("queued", ["before its headers", "after its headers"])
def test_a_request_queued_longer_than_timeout_before_its_first_piece_still_succeeds(scripted_server, queued):
    name = "queued-" + queued.split()[0]
    wait = {"delay_s": 1.0} if queued == "before its headers" else {"wait_s": 1.0}
    url = scripted_server.script(name, "replies", answers=[Reply(["Hello", ", world"], **wait)])
    text, usage = model(url, timeout=0.5).complete(HELLO)
    assert text == "Hello, world" and usage.retries == 0
    assert usage.ttft_s >= 1.0  # it waited the server's queue, not counted against the 0.5s answer timeout


# --- rates ---------------------------------------------------------------------------------
def test_requests_per_minute_is_respected_at_the_server(scripted_server):
    url = scripted_server.script("rpm", "replies", answers=[Reply(["Hello", ", world"])])
    complete_in_threads(model(url, requests_per_minute=120), 8)  # 2 a second, a burst of 2
    arrivals = scripted_server.arrivals["rpm"]
    assert len(arrivals) == 8
    assert most_in_a_window(arrivals, 1.0) <= 2 + 2 + 1  # the burst, a second's refill, one of slack


def test_tokens_per_minute_is_respected_at_the_server(scripted_server):
    url = scripted_server.script("tpm", "replies", answers=[Reply(["Hello", ", world"])])
    complete_in_threads(model(url, tokens_per_minute=600), 6)  # 10 a second; each call about 7, really 9
    arrivals = scripted_server.arrivals["tpm"]
    assert len(arrivals) == 6 and USAGE["total_tokens"] == 9
    assert most_in_a_window(arrivals, 1.0) <= 4  # (a second's worth + a second's refill) / 7, one of slack


# --- a restarting endpoint ---------------------------------------------------------------------
def test_an_endpoint_that_answered_before_is_waited_for_while_it_restarts():
    port = free_port()
    with ScriptedServer(port) as first:
        llm = model(first.url("ok"), max_retries=0)
        assert llm.complete(HELLO)[0] == "Hello, world"
    restarted: list[ScriptedServer] = []
    restart = threading.Timer(0.5, lambda: restarted.append(ScriptedServer(port).__enter__()))
    restart.start()
    try:
        text, usage = llm.complete(HELLO)
        assert text == "Hello, world" and usage.retries >= 1  # refused while down, not failed
    finally:
        restart.join()
        for server in restarted:
            server.__exit__(None, None, None)


# --- the registry ----------------------------------------------------------------------------
def test_models_of_one_endpoint_share_one_admission_control_with_the_stricter_limits():
    endpoint = f"http://127.0.0.1:{free_port()}/v1"
    loose = OpenAIChatModel(endpoint, None, "shared", max_concurrent_requests=8, requests_per_minute=600)
    strict = OpenAIChatModel(endpoint, None, "shared", max_concurrent_requests=2)
    other = OpenAIChatModel(endpoint, None, "another-model")
    assert loose.admission is strict.admission is admission_for(loose.where)
    assert other.admission is not loose.admission
    assert loose.admission.limits == AdmissionLimits(2, 600.0, None, True)
    assert loose.admission.concurrency_limit == 2


def test_limits_from_a_connection_extra_may_be_strings():
    llm = OpenAIChatModel(f"http://127.0.0.1:{free_port()}/v1", None, "m", max_concurrent_requests="3",
                          tokens_per_minute="90000", adaptive_concurrency="false")
    assert llm.admission.limits == AdmissionLimits(3, None, 90000.0, False)


def test_a_limit_that_is_not_positive_is_refused_with_its_name():
    with pytest.raises(ValueError, match=r"requests_per_minute must be positive \(or None for no limit\), not 0"):
        AdmissionLimits(requests_per_minute=0)
