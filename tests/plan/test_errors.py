"""Every problem is one ``FILE:LINE:COL: error: MESSAGE`` line, at the right place."""

from __future__ import annotations

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import MAX_NESTING, Diagnostic, PlanError, compile_plan
from llmcompiler_provider.plan.errors import MAX_ERRORS


def errors_of(text: str, **options) -> list[str]:
    with pytest.raises(PlanError) as caught:
        compile_plan(text, CATALOGUE, source="plan.txt", **options)
    assert str(caught.value) == "\n".join(str(d) for d in caught.value.diagnostics)
    return str(caught.value).splitlines()


def only_error(text: str, **options) -> str:
    errors = errors_of(text, **options)
    assert len(errors) == 1, errors
    return errors[0]


def test_the_error_format_is_file_line_col_error_message():
    error = PlanError([Diagnostic("plan.txt", 3, 12, "unknown tool 'serch'")])
    assert str(error) == "plan.txt:3:12: error: unknown tool 'serch'"
    assert error.diagnostics[0].line == 3


# semantic errors -------------------------------------------------------------------------
SEMANTIC = [
    ('1. serch("x")', "plan.txt:1:4: error: unknown tool 'serch' (did you mean 'search'?)"),
    ('1. xyzzy("x")', "plan.txt:1:4: error: unknown tool 'xyzzy'"),
    ('1. search(qury="x")', "plan.txt:1:11: error: unknown keyword argument 'qury' for search() (did you mean 'query'?)"),
    ('1. search("x", "y")', "plan.txt:1:16: error: too many arguments: search() takes 1 positional argument but 2 were given"),
    ("1. search()", "plan.txt:1:4: error: search() is missing its required argument 'query'"),
    ('1. math(context=[])', "plan.txt:1:4: error: math() is missing its required argument 'question'"),
    ('1. search("x", query="y")', "plan.txt:1:16: error: search() got multiple values for argument 'query'"),
    ('1. search(query="x", query="y")', "plan.txt:1:22: error: search() got the keyword argument 'query' twice"),
    ('1. concat("-", parts="x")', "plan.txt:1:16: error: unknown keyword argument 'parts' for concat()"),
    ("1. math($0)", "plan.txt:1:9: error: $0 refers to no task: task ids start at 1"),
    ("1. math($1)", "plan.txt:1:9: error: task 1 cannot use its own result $1"),
    ('1. math("see ${1}")', "plan.txt:1:14: error: task 1 cannot use its own result $1"),
    ("1. math($2)", "plan.txt:1:9: error: $2 refers to task 2, which comes later: a task can only use earlier results"),
    ('2. search("x")\n3. math([1, $1])', "plan.txt:2:13: error: $1 refers to no task: there is no task 1 before this line"),
    ('0. search("x")', "plan.txt:1:1: error: task ids start at 1"),
    ('1. search("x")\n1. search("y")', "plan.txt:2:1: error: duplicate task id 1 (already used on line 1)"),
    ('1. search("x")\n3. search("y")\n 2. search("z")', "plan.txt:3:2: error: task id 2 comes after task 3: ids must increase"),
    ('1. search("x")\n2. join($1)', "plan.txt:2:9: error: join() takes no arguments"),
    ('1. search("x")\njoin()\n2. search("y")', "plan.txt:3:1: error: text after join(): join() must be the last action of the plan"),
    ("join()\n<END_OF_PLAN>\nThought: more", "plan.txt:3:1: error: text after <END_OF_PLAN>: the plan has ended"),
    ("join()\n<END_OF_PLAN>\n<END_OF_PLAN>", "plan.txt:3:1: error: text after <END_OF_PLAN>: the plan has ended"),
    ('1. search("x")\n<END_OF_PLAN>', "plan.txt:2:1: error: <END_OF_PLAN> before join(): end the plan with join() first"),
    ('1. search("x")<END_OF_PLAN>', "plan.txt:1:15: error: <END_OF_PLAN> may only follow join()"),
    ('search("x")', "plan.txt:1:1: error: missing task number: write each action as 'N. tool(...)'"),
    ("Here is my plan:", "plan.txt:1:1: error: expected a numbered action like '1. tool(...)', a 'Thought:' line or join(), found 'Here is my plan:'"),
    ('Thought: x\n  search("y")', "plan.txt:2:3: error: missing task number: write each action as 'N. tool(...)'"),
]


@pytest.mark.parametrize("text, expected", SEMANTIC, ids=[e.split("error: ")[1][:40] for _, e in SEMANTIC])
def test_semantic_errors(text, expected):
    assert only_error(text) == expected


