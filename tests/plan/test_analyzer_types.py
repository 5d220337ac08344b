"""Typed arguments: the analyzer checks each argument against the tool's real type hints."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Mapping, Optional, Sequence, Union

import pytest

from llmcompiler_provider.plan import PlanError, PlanStream, compile_plan
from llmcompiler_provider.plan.ir import Interp, Ref
from llmcompiler_provider.plan.analyzer import PlanAnalyzer
from llmcompiler_provider.plan.types import ANY, INT, STR, ArgType, could_hold, hint_types, list_of, type_of_hint
from llmcompiler_provider.tools import Toolset
from llmcompiler_provider.tools.demo import demo
from typed_tools import typed_toolset


def errors_of(plan: str, catalogue) -> list[str]:
    with pytest.raises(PlanError) as caught:
        compile_plan(plan, catalogue, optimize=False)
    return [str(d) for d in caught.value.diagnostics]


# the reported failure ------------------------------------------------------------------
def test_the_demo_math_tool_refuses_a_number_for_its_question():
    """``math(4)`` and ``math(3, 5)`` compiled and failed on the worker (AttributeError, TypeError)."""
    catalogue = demo.signatures()
    assert errors_of("1. math(4)\n2. join()", catalogue) == [
        "<plan>:1:9: error: math() argument 'question' expects str, found the int 4"
    ]
    assert errors_of("1. math(3, 5)\n2. join()", catalogue) == [
        "<plan>:1:9: error: math() argument 'question' expects str, found the int 3",
        "<plan>:1:12: error: math() argument 'context' expects list, found the int 5",
    ]


def test_a_bare_reference_is_checked_against_the_type_its_tool_returns():
    catalogue = demo.signatures()
    plan = '1. search("Nile")\n2. math("sum", $1)\n3. math("sum", [$1, 3])\n4. llm($3, context=$1)\n5. join()'
    assert errors_of(plan, catalogue) == [
        "<plan>:2:16: error: math() argument 'context' expects list, found $1, the str that search() returns"
    ]


def test_a_type_error_stops_the_stream_before_the_call_is_dispatched():
    stream = PlanStream(demo.signatures())
    assert [t.tool for t in stream.feed('1. search("Nile")\n')] == ["search"]
    with pytest.raises(PlanError) as caught:
        stream.feed("2. math(7)\n")
    assert caught.value.tasks == [] and 2 not in stream.graph.tasks
    assert "math() argument 'question' expects str" in str(caught.value)


# reading types from hints ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("hint", "text"),
    [
        (str, "str"), (int, "int"), (float, "float"), (bool, "bool"), (type(None), "None"), (Any, "Any"),
        (object, "Any"), (list, "list"), (list[str], "list[str]"), (Sequence[int], "list[int]"),
        (tuple[int, ...], "list[int]"), (tuple[int, str], "list[int | str]"), (set[str], "list[str]"),
        (dict, "dict"), (dict[str, int], "dict[str, int]"), (Mapping[str, Any], "dict[str, Any]"),
        (Optional[int], "int | None"), (Union[int, str], "int | str"), (int | None, "int | None"),
        (Union[int, Any], "Any"), (Literal["a", 2], '"a" | 2'), (Annotated[int, "count"], "int"),
        (list[list[float]], "list[list[float]]"), (Toolset, "Any"),
    ],
)
def test_hints_become_structural_types(hint, text):
    assert str(type_of_hint(hint)) == text


def test_types_are_read_from_the_real_hints_not_their_text():
    ts = Toolset("t")

    @ts.tool
    def pick(names: list[str], limit: Optional[int] = None, *more: float) -> dict[str, int]:  # text: this
        # module reads annotations as strings (``from __future__ import annotations``)
        return {}

    sig = ts.signatures()["pick"]
    assert [(p.annotation, str(p.type)) for p in sig.params] == [
        ("list[str]", "list[str]"), ("Optional[int]", "int | None"), ("float", "float"),
    ]
    assert str(sig.returns) == "dict[str, int]"


def test_hints_that_do_not_resolve_or_callables_without_hints_accept_anything():
    def unresolved(x: NoSuchType, y: int) -> NoSuchType:  # noqa: F821
        return x

    def bare(x, y=1):
        return x

    assert hint_types(unresolved) == ({"x": ANY, "y": INT}, ANY)
    assert hint_types(bare) == ({}, ANY)
    partial = functools.partial(lambda a, b: a, 1)
    assert hint_types(partial) == ({"b": ANY}, ANY)
    ts = Toolset("t")
    ts.add(bare)
    graph = compile_plan('1. bare([1, {"a": true}], None)\n2. join()', ts.signatures())
    assert graph.tasks[1].kwargs == {"x": [1, {"a": True}], "y": None}


# checking literals ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        "count(3)", "count(-7)", "scale(2)", "scale(2.5, None)", "scale(1, by=3)", "flag(true)", "flag(False)",
        'names(["a", "b"])', "names([])", 'names(["a"], {"x": 1})', 'either("x")', "either(4)", 'mode("fast")',
        'total("t", unit="m")', 'total("t", 1, 2, 3, unit="m")', 'loose(1, [true, {"k": None}])', 'loose("x")',
        'either(None)', 'mode(3)', 'mode(true)', "grid([[1, 2.5], []])",
    ],
)
def test_well_typed_literals_compile(call):
    compile_plan(f"1. {call}\n2. join()", typed_toolset().signatures(), optimize=False)


@pytest.mark.parametrize(
    ("call", "argument", "message"),
    [
        ("count(2.5)", "2.5", "count() argument 'n' expects int, found the float 2.5"),
        ("count(true)", "true", "count() argument 'n' expects int, found true (a bool)"),
        ('count("three")', '"', "count() argument 'n' expects int, found the string \"three\""),
        ('count("4.5")', '"', "count() argument 'n' expects int, found the string \"4.5\""),
        ('count(" 4")', '"', "count() argument 'n' expects int, found the string \" 4\""),
        ("count([1])", "[", "count() argument 'n' expects int, found a list"),
        ("count(None)", "None", "count() argument 'n' expects int, found None"),
        ('scale(1, by="x")', "by=", "scale() argument 'by' expects float | None, found the string \"x\""),
        ("flag(1)", "1", "flag() argument 'on' expects bool, found the int 1"),
        ('names("a")', '"a"', "names() argument 'values' expects list[str], found the string \"a\""),
        ('names(["a", 2])', "[", "names() argument 'values' expects list[str], found the int 2 at values[1]"),
        ('names([], {"x": "y"})', "{",
         "names() argument 'options' expects dict[str, int], found the string \"y\" at options[\"x\"]"),
        ("names([], {1: 2})", "{", "names() argument 'options' expects dict[str, int], found the int 1 at options key 1"),
        ("either([1])", "[", "either() argument 'v' expects str | int | None, found a list"),
        ('mode("medium")', '"', "mode() argument 'm' expects \"fast\" | \"slow\" | 3 | true, found the string \"medium\""),
        ("mode(false)", "false", "mode() argument 'm' expects \"fast\" | \"slow\" | 3 | true, found false (a bool)"),
        ('grid([[1], ["x"]])', "[", "grid() argument 'rows' expects list[list[float]], found the string \"x\" at rows[1][0]"),
        ('total("t", 1, "x", unit="m")', '"x"', "total() argument 'parts' expects int, found the string \"x\""),
        ('total(1, unit="m")', "1", "total() argument 'label' expects str, found the int 1"),
        ('total("t", unit=5)', "unit", "total() argument 'unit' expects str, found the int 5"),
    ],
)
def test_wrongly_typed_literals_are_positioned_errors_naming_the_expected_type(call, argument, message):
    column = len("1. ") + call.index(argument) + 1
    assert errors_of(f"1. {call}\n2. join()", typed_toolset().signatures()) == [
        f"<plan>:1:{column}: error: {message}"
    ]


def test_the_error_points_at_the_argument_given_by_keyword():
    assert errors_of('1. names(options={"a": 1}, values=3)\n2. join()', typed_toolset().signatures()) == [
        "<plan>:1:28: error: names() argument 'values' expects list[str], found the int 3"
    ]


# references ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        ("1. count(3)\n2. scale($1)", None),  # an int is a float
        ("1. count(3)\n2. count($1)", None),
        ('1. names(["a"])\n2. names($1)', None),
        ("1. loose(1)\n2. count($1)", None),  # no declared result: anything
        ('1. either("x")\n2. names([$1])', None),
        ('1. mode("fast")\n2. either($1)', None),
        ("1. count(3)\n2. names($1)", "names() argument 'values' expects list[str], found $1, the int that count() returns"),
        ('1. either("x")\n2. count($1)', "count() argument 'n' expects int, found $1, the str that either() returns"),
        ('1. names(["a"])\n2. names([$1])', "names() argument 'values' expects list[str], found $1, the list[str] that names() returns at values[0]"),
        ("1. count(2)\n2. count(\"${1}\")", "count() argument 'n' expects int, found a string with references inside"),
        ("1. flag(true)\n2. scale($1)", "scale() argument 'x' expects float, found $1, the bool that flag() returns"),
    ],
)
def test_references_are_checked_against_the_producing_tools_return_type(plan, problem):
    catalogue = typed_toolset().signatures()
    text = plan + "\n3. join()"
    if problem is None:
        compile_plan(text, catalogue, optimize=False)
    else:
        assert [e.split(": error: ")[1] for e in errors_of(text, catalogue)] == [problem]


def test_an_interpolated_string_is_a_str():
    catalogue = typed_toolset().signatures()
    graph = compile_plan('1. count(2)\n2. either("n=${1}")\n3. join()', catalogue, optimize=False)
    assert graph.tasks[2].kwargs == {"v": Interp(("n=", Ref(1)))}


def test_references_to_an_earlier_plan_are_not_known_and_accepted():
    graph = compile_plan("4. count($2)\n5. join()", typed_toolset().signatures(), prior_ids=[1, 2, 3], optimize=False)
    assert graph.tasks[4].kwargs == {"n": Ref(2)}


def test_a_merged_duplicate_keeps_its_tools_return_type():
    stream = PlanStream(typed_toolset().signatures())
    stream.feed("1. count(3)\n2. count(3)\n")  # task 2 is merged into task 1
    with pytest.raises(PlanError, match=r"found \$2, the int that count\(\) returns"):
        stream.feed('3. names($2)\n')


# plain numbers -------------------------------------------------------------------------------
def test_a_plain_number_string_is_read_as_the_number_with_a_warning():
    analyzer = PlanAnalyzer(typed_toolset().signatures())
    task = analyzer.add_line('1. count("42")')
    assert task.kwargs == {"n": 42} and analyzer.diagnostics == []
    assert [str(w) for w in analyzer.warnings] == [
        "<plan>:1:10: warning: count() argument 'n' expects int: the string \"42\" is read as the number 42"
    ]
    task = analyzer.add_line('2. scale("-2.5", by="3")')
    assert task.kwargs == {"x": -2.5, "by": 3.0}
    assert len(analyzer.warnings) == 3
    task = analyzer.add_line('3. total("t", "1", 2, unit="m")')
    assert (task.args, task.kwargs) == (("t", 1, 2), {"unit": "m"})
    assert analyzer.warnings[-1].col == len('3. total("t", ') + 1


def test_a_string_stays_a_string_where_the_union_takes_strings():
    analyzer = PlanAnalyzer(typed_toolset().signatures())
    assert analyzer.add_line('1. either("5")').kwargs == {"v": "5"} and analyzer.warnings == []
    assert analyzer.add_line('2. scale(1, by="7")').kwargs == {"x": 1, "by": 7.0}  # float | None: converted
    assert len(analyzer.warnings) == 1


def test_a_failed_union_member_leaves_no_conversion_behind():
    ts = Toolset("u")

    @ts.tool
    def f(v: Union[list[int], str, None]) -> str:
        return ""

    analyzer = PlanAnalyzer(ts.signatures())
    analyzer.add_line('1. f(["1", "x"])')
    assert analyzer.warnings == []
    assert analyzer.diagnostics[0].message == "f() argument 'v' expects list[int] | str | None, found a list"


def test_compatibility_of_declared_results():
    assert could_hold(STR, ANY) and could_hold(ANY, INT) and not could_hold(STR, INT)
    assert could_hold(list_of(STR), type_of_hint(Optional[list[str]]))
    assert not could_hold(list_of(STR), list_of(INT))
    assert could_hold(type_of_hint(Literal["a"]), STR) and not could_hold(type_of_hint(Literal["a"]), INT)
    assert isinstance(type_of_hint(int), ArgType)


def test_the_conversion_warning_reaches_compile_plan_and_the_stream():
    catalogue = typed_toolset().signatures()
    warnings: list = []
    graph = compile_plan('1. count("42")\n2. join()', catalogue, warnings=warnings)
    assert graph.tasks[1].kwargs == {"n": 42}
    expected = ["<plan>:1:10: warning: count() argument 'n' expects int: the string \"42\" is read as the number 42"]
    assert [str(w) for w in warnings] == expected
    stream = PlanStream(catalogue)
    stream.feed('1. count("42")\n2. join()\n')
    assert [str(w) for w in stream.warnings] == expected
