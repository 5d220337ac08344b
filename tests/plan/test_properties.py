"""Property tests: whatever the text, the compiler answers with a graph or a PlanError, nothing else."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import PlanError, PlanStream, compile_plan
from llmcompiler_provider.plan.render import render_plan

VALID_PLAN = (
    "Thought: look both up at once\n"
    '1. search("Eiffel Tower height")\n'
    "# a comment\n"
    "2. search(query='Statue of Liberty \\'height\\'')\n"
    '3. math("compare $1 and ${2}", [$1, $2, {"k": [1.5e3, -2, null, True]}])\n'
    "4. concat('-', $3, \"\\u00e9\", upper=false)\n"
    "5. llm(prompt='summarize', context=$4)\n"
    "6. join()\n"
    "<END_OF_PLAN>\n"
)
DIAGNOSTIC_LINE = re.compile(r"^<plan>:\d+:\d+: error: .+$")
PLAN_ALPHABET = st.sampled_from(list("0123456789.$(){}[],:='\"\\#-+*eE _\t\nabjsnqrtx") + ["${", "join()", "search", "<END_OF_PLAN>", "Thought:", "\0", "é", "\r"])


def compile_or_error(text: str) -> None:
    """Compile ``text``: a graph, or a PlanError whose lines are all diagnostics."""
    try:
        graph = compile_plan(text, CATALOGUE)
    except PlanError as error:
        assert error.diagnostics
        assert all(DIAGNOSTIC_LINE.match(line) for line in str(error).split("\n")), str(error)
        return
    render_plan(graph, annotate=True)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300))
def test_random_text_compiles_or_raises_plan_error(text):
    compile_or_error(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(PLAN_ALPHABET, max_size=120).map("".join))
def test_random_plan_shaped_text_compiles_or_raises_plan_error(text):
    compile_or_error(text)


CALL_PIECES = st.sampled_from(
    ["1. ", "2. ", "math(", "search(", "concat(", "join(", ")", "(", "[", "]", "{", "}", ",", ":", "=", '"a', '"',
     "'", "\\", "$1", "${2}", "$", "-", ".", "1.5e3", "7", "x", "query=", "question=", "true", "None", " ", "#",
     "<END_OF_PLAN>", "\n", "\t", "é", "__import__", "os.path"]
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["", "1. math(", "1. search(", "1. search('a')\n2. concat("]), st.lists(CALL_PIECES, max_size=40))
def test_random_call_lines_compile_or_raise_plan_error(prefix, pieces):
    compile_or_error(prefix + "".join(pieces))


@st.composite
def mutated_plans(draw) -> str:
    text = VALID_PLAN
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        if action == "insert":
            text = text[:position] + draw(PLAN_ALPHABET | st.text(max_size=3)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 5)) :]
        elif action == "replace":
            text = text[:position] + draw(PLAN_ALPHABET) + text[position + 1 :]
        else:
            end = draw(st.integers(position, len(text)))
            text = text[:end] + text[position:end] + text[end:]
    return text


@settings(max_examples=600, deadline=None)
@given(mutated_plans())
def test_mutations_of_a_valid_plan_compile_or_raise_plan_error(text):
    compile_or_error(text)


@settings(max_examples=200, deadline=None)
@given(mutated_plans(), st.lists(st.integers(1, 40), max_size=30))
def test_streaming_a_mutated_plan_finds_the_same_problems_as_compiling_it(text, sizes):
    stream = PlanStream(CATALOGUE, optimize=False)
    streamed_problems = []
    position = 0
    for size in [*sizes, len(text)]:
        chunk, position = text[position : position + size], position + size
        try:
            stream.feed(chunk)
        except PlanError as error:
            streamed_problems.extend(error.diagnostics)
    try:
        stream.close()
    except PlanError as error:
        streamed_problems.extend(error.diagnostics)
    try:
        whole = compile_plan(text, CATALOGUE, optimize=False)
    except PlanError as error:
        assert streamed_problems == error.diagnostics
    else:
        assert streamed_problems == []
        assert list(stream.graph.tasks.values()) == list(whole.tasks.values())


def test_the_valid_plan_used_for_mutations_compiles():
    assert len(compile_plan(VALID_PLAN, CATALOGUE, optimize=False)) == 5