def test_a_plan_without_join_is_an_error_only_when_join_is_required():
    compile_plan('1. search("x")', CATALOGUE)
    assert only_error('1. search("x")\n', require_join=True) == "plan.txt:2:1: error: the plan does not end with join()"


def test_a_task_number_of_an_earlier_plan_is_an_error_in_a_replan():
    assert only_error('2. search("x")', prior_ids=[1, 2, 3]) == (
        "plan.txt:1:1: error: task id 2 belongs to an earlier plan: continue after 3"
    )


# syntax errors ---------------------------------------------------------------------------
SYNTAX = [
    ('1. math(os.system("ls"))', "plan.txt:1:11: error: attribute access is not allowed in a plan"),
    ('1. math(__import__("os"))', "plan.txt:1:9: error: calls are not allowed inside arguments: '__import__(...)' is not a value"),
    ('1. math(search("x"))', "plan.txt:1:9: error: calls are not allowed inside arguments: 'search(...)' is not a value"),
    ("1. math(1 + 2)", "plan.txt:1:11: error: operator '+' is not allowed: arguments must be literals or $N references"),
    ('1. search("x")\n2. math($1 * 2)', "plan.txt:2:12: error: operator '*' is not allowed: arguments must be literals or $N references"),
    ("1. math(-x)", "plan.txt:1:9: error: operator '-' is not allowed: arguments must be literals or $N references"),
    ("1. math(x)", "plan.txt:1:9: error: unquoted name 'x' is not a value: put text in quotes"),
    ("1. math((1, 2))", "plan.txt:1:9: error: parentheses are not allowed inside arguments: use [ ] for a list"),
    ("1. math(lambda: 1)", "plan.txt:1:9: error: unquoted name 'lambda' is not a value: put text in quotes"),
    ("1. math([x for x in y])", "plan.txt:1:10: error: unquoted name 'x' is not a value: put text in quotes"),
    ('1. math("abc)', "plan.txt:1:9: error: unterminated string: it needs a closing \" on the same line"),
    ("1. math('abc\\')", "plan.txt:1:9: error: unterminated string: it needs a closing ' on the same line"),
    ('1. math("x"', "plan.txt:1:12: error: unexpected end of line: missing ')'"),
    ("1. math([1, 2)", "plan.txt:1:14: error: expected ',' or ']', found ')'"),
    ("1. math([1, 2", "plan.txt:1:14: error: unexpected end of line: missing ']'"),
    ('1. math({"a" 1})', "plan.txt:1:14: error: expected ':' after the dict key, found '1'"),
    ("1. math({a: 1})", "plan.txt:1:10: error: unquoted dict key 'a': put keys in quotes"),
    ('1. search("x")\n2. math({$1: 1})', "plan.txt:2:10: error: a reference cannot be a dict key"),
    ('1. search("x")\n2. math({"$1": 1})', "plan.txt:2:10: error: a dict key cannot contain references"),
    ('1. math("a" "b")', "plan.txt:1:13: error: expected ',' or ')', found '\"b\"'"),
    ('1. math("a") extra', "plan.txt:1:14: error: unexpected text after the call: 'extra'"),
    ('1. search(query="x", "y")', "plan.txt:1:22: error: positional argument after a keyword argument"),
    ("1. math($)", "plan.txt:1:9: error: '$' must be followed by a task number, as in $1 or ${1}"),
    ("1. math(${x})", "plan.txt:1:9: error: '$' must be followed by a task number, as in $1 or ${1}"),
    ("1. math(1, ,)", "plan.txt:1:12: error: expected a value, found ','"),
    ("1. math(question=)", "plan.txt:1:18: error: expected a value, found ')'"),
    ("1. math(a == 1)", "plan.txt:1:12: error: unexpected '=': expected a value"),
    ("1. math(", "plan.txt:1:9: error: unexpected end of line: expected a value"),
    ("1. math(question=", "plan.txt:1:18: error: unexpected end of line: expected a value"),
    ("1. math(1,", "plan.txt:1:11: error: unexpected end of line: expected a value"),
    ("1. search", "plan.txt:1:10: error: unexpected end of line: expected '(' after the tool name 'search'"),
    ("1.", "plan.txt:1:3: error: unexpected end of line: expected a tool call like 'search(...)' after the task number"),
    ("1. 42", "plan.txt:1:4: error: expected a tool call like 'search(...)' after the task number, found '42'"),
    ("1. os.system('x')", "plan.txt:1:6: error: attribute access is not allowed in a plan: call a tool by its name"),
    ("1. math('\\x4')", "plan.txt:1:10: error: escape '\\x' needs 2 hexadecimal digits"),
    ("1. math('\\ud800')", "plan.txt:1:10: error: escape '\\ud800' is not a valid unicode character"),
    ("1. math(1000000000000000001)", "plan.txt:1:9: error: number 1000000000000000001 is out of range (integers must be within ±10**18)"),
    ("1. math(-99999999999999999999999999)", "plan.txt:1:9: error: number -9999999999999999999999… is out of range (integers must be within ±10**18)"),
    ("1. math(1e999)", "plan.txt:1:9: error: number 1e999 is out of range (it overflows a float)"),
    ("1. math($99999999999999999999)", "plan.txt:1:9: error: reference 99999999999999999999 is out of range (at most 10**18)"),
    ('99999999999999999999. search("x")', "plan.txt:1:1: error: task number 99999999999999999999 is out of range (at most 10**18)"),
    ('1. math("a\x00b")', "plan.txt:1:11: error: NUL byte in the plan: a plan is text"),
    ("1. math(1;)", "plan.txt:1:10: error: operator ';' is not allowed: arguments must be literals or $N references"),
    ("1. math(\u00a7)", "plan.txt:1:9: error: unexpected character '§'"),
    ("1. join() <END_OF_PLAN> more", "plan.txt:1:25: error: unexpected text after the call: 'more'"),
    ("1. math(<END_OF_PLAN>)", "plan.txt:1:9: error: unexpected <END_OF_PLAN>: it may only follow join()"),
]


