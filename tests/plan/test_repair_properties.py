"""Property tests of repair: it never widens what can run, it changes no exact plan, and a
stream is repaired exactly as its whole text is, for any chunking."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from plan_catalogue import CATALOGUE
from test_properties import VALID_PLAN, mutated_plans

from llmcompiler_provider.plan import Interp, PlanError, PlanStream, Ref, compile_plan

DIAGNOSTIC_LINE = re.compile(r"^<plan>:\d+:\d+: (error|warning): .+$")

# pieces of plans as planners write them, their slips, and what must never run
PIECES = st.sampled_from(
    ["1. ", "2. ", "3. ", "search(", "math(", "llm(", "serch(", "join(", ")", "])", "(", "[", "]", "{", "}", ",",
     ":", "=", '"', "'", "\\", "$1", "$2", "$5", "${2}", "$", "-", ".", "?", "#", " ", " ", "\n", "\n", "\t",
     "Austin Powers", "Toy Story", "C#", "km/h", "1.3", "7", "Spider-Man", "x", "query=", "true", "None",
     "over $5 in 2023", '"over $5"', '"$1 and $3"', "```", "```python", "~~~", "Thought: ", "<END_OF_PLAN>",
     "join()", "__import__", "os.path", "os . path", "+", "*", "eval(", "é", "\0", "\r"]
)
WORDS = st.lists(
    st.sampled_from(["Austin", "Powers", "Toy", "Story", "1995", "Spider-Man", "C#", "km", "speed?", "Mr.", "3.5",
                     ",", ":", "é", "of", "x"]),
    min_size=1, max_size=5,
).map(" ".join)
HOSTILE = st.sampled_from([".path", " + 1", "(1)", "=", " __import__", "$3", "'", '"', "[", "{", " - 2", "*",
                           ";", "os.system", "eval(", "\\", "\0", "${1}", "\n"])
ARGUMENTS = st.one_of(
    WORDS,                                                          # unquoted text
    WORDS,
    WORDS.map(lambda w: f'"{w}"'),                                  # as it should be
    st.sampled_from(['"over $5 in 2023"', '"$1 and $2"', '"${1}"', "$1", '["$1"]', "[$1, $2]", '"a", ["$2"]',
                     'query="a"', '"q", context=[$1]', "", "42", '{"k": $1}']),
    st.tuples(WORDS, HOSTILE, WORDS).map("".join),                  # unquoted text with code in it
)


@st.composite
def planner_plans(draw) -> str:
    """Plans as planners write them, with their slips (and worse) drawn in."""
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["```", "```text", "~~~", "Here is the plan:"])))
    if draw(st.booleans()):
        lines.append("Thought: " + draw(WORDS))
    count = draw(st.integers(0, 5))
    for number in range(1, count + 1):
        tool = draw(st.sampled_from(["search"] * 6 + ["math"] * 3 + ["llm", "serch", "eval", "__import__"]))
        close = draw(st.sampled_from([")"] * 6 + ["", "])"]))
        tail = draw(st.sampled_from([""] * 8 + ["  # note", " extra", " <END_OF_PLAN>"]))
        lines.append(f"{draw(st.sampled_from([number] * 8 + [number + 1]))}. {tool}({draw(ARGUMENTS)}{close}{tail}")
    lines.append(draw(st.sampled_from(["join()", f"{count + 1}. join()", "join() thanks", "", "join(x)"])))
    lines += draw(st.lists(st.sampled_from(["```", "<END_OF_PLAN>", "That is all.", "", "1. search(x)"]), max_size=3))
    text = "\n".join(lines)
    if draw(st.booleans()):  # and a random piece anywhere
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(PIECES) + text[position:]
    return text


planner_text = st.one_of(planner_plans(), st.lists(PIECES, max_size=60).map("".join))
LITERALS = (str, int, float, bool, type(None))


def compiled(text: str, **options) -> tuple[object, list]:
    """(graph or PlanError, warnings) of ``text`` compiled with repair."""
    warnings: list = []
    try:
        return compile_plan(text, CATALOGUE, optimize=False, repair=True, warnings=warnings, **options), warnings
    except PlanError as error:
        assert error.warnings == warnings
        return error, warnings


def assert_literal(value, task_id: int) -> None:
    """``value`` is data: literals, lists and dicts of them, references to earlier tasks."""
    if isinstance(value, Ref):
        assert 0 < value.id < task_id
    elif isinstance(value, Interp):
        for part in value.parts:
            assert isinstance(part, str) or isinstance(part, Ref) and 0 < part.id < task_id
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_literal(item, task_id)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, LITERALS)
            assert_literal(item, task_id)
    else:
        assert isinstance(value, LITERALS), value


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planner_text)
def test_a_repaired_plan_only_calls_catalogue_tools_with_literal_arguments(text):
    result, warnings = compiled(text)
    lines = [str(w) for w in warnings] + (str(result).splitlines() if isinstance(result, PlanError) else [])
    assert all(DIAGNOSTIC_LINE.match(line) for line in lines), lines
    if isinstance(result, PlanError):
        return
    for task in result:
        assert task.tool in CATALOGUE
        for value in (*task.args, *task.kwargs.values()):
            assert_literal(value, task.id)
        assert set(task.kwargs) <= {p.name for p in CATALOGUE[task.tool].params}


def assert_repair_changes_nothing(text: str) -> None:
    exact_warnings: list = []
    try:
        exact = compile_plan(text, CATALOGUE, optimize=False, warnings=exact_warnings)
    except PlanError:
        return
    result, warnings = compiled(text)
    assert warnings == exact_warnings  # no repair
    assert list(result.tasks.values()) == list(exact.tasks.values())
    assert (result.thought, result.has_join) == (exact.thought, exact.has_join)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planner_text)
def test_repair_is_the_identity_on_plans_that_compile_exactly(text):
    assert_repair_changes_nothing(text)


@settings(max_examples=400, deadline=None)
@given(mutated_plans())
def test_repair_is_the_identity_on_mutations_of_a_valid_plan_that_compile(text):
    assert_repair_changes_nothing(text)


def test_the_valid_plan_is_left_as_it_is():
    assert_repair_changes_nothing(VALID_PLAN)


def streamed(text: str, sizes: list[int]) -> tuple[list, list, list, list]:
    """Stream ``text`` in chunks of ``sizes`` with repair: tasks returned, graph, errors, warnings."""
    stream = PlanStream(CATALOGUE, optimize=False, repair=True)
    returned, problems, position = [], [], 0
    for size in [*sizes, len(text)]:
        chunk, position = text[position : position + size], position + size
        try:
            returned += stream.feed(chunk)
        except PlanError as error:
            returned += error.tasks
            problems += error.diagnostics
    try:
        returned += stream.flush()  # a last line without a newline, as the planner's stream ends
        stream.close()
    except PlanError as error:
        returned += error.tasks
        problems += error.diagnostics
    return returned, list(stream.graph.tasks.values()), problems, stream.warnings


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(planner_text, mutated_plans()), st.lists(st.integers(1, 40), max_size=30))
@example("\n1. search(x)", [])  # the last line has no newline: flush() returns its task
def test_a_stream_is_repaired_as_the_whole_text_is_for_any_chunking(text, sizes):
    returned, graph_tasks, problems, warnings = streamed(text, sizes)
    result, whole_warnings = compiled(text)
    assert warnings == whole_warnings
    if isinstance(result, PlanError):
        assert problems == result.diagnostics
    else:
        assert problems == []
        assert returned == graph_tasks == list(result.tasks.values())
