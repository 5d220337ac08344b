"""The plan language: what compiles, and to which task graph."""

from __future__ import annotations

import pytest

from llmcompiler_provider.plan import Interp, Ref, compile_plan
from llmcompiler_provider.plan.render import render_plan

from plan_catalogue import CATALOGUE


def tasks_of(text: str, **options) -> dict:
    options.setdefault("optimize", False)
    return compile_plan(text, CATALOGUE, **options).tasks


def only_value(text: str):
    """The value of the single argument of ``1. math(VALUE)``."""
    return tasks_of(f"1. math({text})")[1].kwargs["question"]


def test_the_design_example_compiles_to_three_tasks_with_their_dependencies():
    graph = compile_plan(
        "Thought: look both up at once\n"
        '1. search("Eiffel Tower height")\n'
        '2. search(query="Statue of Liberty height")\n'
        '3. math("compare", [$1, $2])\n'
        "4. join()\n"
        "<END_OF_PLAN>\n",
        CATALOGUE,
        optimize=False,
    )
    assert list(graph.tasks) == [1, 2, 3]
    assert graph.tasks[1].kwargs == {"query": "Eiffel Tower height"}
    assert graph.tasks[2].kwargs == {"query": "Statue of Liberty height"}
    assert graph.tasks[3].kwargs == {"question": "compare", "context": [Ref(1), Ref(2)]}
    assert graph.tasks[3].deps == {1, 2}
    assert graph.tasks[1].thought == "look both up at once"
    assert graph.thought == "look both up at once"
    assert graph.has_join


@pytest.mark.parametrize(
    "literal, value",
    [
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("3.25", 3.25),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("-1e+2", -100.0),
        ("1000000000000000000", 10**18),
        ("true", True),
        ("True", True),
        ("false", False),
        ("False", False),
        ("None", None),
        ("null", None),
        ('"double"', "double"),
        ("'single'", "single"),
        ('""', ""),
        ("[]", []),
        ("{}", {}),
        ("[1, [2, [3, []]]]", [1, [2, [3, []]]]),
        ('{"a": {"b": [1, {"c": null}]}}', {"a": {"b": [1, {"c": None}]}}),
        ("{1: 'one', 2.5: 'x', true: 'yes', None: 'no'}", {1: "one", 2.5: "x", True: "yes", None: "no"}),
        ("[1, 2, ]", [1, 2]),
        ('{"a": 1,}', {"a": 1}),
        ("[ 1 ,\t2 ]", [1, 2]),
    ],
)
def test_literals(literal, value):
    assert only_value(literal) == value
    assert type(only_value(literal)) is type(value)


