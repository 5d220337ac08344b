"""Plan and joiner grammars: their text, and the real local model writing under them."""

from __future__ import annotations

import random
import re

import pytest
from gbnf_sampler import GrammarSampler

from llmcompiler_provider.llm import END_OF_PLAN, joiner_grammar, plan_grammar
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.plan.signature import Param, ToolSignature

PLAN_LINE = re.compile(r"^(Thought: [^\n]+|\d+\. (search|math)\(.*\)|\d+\. join\(\))$")

def test_plan_grammar_numbers_lines_and_limits_references_to_earlier_tasks(small_catalogue):
    grammar = plan_grammar(small_catalogue, max_tasks=3)
    assert 'step1 ::= thought? "1. " call1 "\\n" step2' in grammar
    assert 'step4 ::= thought? "4. " finish' in grammar  # after 3 calls only join() remains
    assert f'finish ::= "join()\\n{END_OF_PLAN}"' in grammar
    assert "ref1" not in grammar  # line 1 may not reference anything
    assert 'ref3 ::= "$" ("1" | "2")' in grammar


def test_plan_grammar_allows_required_then_optional_arguments(small_catalogue):
    grammar = plan_grammar(small_catalogue, max_tasks=1)
    assert 'tool0-1 ::= "math(" arg1 (sep arg1)? ")"' in grammar
    assert 'tool1-1 ::= "search(" arg1 ")"' in grammar


def test_plan_grammar_handles_tools_without_required_or_with_variadic_arguments():
    catalogue = {
        "now": ToolSignature("now"),
        "pick": ToolSignature("pick", (Param("a", required=False), Param("b", required=False))),
        "total": ToolSignature("total", (Param("first"), Param("rest", required=False, variadic=True))),
        "web_search": ToolSignature("web_search", (Param("query"),)),
    }
    grammar = plan_grammar(catalogue, max_tasks=1)
    assert 'tool0-1 ::= "now()"' in grammar
    assert 'tool1-1 ::= "pick(" (arg1 (sep arg1)?)? ")"' in grammar
    assert 'tool2-1 ::= "total(" arg1 (sep arg1)* ")"' in grammar
    assert 'tool3-1 ::= "web_search(" arg1 ")"' in grammar
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", line.split(" ::= ")[0]) for line in grammar.splitlines())


def test_plan_grammar_with_an_empty_catalogue_only_joins():
    assert plan_grammar({}, max_tasks=2).startswith('root ::= step1\nstep1 ::= thought? "1. " finish')


def test_plan_grammar_rejects_a_plan_without_room():
    with pytest.raises(ValueError, match="max_tasks must be at least 1"):
        plan_grammar({}, max_tasks=0)


@pytest.mark.slow
def test_the_local_model_writes_a_plan_that_parses_under_the_plan_grammar(local_model, small_catalogue, planner_messages):
    text, usage = local_model.complete(
        planner_messages, grammar=plan_grammar(small_catalogue, max_tasks=4), max_tokens=160
    )
    assert text.endswith(END_OF_PLAN), text
    lines = text[: -len(END_OF_PLAN)].strip().splitlines()
    assert all(PLAN_LINE.match(line) for line in lines), text
    numbers = [int(line.split(".")[0]) for line in lines if line[0].isdigit()]
    assert numbers == list(range(1, len(numbers) + 1))
    assert lines[-1].endswith("join()")
    graph = compile_plan(text, small_catalogue, optimize=False, require_join=True)
    assert len(graph) == len(numbers) - 1
    assert {task.tool for task in graph} <= {"search", "math"}


@pytest.mark.slow
def test_the_local_model_answers_in_joiner_format_under_the_joiner_grammar(local_model):
    messages = [
        {"role": "system", "content": "Answer from the observations. Format:\nThought: ...\nAction: Finish(answer)"},
        {"role": "user", "content": "Question: capital of France?\nObservation 1: Paris is the capital of France."},
    ]
    text, _ = local_model.complete(messages, grammar=joiner_grammar(), max_tokens=60)
    assert re.fullmatch(r"Thought: [^\n]+\nAction: (Finish|Replan)\([^\n]+\)", text), text


GRAMMAR_CATALOGUES = {
    "small": None,  # the small_catalogue fixture
    "shapes": {
        "now": ToolSignature("now"),
        "pick": ToolSignature("pick", (Param("a", required=False), Param("b", required=False))),
        "total": ToolSignature("total", (Param("first"), Param("rest", required=False, variadic=True))),
        "web_search": ToolSignature("web_search", (Param("query"),)),
    },
}


@pytest.mark.parametrize("catalogue_name", sorted(GRAMMAR_CATALOGUES))
def test_every_plan_the_plan_grammar_admits_compiles(catalogue_name, small_catalogue):
    catalogue = GRAMMAR_CATALOGUES[catalogue_name] or small_catalogue
    grammar = plan_grammar(catalogue, max_tasks=6)
    for seed in range(150):
        plan = GrammarSampler(grammar, random.Random(seed)).sentence()
        graph = compile_plan(plan, catalogue, optimize=False, require_join=True)
        calls = [line for line in plan.splitlines() if re.match(r"\d+\. ", line)]
        assert len(graph) == len(calls) - 1 and 1 <= len(graph) <= 6, plan
        assert {task.tool for task in graph} <= set(catalogue)


def test_every_answer_the_joiner_grammar_admits_has_the_joiner_format():
    for seed in range(100):
        answer = GrammarSampler(joiner_grammar(), random.Random(seed)).sentence()
        assert re.fullmatch(r"Thought: [^\n]+\nAction: (Finish|Replan)\(([^()\n]|\([^()\n]*\))+\)", answer), answer
