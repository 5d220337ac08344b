"""Repair: the slips real planners make are fixed with a warning each; anything else stays an error."""

from __future__ import annotations

import random

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import Interp, PlanError, PlanStream, Ref, compile_plan
from llmcompiler_provider.plan.errors import MAX_ERRORS
from llmcompiler_provider.plan.signature import Param, ToolSignature
from llmcompiler_provider.plan.types import type_of_hint


def repaired(text: str, **options) -> tuple[list, list[str]]:
    """The tasks (id, tool, args, kwargs) of ``text`` compiled with repair, and its warning lines."""
    warnings: list = []
    graph = compile_plan(text, CATALOGUE, source="p", optimize=False, repair=True, warnings=warnings, **options)
    return [(t.id, t.tool, t.args, t.kwargs) for t in graph], [str(w) for w in warnings]


def rejected(text: str, *, repair: bool) -> PlanError:
    with pytest.raises(PlanError) as caught:
        compile_plan(text, CATALOGUE, source="p", optimize=False, repair=repair)
    return caught.value


# each repair ------------------------------------------------------------------------------
REPAIRS = [
    pytest.param(
        "1. search(Austin Powers International Man of Mystery)\n2. join()",
        [(1, "search", (), {"query": "Austin Powers International Man of Mystery"})],
        ['p:1:11: warning: unquoted argument text taken as one string: "Austin Powers International Man of Myst…"'],
        id="unquoted",
    ),
    pytest.param(
        "1. search(Toy Story, 1995)  # the first one\n2. search( C# tutorials )\n3. join()",
        [(1, "search", (), {"query": "Toy Story, 1995"}), (2, "search", (), {"query": "C# tutorials"})],
        ['p:1:11: warning: unquoted argument text taken as one string: "Toy Story, 1995"',
         'p:2:12: warning: unquoted argument text taken as one string: "C# tutorials"'],
        id="unquoted-commas-comment-hash",
    ),
    pytest.param(
        "1. search(Spider-Man: Far From Home?)\n2. search(Mr. Smith 3.5 km)\n3. join()",
        [(1, "search", (), {"query": "Spider-Man: Far From Home?"}), (2, "search", (), {"query": "Mr. Smith 3.5 km"})],
        ['p:1:11: warning: unquoted argument text taken as one string: "Spider-Man: Far From Home?"',
         'p:2:11: warning: unquoted argument text taken as one string: "Mr. Smith 3.5 km"'],
        id="unquoted-punctuation",
    ),
    pytest.param(
        '1. search("cheetah")\n2. math("cheetah speed if 1.3 times slower?", ["$1"]\n3. join()',
        [(1, "search", (), {"query": "cheetah"}),
         (2, "math", (), {"question": "cheetah speed if 1.3 times slower?", "context": [Interp((Ref(1),))]})],
        ["p:2:53: warning: missing ')' at the end of the line: added"],
        id="missing-paren",
    ),
    pytest.param(
        '1. search("a")\n2. math("sum", [$1, 2   # note\n3. join()',
        [(1, "search", (), {"query": "a"}), (2, "math", (), {"question": "sum", "context": [Ref(1), 2]})],
        ["p:2:22: warning: missing '])' at the end of the line: added"],
        id="missing-bracket-and-paren",
    ),
    pytest.param(
        "1. search(Tom Hanks movies\n2. join()",
        [(1, "search", (), {"query": "Tom Hanks movies"})],
        ['p:1:11: warning: unquoted argument text taken as one string: "Tom Hanks movies"',
         "p:1:27: warning: missing ')' at the end of the line: added"],
        id="unquoted-and-missing-paren",
    ),
    pytest.param(
        '```\n1. search("a")\n2. join()\n```',
        [(1, "search", (), {"query": "a"})],
        ["p:1:1: warning: Markdown code fence dropped", "p:4:1: warning: Markdown code fence dropped"],
        id="fence",
    ),
    pytest.param(
        '  ~~~plan  \nThought: first the facts\n1. search("a")\n2. join()\n~~~\n<END_OF_PLAN>',
        [(1, "search", (), {"query": "a"})],
        ["p:1:3: warning: Markdown code fence dropped", "p:5:1: warning: Markdown code fence dropped"],
        id="fence-with-language-closed-after-join",
    ),
    pytest.param(
        '1. search("spent over $5 in 2023")\n2. math("$1 vs $2 and $1", [$1])\n3. join()',
        [(1, "search", (), {"query": "spent over $5 in 2023"}),
         (2, "math", (), {"question": Interp((Ref(1), " vs $2 and ", Ref(1))), "context": [Ref(1)]})],
        ["p:1:23: warning: '$5' in a string is no earlier task's result: kept as the text '$5'",
         "p:2:16: warning: '$2' in a string is no earlier task's result: kept as the text '$2'"],
        id="dollar-amounts",
    ),
    pytest.param(
        '1. search("a")\n2. join()\nThat is the plan.\nIt should work.\n<END_OF_PLAN>',
        [(1, "search", (), {"query": "a"})],
        ["p:3:1: warning: text after join() is ignored: join() ends the plan"],
        id="text-after-join",
    ),
    pytest.param(
        '1. search("a")\n2. join() and then answer\n3. search("b")',
        [(1, "search", (), {"query": "a"})],
        ["p:2:11: warning: text after join() is ignored: join() ends the plan"],
        id="text-after-join-on-its-line",
    ),
    pytest.param(
        '1. search("a")\n2. join()\n<END_OF_PLAN>\n###\nQuestion: and the next one?\n',
        [(1, "search", (), {"query": "a"})],
        ["p:5:1: warning: text after join() is ignored: join() ends the plan"],
        id="text-after-end-of-plan",
    ),
]


