"""The joiner's reply in the forms the LLMCompiler reference's prompts teach: ``Thought: ...`` then
``Action: Finish(answer)`` / ``Action: Replan(reason)``, with or without ``Action:``, maybe ended by
``<END_OF_RESPONSE>``; anything else stays free text, the answer as before."""

from __future__ import annotations

import pytest

from llmcompiler_provider.agent.joiner import parse_decision


@pytest.mark.parametrize(
    ("text", "replan", "answer", "reason", "thought"),
    [
        # the form this project's prompt asks for
        ("Thought: easy\nAction: Finish(330 metres)", False, "330 metres", None, "easy"),
        ("Thought: missing\nAction: Replan(look up Spain)", True, None, "look up Spain", "missing"),
        # without "Action:"
        ("Thought: easy\nFinish(330 metres)", False, "330 metres", None, "easy"),
        ("Thought: missing\nReplan(look up Spain)", True, None, "look up Spain", "missing"),
        ("Finish(Ender's Game)", False, "Ender's Game", None, None),
        ("  Replan (the population of Spain)  \n", True, None, "the population of Spain", None),
        # ended as the reference's prompts ask
        ("Thought: found it\nAction: Finish(Austin Powers)\n<END_OF_RESPONSE>", False, "Austin Powers", None,
         "found it"),
        ("Thought: found it\nFinish(Austin Powers)\n<END_OF_RESPONSE>\n", False, "Austin Powers", None, "found it"),
        # the body runs to the last ")"
        ("Thought: t\nAction: Finish(Paris (France))", False, "Paris (France)", None, "t"),
        ("Thought: t\nAction: Finish(a)\nAction: Finish(b)", False, "b", None, "t"),
        ("Thought: done. Action: Finish(5)", False, "5", None, "done."),
    ],
)
def test_the_reference_forms_are_read(text, replan, answer, reason, thought):
    decision = parse_decision(text, can_replan=True)
    assert (decision.replan, decision.answer, decision.reason, decision.thought) == (replan, answer, reason, thought)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("just some words", "just some words"),
        ("Finish(the race) was won by Bolt", "Finish(the race) was won by Bolt"),  # text after the action
        ("Thought: The race\nThe winner: Finish(line) first", "The race\nThe winner: Finish(line) first"),
        ("Thought: a\nAction: Finish(b) and more", "a"),  # as before: the text before "Action:"
        ("Thought: a\nAction: Conclude(b)", "a"),
        ("The finish(line) was close", "The finish(line) was close"),
    ],
)
def test_anything_else_stays_free_text(text, answer):
    decision = parse_decision(text, can_replan=True)
    assert decision.replan is False and decision.answer == answer


def test_a_replan_without_replans_left_is_an_answer_in_every_form():
    for text in ("Thought: x\nAction: Replan(more)", "Thought: x\nReplan(more)\n<END_OF_RESPONSE>"):
        decision = parse_decision(text, can_replan=False)
        assert decision.replan is False and decision.answer == "more"