@pytest.mark.parametrize(
    "literal, value",
    [
        (r'"a\nb"', "a\nb"),
        (r'"tab\there"', "tab\there"),
        (r'"quote \" inside"', 'quote " inside'),
        (r"'it\'s'", "it's"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"\x41\u00e9\U0001F600"', "Aé😀"),
        (r'"C:\path\dir"', "C:\\path\\dir"),  # unknown escapes stay as written
        (r'"costs \$5"', "costs $5"),
        ('"no ref: $ alone, ${x}"', "no ref: $ alone, ${x}"),
        ('"ünïcödé ✓"', "ünïcödé ✓"),
        ('"# not a comment"', "# not a comment"),
    ],
)
def test_strings_and_escapes(literal, value):
    assert only_value(literal) == value


def test_bare_references_pass_the_result_object():
    tasks = tasks_of('1. search("a")\n2. math($1, context=${1})')
    assert tasks[2].kwargs == {"question": Ref(1), "context": Ref(1)}


def test_references_inside_strings_are_interpolated_as_text():
    tasks = tasks_of('1. search("a")\n2. search("b")\n3. math("compare $1 with ${2}!")')
    assert tasks[3].kwargs["question"] == Interp(("compare ", Ref(1), " with ", Ref(2), "!"))
    assert tasks[3].deps == {1, 2}


def test_a_string_that_is_only_a_reference_is_still_text():
    tasks = tasks_of('1. search("a")\n2. math("$1")')
    assert tasks[2].kwargs["question"] == Interp((Ref(1),))


def test_references_inside_lists_and_dicts():
    tasks = tasks_of('1. search("a")\n2. search("b")\n3. math("q", {"x": [$1, {"y": "$2 m"}]})')
    assert tasks[3].kwargs["context"] == {"x": [Ref(1), {"y": Interp((Ref(2), " m"))}]}
    assert tasks[3].deps == {1, 2}


def test_comments_blank_lines_and_whitespace_are_ignored():
    text = (
        "\n# a plan\n   \n"
        '  1.  search( "a" )   # look it up\n'
        "\n"
        '2.math("b",[ $1 ])#tight\n'
        "\t3. join()  \n"
    )
    tasks = tasks_of(text)
    assert tasks[1].kwargs == {"query": "a"}
    assert tasks[2].kwargs == {"question": "b", "context": [Ref(1)]}


def test_windows_line_endings():
    tasks = tasks_of('1. search("a")\r\n2. math($1)\r\njoin()\r\n')
    assert list(tasks) == [1, 2]


@pytest.mark.parametrize(
    "ending",
    [
        "3. join()",
        "3. join()\n<END_OF_PLAN>",
        "3. join()<END_OF_PLAN>",
        "3. join() <END_OF_PLAN>\n\n",
        "join()",
        "join()\n\n<END_OF_PLAN>\n",
        "join()<END_OF_PLAN>",
        "join()\n# comments and blank lines may follow\n\n<END_OF_PLAN>\n# here too",
    ],
)
def test_join_with_or_without_end_of_plan(ending):
    graph = compile_plan('1. search("a")\n2. math($1)\n' + ending, CATALOGUE)
    assert graph.has_join
    assert set(graph.tasks) == {1, 2}


def test_a_plan_may_be_only_join():
    graph = compile_plan("Thought: I know the answer already\n1. join()\n<END_OF_PLAN>", CATALOGUE)
    assert len(graph) == 0 and graph.has_join
    assert graph.thought == "I know the answer already"


def test_thoughts_attach_to_the_next_task_and_may_continue_on_plain_lines():
    tasks = tasks_of(
        "Thought: first I search\n"
        "both towers at once\n"
        '1. search("a")\n'
        '2. search("b")\n'
        "Thought: then compare\n"
        "thought: carefully\n"
        "3. math($1, [$2])\n"
    )
    assert tasks[1].thought == "first I search both towers at once"
    assert tasks[2].thought is None
    assert tasks[3].thought == "then compare\ncarefully"


def test_ids_may_have_gaps_and_keyword_arguments_any_order():
    tasks = tasks_of('2. search(query="a")\n5. math(context=[$2], question="q")\n9. join()')
    assert list(tasks) == [2, 5]
    assert list(tasks[5].kwargs) == ["question", "context"]  # signature order


def test_tasks_copy_resources_and_hints_from_the_signature():
    task = tasks_of('1. llm("hi")')[1]
    assert task.resources == {"GPU": 1}
    assert (task.cost, task.retries, task.timeout, task.pure) == (2.0, 2, 30.0, True)
    assert tasks_of('1. notify("x")')[1].pure is False


def test_keyword_arguments_bind_by_name_and_defaults_stay_out():
    task = tasks_of('1. math("q")')[1]
    assert task.args == () and task.kwargs == {"question": "q"}


def test_extra_positional_values_fill_a_variadic_parameter():
    task = tasks_of('1. concat("-", "a", "b", upper=true)')[1]
    assert task.args == ("-", "a", "b")
    assert task.kwargs == {"upper": True}
    plain = tasks_of('1. concat("-", upper=true)')[1]
    assert plain.args == () and plain.kwargs == {"sep": "-", "upper": True}


def test_prior_ids_may_be_referenced_by_a_replan():
    graph = compile_plan('5. math("sum", [$2, $4])\n6. join()', CATALOGUE, prior_ids=[1, 2, 3, 4])
    assert graph.tasks[5].deps == {2, 4}


ROUND_TRIP_PLANS = [
    'Thought: go\n1. search("Eiffel \\"Tower\\" height")\n2. math("a $1 b", [$1, 1.5, -2, 1e+20, true, None])\n3. join()',
    "1. concat('-', 'x', \"y\\n\", upper=False)\n2. notify(message={'k': [$1, {'n': null}], '2': '\\\\$1'})\njoin()",
    '1. llm("π ≈ 3.14", context={"deep": [[[[]]]]})\n2. llm("${1}${1}")\n3. math("\\t\\u0001")',
]


@pytest.mark.parametrize("text", ROUND_TRIP_PLANS)
def test_rendered_plans_compile_back_to_the_same_graph(text):
    first = compile_plan(text, CATALOGUE, optimize=False)
    rendered = render_plan(first)
    second = compile_plan(rendered, CATALOGUE, optimize=False)
    assert [(t.id, t.tool, t.args, t.kwargs, t.thought) for t in first] == [
        (t.id, t.tool, t.args, t.kwargs, t.thought) for t in second
    ]
    assert render_plan(second) == rendered