@pytest.mark.parametrize(("text", "tasks", "warnings"), REPAIRS)
def test_each_repair_is_made_and_reported_where_it_was_made(text, tasks, warnings):
    assert repaired(text) == (tasks, warnings)


@pytest.mark.parametrize(("text", "tasks", "warnings"), REPAIRS)
def test_without_repair_every_repaired_plan_is_an_error(text, tasks, warnings):
    assert rejected(text, repair=False).diagnostics


@pytest.mark.parametrize(("text", "tasks", "warnings"), REPAIRS)
def test_a_stream_repairs_each_as_the_whole_text_does_wherever_chunks_split(text, tasks, warnings):
    for seed in range(10):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 12))))
        stream = PlanStream(CATALOGUE, source="p", optimize=False, repair=True)
        returned = [t for a, b in zip([0, *cuts], [*cuts, len(text)]) for t in stream.feed(text[a:b])]
        graph = stream.close()
        assert [(t.id, t.tool, t.args, t.kwargs) for t in returned] == tasks
        assert list(graph.tasks.values()) == returned
        assert [str(w) for w in stream.warnings] == warnings


# what stays an error --------------------------------------------------------------------
STILL_ERRORS = [
    "1. search(foo(1))",                   # a call inside arguments
    "1. search(os.path)",                  # attribute access
    "1. search(os . path)",
    "1. search(2 + 3)",                    # operators
    "1. search(5 - 3)",
    "1. search(-5 apples)",
    "1. search(a * b / c)",
    "1. search(x; y)",
    "1. search(__import__)",               # __import__ and other _names
    "1. search(__import__('os'))",
    "1. search(_secret)",
    "1. search(query=Austin Powers)",      # keywords
    "1. search(Austin, query=Powers)",
    '1. search(Austin, "Powers")',         # quotes
    "1. search(it's here)",
    "1. search(price over $5)",            # a $
    "1. search($9)",                       # a bare reference to no task
    '1. search("${9}")',                   # ${N} is always a reference
    "1. search([Austin Powers])",          # brackets
    '1. math("a", {"k": 1',                # a missing '}' is not a missing ')'
    '1. math("a", [[1',                    # nor is a missing ']])'
    '1. search("a"))',
    '1. search("a") extra',
    "1. search(Austin Powers) extra",
    '1. search("a")\n```\n2. join()',      # a fence inside the plan
    '1. search("a\n2. join()',            # an unterminated string
    "1. search(Austin\x00Powers)",
    "1. search(Austin\u202ePowers)",
    "1. search()",
    "1. search( )",
    "join(Austin Powers)",
]


@pytest.mark.parametrize("text", STILL_ERRORS)
def test_anything_else_is_the_same_error_with_or_without_repair(text):
    exact, with_repair = rejected(text, repair=False), rejected(text, repair=True)
    assert with_repair.diagnostics == exact.diagnostics
    assert with_repair.warnings == []


def test_prose_before_a_fenced_plan_stays_an_error():
    error = rejected('Here is the plan:\n```\n1. search("a")\n2. join()\n```', repair=True)
    assert [str(d) for d in error.diagnostics] == [
        "p:1:1: error: expected a numbered action like '1. tool(...)', a 'Thought:' line or join(), "
        "found 'Here is the plan:'"
    ]
    assert [w.line for w in error.warnings] == [2, 5]


def test_a_repaired_call_of_an_unknown_tool_is_still_an_error_and_the_repair_is_reported():
    error = rejected("1. serch(Austin Powers)\n2. join()", repair=True)
    assert [str(d) for d in error.diagnostics] == ["p:1:4: error: unknown tool 'serch' (did you mean 'search'?)"]
    assert [str(w) for w in error.warnings] == [
        'p:1:10: warning: unquoted argument text taken as one string: "Austin Powers"'
    ]


