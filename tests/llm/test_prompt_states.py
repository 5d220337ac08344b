"""llm/prompt_states.py with the real local model: the state after a prompt's system message is
saved once, loaded by a model that has never seen the prompt (as a new process would), and the
answer is the same as without it, token for token."""

from __future__ import annotations

import os

import pytest

from llmcompiler_provider.llm.local import _fixed_opening, render_chat
from llmcompiler_provider.llm import prompt_states
from llmcompiler_provider.llm.prompt_states import MAX_FILES, STATES_ENV, restore_prefix


@pytest.fixture
def states(tmp_path, monkeypatch):
    folder = tmp_path / "states"
    monkeypatch.setenv(STATES_ENV, str(folder))
    return folder


def _answer(local_model, messages) -> str:
    return "".join(local_model.stream(messages, max_tokens=24, stop=["\n\n"]))


def _opening(local_model, messages) -> list[int]:
    loaded = local_model.loaded
    prompt = render_chat(loaded, messages)
    tokens = loaded.llama.tokenize(prompt.encode(), add_bos=False, special=True)
    return _fixed_opening(loaded, messages, tokens)


def _forget(local_model) -> None:
    """What a new process's model holds: nothing evaluated."""
    local_model.loaded.llama.reset()


def test_the_opening_is_evaluated_once_then_loaded_and_the_answer_does_not_change(
    local_model, planner_messages, states, monkeypatch
):
    llama = local_model.loaded.llama
    opening = _opening(local_model, planner_messages)
    assert len(opening) >= prompt_states.MIN_PREFIX_TOKENS
    monkeypatch.setenv(STATES_ENV, "off")
    _forget(local_model)
    without = _answer(local_model, planner_messages)
    monkeypatch.setenv(STATES_ENV, str(states))

    _forget(local_model)
    assert restore_prefix(llama, local_model.model_path, opening) == "evaluated"
    [saved] = states.glob("*.state")
    assert restore_prefix(llama, local_model.model_path, opening) == "memory"
    _forget(local_model)
    assert restore_prefix(llama, local_model.model_path, opening) == "loaded"
    assert list(llama.input_ids[: llama.n_tokens]) == opening

    _forget(local_model)
    assert _answer(local_model, planner_messages) == without  # the stream loads the state itself
    assert list(states.glob("*.state")) == [saved]


def test_a_damaged_state_file_is_evaluated_again_and_replaced(local_model, planner_messages, states):
    llama = local_model.loaded.llama
    opening = _opening(local_model, planner_messages)
    _forget(local_model)
    restore_prefix(llama, local_model.model_path, opening)
    [saved] = states.glob("*.state")
    saved.write_bytes(saved.read_bytes()[:100])

    _forget(local_model)
    assert restore_prefix(llama, local_model.model_path, opening) == "evaluated"
    _forget(local_model)
    assert restore_prefix(llama, local_model.model_path, opening) == "loaded"


def test_only_the_most_recently_used_states_are_kept(local_model, planner_messages, states):
    states.mkdir(parents=True)
    for age in range(MAX_FILES):  # states of other openings, saved earlier (the oldest first)
        older = states / f"older-{age}.state"
        older.write_bytes(b"")
        os.utime(older, (1_000_000 + age, 1_000_000 + age))
    llama = local_model.loaded.llama
    opening = _opening(local_model, planner_messages)
    for extra in range(2):  # two new openings (each a prefill of the local model), differing in their last token
        _forget(local_model)
        assert restore_prefix(llama, local_model.model_path, opening[:-1] + [opening[-1] + extra]) == "evaluated"
    kept = {path.name for path in states.glob("*.state")}
    assert len(kept) == MAX_FILES
    assert not kept & {"older-0.state", "older-1.state"}  # the two least recently used went
    assert "older-2.state" in kept


def test_short_openings_and_prompts_without_a_system_message_are_not_stored(local_model, states):
    messages = [{"role": "user", "content": "Say hello."}]
    assert _opening(local_model, messages) == []
    assert restore_prefix(local_model.loaded.llama, local_model.model_path, [1, 2, 3]) == "skipped"
    _answer(local_model, messages)
    assert not states.exists()
