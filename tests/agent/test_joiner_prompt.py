"""The joiner's prompt shows its format with placeholders only: a small model copied the old example's
answer ("The Nile is longer: 6650 km against 6400 km.") word for word into unrelated answers."""

from __future__ import annotations

import re

import pytest

from llmcompiler_provider.agent.joiner import join
from llmcompiler_provider.agent.prompts import joiner_messages
from llmcompiler_provider.tools.demo import search

#: the words an example may use: the format's, and placeholders
FORMAT_WORDS = {"Thought", "Action", "Finish", "Replan", "The", "X", "Y", "N"}
#: what would show that an example came back: its placeholders, or the old example's facts
EXAMPLE_TEXT = re.compile(r"\b[XYN]\b|Nile|Amazon|6650|6400|Spain")


def example_lines(messages: list[dict[str, str]]) -> list[str]:
    """Every Thought:/Action: line of the prompt, but for the question being asked (the last message)."""
    return [line for m in messages[:-1] for line in m["content"].splitlines()
            if line.startswith(("Thought:", "Action:"))]


@pytest.mark.parametrize("can_replan", [True, False])
def test_the_joiners_examples_hold_placeholders_not_facts(can_replan):
    messages = joiner_messages("How old is the Colosseum?", '1. search("Colosseum")\n2. join()',
                               "$1 = search('Colosseum')\nObservation: ...", can_replan=can_replan)
    lines = example_lines(messages)
    assert any(line.startswith("Action: Finish(") for line in lines)
    assert any(line.startswith("Action: Replan(") for line in lines) is can_replan
    for line in lines:
        assert not re.search(r"\d", line), line
        assert set(re.findall(r"\b[A-Z]\w*", line)) <= FORMAT_WORDS, line


def test_the_question_comes_last_after_worked_examples_in_chat_turns():
    messages = joiner_messages("Q?", "1. search(\"q\")\n2. join()", "obs", can_replan=True)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[-1]["content"] == 'Question: Q?\n\nPlan:\n1. search("q")\n2. join()\n\nObservations:\nobs'
    last = joiner_messages("Q?", "p", "obs", can_replan=False)
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert "No more plans can run" in last[0]["content"] and "Replan" not in last[0]["content"]


#: unrelated questions, the query that finds their answer in the demo knowledge base, and a word of it
QUESTIONS = [
    ("Who painted the Mona Lisa?", "Mona Lisa painter", None),
    ("When was Albert Einstein born?", "Albert Einstein", None),
    ("How tall is the Eiffel Tower?", "Eiffel Tower height", "330"),
    ("How high is Mount Everest?", "Mount Everest height", "8849"),
    ("How deep is Lake Baikal?", "Lake Baikal depth", "1642"),
    ("What is the population of Canada?", "Canada population", "40 million"),
]


@pytest.mark.slow
@pytest.mark.parametrize("can_replan", [True, False])
def test_the_local_model_answers_unrelated_questions_without_the_examples_text(local_model, can_replan):
    """With the old prompt, 4 of 16 such answers held the example's text (the two Nile-free questions above
    among them: 'The Nile is longer: 6650 km against 6400 km.')."""
    for question, query, expected in QUESTIONS:
        observation = f"$1 = search({query!r})\nObservation: {search(query)}"
        decision = join(local_model, question, f'1. search("{query}")\n2. join()', observation,
                        can_replan=can_replan, calls=[])
        said = f"{decision.answer or ''} {decision.reason or ''}"
        assert not EXAMPLE_TEXT.search(said), (question, decision)
        if expected is not None:
            assert decision.answer and expected in decision.answer, (question, decision)