def test_errors_on_a_repaired_line_are_at_their_columns_as_written():
    text = '1. search("a")\n2. math("cost $5 or $9 of ${3}", [$1, $7])'
    assert [str(d) for d in rejected(text, repair=False).diagnostics] == [
        "p:2:15: error: $5 refers to task 5, which comes later: a task can only use earlier results",
        "p:2:21: error: $9 refers to task 9, which comes later: a task can only use earlier results",
        "p:2:27: error: $3 refers to task 3, which comes later: a task can only use earlier results",
        "p:2:39: error: $7 refers to task 7, which comes later: a task can only use earlier results",
    ]
    error = rejected(text, repair=True)
    assert [str(d) for d in error.diagnostics] == [
        "p:2:27: error: $3 refers to task 3, which comes later: a task can only use earlier results",
        "p:2:39: error: $7 refers to task 7, which comes later: a task can only use earlier results",
    ]
    assert [(w.line, w.col) for w in error.warnings] == [(2, 15), (2, 21)]


def test_a_stream_error_carries_the_repairs_made_so_far():
    stream = PlanStream(CATALOGUE, source="p", repair=True)
    assert [t.id for t in stream.feed("```\n1. search(Austin Powers)\n")] == [1]
    with pytest.raises(PlanError) as caught:
        stream.feed("2. serch(x)\n")
    assert [w.line for w in caught.value.warnings] == [1, 2, 3]
    assert str(caught.value) == "p:3:4: error: unknown tool 'serch' (did you mean 'search'?)"


# repair is the identity on exact plans ------------------------------------------------------
def test_a_fence_continuing_a_thought_is_part_of_the_thought_as_without_repair():
    text = 'Thought: like this\n```\n1. search("a")\n2. join()'
    exact = compile_plan(text, CATALOGUE)
    warnings: list = []
    assert compile_plan(text, CATALOGUE, repair=True, warnings=warnings).thought == exact.thought == "like this ```"
    assert warnings == []
    # and it opened a fence: the one closing it is dropped
    assert repaired(text + "\n```") == ([(1, "search", (), {"query": "a"})],
                                         ["p:5:1: warning: Markdown code fence dropped"])


def test_references_to_earlier_tasks_and_prior_plans_stay_references():
    text = '3. search("a")\n4. math("$1 and $3 and ${2}", [$1, $3])\n5. join()'
    warnings: list = []
    graph = compile_plan(text, CATALOGUE, prior_ids=[1, 2], repair=True, warnings=warnings)
    assert graph.tasks[4].kwargs["question"] == Interp((Ref(1), " and ", Ref(3), " and ", Ref(2)))
    assert warnings == []


# bounds -------------------------------------------------------------------------------------
def test_a_plan_of_many_repairs_lists_a_bounded_number_of_them():
    text = "".join(f"{i}. search(topic {i})\n" for i in range(1, 1001)) + "1001. join()"
    warnings: list = []
    graph = compile_plan(text, CATALOGUE, optimize=False, repair=True, warnings=warnings)
    assert len(graph) == 1000
    assert len(warnings) == MAX_ERRORS + 1
    assert warnings[-1].message == f"more than {MAX_ERRORS} repairs: the others are not listed"


MEGABYTE = 1 << 20


@pytest.mark.parametrize(
    "text",
    [
        "1. search(" + "word " * (MEGABYTE // 5),
        "1. search(" + "word " * (MEGABYTE // 5) + ")",
        '1. search("' + "$9 " * (MEGABYTE // 3) + '")',
        "1. math(" + "1, " * (MEGABYTE // 3),
        "```\n" * (MEGABYTE // 4),
        "1. search(\"a\")\n2. join()\n" + "text\n" * (MEGABYTE // 5),
        "1. search(" + "-" * MEGABYTE + ")",
        "1. search(" + " " * MEGABYTE,
    ],
    ids=["unquoted-unclosed", "unquoted", "dollars", "commas", "fences", "after-join", "hyphens", "blanks"],
)
def test_a_megabyte_of_repairable_text_compiles_or_fails_in_bounded_output(text):
    warnings: list = []
    try:
        compile_plan(text, CATALOGUE, repair=True, warnings=warnings)
    except PlanError as error:
        assert len(error.diagnostics) <= MAX_ERRORS + 1
    assert len(warnings) <= MAX_ERRORS + 1


def test_the_analyzers_warnings_come_with_the_repairs_in_line_order_at_columns_as_written():
    catalogue = {**CATALOGUE, "add": ToolSignature("add", (Param("a", type=type_of_hint(int)),))}
    warnings: list = []
    compile_plan('```\n1. add("5")\n2. search(Austin Powers\n3. join()', catalogue, source="p", repair=True,
                 warnings=warnings)
    assert [str(w) for w in warnings] == [
        "p:1:1: warning: Markdown code fence dropped",
        "p:2:8: warning: add() argument 'a' expects int: the string \"5\" is read as the number 5",
        'p:3:11: warning: unquoted argument text taken as one string: "Austin Powers"',
        "p:3:24: warning: missing ')' at the end of the line: added",
    ]
