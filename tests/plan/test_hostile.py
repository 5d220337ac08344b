"""Hostile plans: huge, deep, binary. They give errors (bounded in number), never crashes."""

from __future__ import annotations

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import MAX_NESTING, PASSES, PlanError, PlanStream, compile_plan
from llmcompiler_provider.plan.errors import MAX_ERRORS

MEGABYTE = 1 << 20
COMPILER_PASSES = ("cse", "dce", "batching", "priorities")


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        compile_plan(text, CATALOGUE)
    assert 1 <= len(caught.value.diagnostics) <= MAX_ERRORS + 1
    return str(caught.value).splitlines()


@pytest.mark.parametrize(
    "text, first_problem",
    [
        ("1. math(" + "[" * MEGABYTE + ")", f"<plan>:1:{9 + MAX_NESTING}: error: lists and dicts nest deeper"),
        ("1. math(" + "{'a': " * (MEGABYTE // 6) + ")", "<plan>:1:"),
        ("1. math(" + "1, " * (MEGABYTE // 3), f"<plan>:1:{8 + (MEGABYTE // 3) * 3}: error: unexpected end of line"),
        ('1. math("' + "x" * MEGABYTE, "<plan>:1:9: error: unterminated string"),
        ("1. math('" + "\\'" * (MEGABYTE // 2), "<plan>:1:9: error: unterminated string"),
        ("1. math(" + "'\\" * (MEGABYTE // 2) + ")", "<plan>:1:9: error: unterminated string"),
        ("1. math(" + "9" * MEGABYTE + ")", "<plan>:1:9: error: number 99999999999999999999999… is out of range"),
        ("1. math(0." + "9" * MEGABYTE + "e99999999)", "<plan>:1:9: error: number 0.99"),
        ("1. math($" + "9" * MEGABYTE + ")", "<plan>:1:9: error: reference 99999999999999999999999… is out of range"),
        ("1. math(1)" + " " * MEGABYTE + "x", f"<plan>:1:{MEGABYTE + 11}: error: unexpected text after the call"),
        ("\0" * MEGABYTE, "<plan>:1:1: error: NUL byte"),
        ("\n" * MEGABYTE + "1. nope()", f"<plan>:{MEGABYTE + 1}:4: error: unknown tool 'nope'"),
        ("$" * MEGABYTE, "<plan>:1:1: error: expected a numbered action"),
        ("(" * MEGABYTE, "<plan>:1:1: error: expected a numbered action"),
        ("1. " + "a" * MEGABYTE + "()", "<plan>:1:4: error: unknown tool 'aaaaaaaaaaaaaaaaaaaaaaa…'"),
    ],
    ids=["brackets", "dicts", "commas", "string", "escaped-quotes", "quote-backslash", "int", "float", "ref",
         "trailing-blanks", "nul", "newlines", "dollars", "parens", "long-name"],
)
def test_a_megabyte_of_hostile_text_is_an_error(text, first_problem):
    assert problems(text)[0].startswith(first_problem)


def test_a_megabyte_of_bad_lines_reports_a_bounded_number_of_problems():
    found = problems("1. math(1 +)\n" * (MEGABYTE // 13))
    assert found[-1].endswith(f"too many errors ({MAX_ERRORS}); stopping here")


def test_a_megabyte_of_valid_tasks_compiles():
    text = "".join(f'{i}. search("q{i}")\n' for i in range(1, MEGABYTE // 20))
    graph = compile_plan(text, CATALOGUE)
    assert len(graph) == 1  # one batch of every search
    assert len(graph.tasks[1].batch_of) == MEGABYTE // 20 - 1


def test_a_long_chain_of_references_compiles_without_recursion_problems():
    text = '1. search("a")\n' + "".join(f"{i}. math(${i - 1})\n" for i in range(2, 20000))
    others = [name for name in PASSES if name not in COMPILER_PASSES]  # this file tests the compiler's own passes
    graph = compile_plan(text, CATALOGUE, disabled_passes=others)
    assert graph.tasks[1].priority > graph.tasks[19999].priority


def test_a_megabyte_streamed_in_one_line_without_newline_is_an_error_at_close():
    stream = PlanStream(CATALOGUE)
    for _ in range(256):
        assert stream.feed("[" * 4096) == []
    with pytest.raises(PlanError, match="expected a numbered action"):
        stream.close()
