"""The embedded local model (SmolLM2-135M-Instruct through llama-cpp-python), for real."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from llmcompiler_provider.llm import (
    ChatModel,
    LLMPromptTooLong,
    LLMTimeout,
    LLMUnavailable,
    LocalChatModel,
    Usage,
    get_local_model,
    load_count,
    make_chat_model,
)

pytestmark = pytest.mark.slow

COUNTING = [{"role": "user", "content": "Count from one to twenty in words, separated by spaces."}]


def test_local_model_follows_the_chat_model_protocol(local_model):
    assert isinstance(local_model, ChatModel)
    assert "SmolLM2" in local_model.model_name


def test_local_model_loads_once_per_process(local_model):
    assert get_local_model() is local_model
    assert make_chat_model("local") is local_model
    assert load_count() == 1


def test_stream_yields_several_pieces_then_reports_usage(local_model):
    stream = local_model.stream(COUNTING, max_tokens=12)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces).strip()
    assert isinstance(stream.usage, Usage)
    assert stream.usage == local_model.last_usage
    assert stream.usage.prompt_tokens > 5
    assert 1 <= stream.usage.completion_tokens <= 12
    assert stream.usage.ttft_s is not None and stream.usage.ttft_s <= stream.usage.latency_s


def test_max_tokens_bounds_the_answer(local_model):
    _, usage = local_model.complete(COUNTING, max_tokens=4)
    assert usage.completion_tokens == 4


def test_usage_says_why_the_model_stopped(local_model):
    assert local_model.complete(COUNTING, max_tokens=4)[1].finish_reason == "length"
    full, _ = local_model.complete(COUNTING, max_tokens=24)
    stop_word = full.split()[1]
    assert local_model.complete(COUNTING, max_tokens=24, stop=[stop_word])[1].finish_reason == "stop"


def test_same_prompt_same_answer_at_temperature_zero(local_model):
    first, _ = local_model.complete(COUNTING, max_tokens=10)
    second, _ = local_model.complete(COUNTING, max_tokens=10)
    assert first == second


def test_stop_sequence_cuts_the_answer_before_it(local_model):
    full, _ = local_model.complete(COUNTING, max_tokens=24)
    words = full.split()
    assert len(words) >= 4, full
    stop_word = words[2]
    cut, _ = local_model.complete(COUNTING, max_tokens=24, stop=[stop_word])
    assert stop_word not in cut
    assert full.startswith(cut)
    assert cut == full[: full.index(stop_word)]


def test_closing_a_stream_early_frees_the_model(local_model):
    with local_model.stream(COUNTING, max_tokens=50) as stream:
        first_piece = next(stream)
    assert first_piece
    assert stream.usage is not None and stream.usage.completion_tokens < 50
    text, _ = local_model.complete(COUNTING, max_tokens=3, timeout=30)
    assert text


def test_concurrent_calls_are_serialized_and_each_gets_its_own_answer(local_model):
    prompts = [
        [{"role": "user", "content": "Name a colour."}],
        [{"role": "user", "content": "Name an animal."}],
    ]
    expected = [local_model.complete(p, max_tokens=8)[0] for p in prompts]
    got: dict[int, str] = {}

    def run(i: int) -> None:
        got[i] = local_model.complete(prompts[i], max_tokens=8, timeout=60)[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [got.get(0), got.get(1)] == expected


def test_a_tiny_timeout_raises_llm_timeout(local_model):
    with pytest.raises(LLMTimeout, match="did not finish within"):
        local_model.complete(COUNTING, max_tokens=200, timeout=1e-6)


def test_a_prompt_larger_than_the_context_is_refused_clearly(local_model):
    huge = [{"role": "user", "content": "word " * 6000}]
    with pytest.raises(LLMPromptTooLong, match=r"more than the 4096-token context"):
        local_model.stream(huge, max_tokens=8)


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    missing = LocalChatModel(str(tmp_path / "nothing.gguf"))
    with pytest.raises(LLMUnavailable, match="does not exist"):
        missing.complete([{"role": "user", "content": "hi"}], max_tokens=2)


def test_messages_are_checked_before_generating(local_model):
    with pytest.raises(ValueError, match="at least one message"):
        local_model.stream([])
    with pytest.raises(ValueError, match="'role' and 'content'"):
        local_model.stream([{"text": "hi"}])


def test_an_empty_stop_sequence_is_ignored(local_model):
    with_empty, _ = local_model.complete(COUNTING, max_tokens=6, stop=[""])
    without, _ = local_model.complete(COUNTING, max_tokens=6)
    assert with_empty == without != ""


def test_an_invalid_grammar_is_refused_before_llama_cpp_sees_it(local_model):
    with pytest.raises(ValueError, match="not valid GBNF"):
        local_model.stream(COUNTING, grammar="root ::= undefined_rule")


def test_a_call_waiting_for_a_busy_model_times_out_instead_of_hanging(local_model):
    with local_model.stream(COUNTING, max_tokens=50) as holding:
        next(holding)
        with pytest.raises(LLMTimeout, match="stayed busy with another generation for 0.2s"):
            local_model.complete(COUNTING, max_tokens=2, timeout=0.2)


def test_cached_models_are_closed_at_exit_and_a_later_load_starts_fresh():
    code = (
        "from llmcompiler_provider.llm import local\n"
        "path = local.local_model_path()\n"
        "first = local.load_model(path)\n"
        "local.close_models()\n"
        "again = local.load_model(path)\n"
        "assert again is not first and local.load_count(path) == 2\n"
        "print(len(again.llama.tokenize(b'hello there')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 0  # the reloaded model works
    assert "Exception ignored" not in done.stderr  # the exit closed it before the modules went away