@pytest.mark.parametrize("text, expected", SYNTAX, ids=[e.split("error: ")[1][:40] for _, e in SYNTAX])
def test_syntax_errors(text, expected):
    assert only_error(text) == expected


def test_nesting_up_to_the_limit_compiles_and_deeper_is_an_error():
    deepest = "[" * MAX_NESTING + "]" * MAX_NESTING
    compile_plan(f"1. math({deepest})", CATALOGUE)
    too_deep = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    col = len("1. math(") + MAX_NESTING + 1
    assert only_error(f"1. math({too_deep})") == (
        f"plan.txt:1:{col}: error: lists and dicts nest deeper than {MAX_NESTING} levels"
    )
    mixed = '{"a": [' * 40 + "]}" * 40
    assert "nest deeper" in only_error(f"1. math({mixed})")


def test_every_problem_is_reported_not_only_the_first():
    errors = errors_of('1. serch("x")\n2. search($3)\n3. math(1 + 1)\n3. join(1)\nmore text')
    assert errors == [
        "plan.txt:1:4: error: unknown tool 'serch' (did you mean 'search'?)",
        "plan.txt:2:11: error: $3 refers to task 3, which comes later: a task can only use earlier results",
        "plan.txt:3:11: error: operator '+' is not allowed: arguments must be literals or $N references",
        "plan.txt:4:1: error: duplicate task id 3 (already used on line 3)",
        "plan.txt:4:9: error: join() takes no arguments",
        "plan.txt:5:1: error: text after join(): join() must be the last action of the plan",
    ]


def test_several_problems_on_one_line_are_all_reported():
    assert errors_of('1. serch($1, $2)') == [
        "plan.txt:1:4: error: unknown tool 'serch' (did you mean 'search'?)",
        "plan.txt:1:10: error: task 1 cannot use its own result $1",
        "plan.txt:1:14: error: $2 refers to task 2, which comes later: a task can only use earlier results",
    ]


def test_references_to_a_broken_task_are_not_reported_again():
    assert errors_of('1. serch("x")\n2. math($1)\n3. math($2, [$1])') == [
        "plan.txt:1:4: error: unknown tool 'serch' (did you mean 'search'?)"
    ]
    assert errors_of('1. search("x)\n2. math($1)') == [
        "plan.txt:1:11: error: unterminated string: it needs a closing \" on the same line"
    ]


def test_the_number_of_reported_problems_is_bounded():
    text = "\n".join(f"{i}. nope()" for i in range(1, 1000))
    errors = errors_of(text)
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1].endswith(f"error: too many errors ({MAX_ERRORS}); stopping here")


def test_the_leftmost_problem_of_a_line_is_reported():
    assert only_error("1. math(x, 1e999, $)") == "plan.txt:1:9: error: unquoted name 'x' is not a value: put text in quotes"
    assert only_error("1. math(1e999, x)") == "plan.txt:1:9: error: number 1e999 is out of range (it overflows a float)"
