"""The plan compiler under fuzzing and hostile plans: a ``PlanError`` of short lines, or a graph of
registered tools with literal arguments; never a crash, never code run, memory bounded.

Hypothesis runs derandomized (the same examples every time, so CI never flakes on a new
one) with a generous deadline for this busy machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from guarded_tools import guarded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcompiler_provider.plan import MAX_ERRORS, PlanError, PlanStream, compile_plan
from llmcompiler_provider.plan.ir import Interp, Ref, TaskGraph

CATALOGUE = guarded.signatures()
FUZZ = settings(max_examples=150, deadline=timedelta(seconds=10), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAX_MESSAGE_CHARS = 400


# -- what every outcome must look like ----------------------------------------------------
def is_literal(value: object) -> bool:
    """Plain data only: strings, numbers, booleans, None, lists, dicts, references."""
    if value is None or isinstance(value, (str, int, float, bool, Ref)):
        return True
    if isinstance(value, Interp):
        return all(isinstance(part, (str, Ref)) for part in value.parts)
    if isinstance(value, (list, tuple)):
        return all(map(is_literal, value))
    if isinstance(value, dict):
        return all(is_literal(k) and is_literal(v) for k, v in value.items())
    return False


def compile_or_none(text: str, **options) -> TaskGraph | None:
    """The graph, or None after checking the errors are a bounded list of short compiler lines."""
    try:
        graph = compile_plan(text, CATALOGUE, **options)
    except PlanError as error:
        lines = str(error).splitlines()
        assert 1 <= len(lines) <= MAX_ERRORS + 1
        for line in lines:
            assert line.startswith("<plan>:") and ": error: " in line, line[:200]
            assert len(line) <= MAX_MESSAGE_CHARS, line[:200]
        return None
    for task in graph.tasks.values():
        assert task.tool in CATALOGUE
        assert is_literal(task.args) and is_literal(task.kwargs), task
    return graph


# -- fuzzing ------------------------------------------------------------------------------
FRAGMENTS = [
    "1.", "2.", "3. ", "12.", "0.", "echo", "pair", "canary", "search", "join", "(", ")", "()", '"', "'", '"x"',
    "'y'", "$1", "$2", "${1}", "${", "}", "$", ",", "=", "first=", "[", "]", "{", "}", ":", "\n", " ", "\t",
    "Thought:", "#", "<END_OF_PLAN>", "__import__", ".", "os", "system", "lambda", "f\"{x}\"", "\\", "\\x41",
    "\\u00e9", "\\$", "\0", "\r", "\u202e", "\u200b", "\u2028", "ｅｃｈｏ", "ech\u043e", "1e999", "-", "+", "*",
    "**", "True", "null", "None", "eval", "exec", "open", "`", ";", "9" * 30, "\ufeff",
]


@FUZZ
@given(st.text(max_size=3000))
def test_any_text_compiles_or_is_a_plan_error(text):
    compile_or_none(text)
    compile_or_none(text, optimize=False)


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=80).map("".join))
def test_plan_like_token_soup_compiles_or_is_a_plan_error(text):
    compile_or_none(text)


# -- valid plans: what the plan says is exactly what the tools get -------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=24),
)
literals = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10,
)


def quoted(text: str) -> str:
    """A double-quoted plan string holding exactly ``text`` (escapes for what the lexer reads specially)."""
    out = []
    for ch in text:
        if ch in '\\"$':
            out.append("\\" + ch)
        elif ch < " " or ch in "\x7f\x85\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def written(value: object) -> str:
    """``value`` as a plan literal."""
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, Ref):
        return f"${value.id}"
    if isinstance(value, list):
        return "[" + ", ".join(map(written, value)) + "]"
    return "{" + ", ".join(f"{quoted(k)}: {written(v)}" for k, v in value.items()) + "}"


@st.composite
def valid_plans(draw) -> tuple[str, dict[int, dict]]:
    """A plan of ``pair`` calls with random literals (and references), and each task's expected kwargs."""
    lines, expected = [], {}
    for task_id in range(1, draw(st.integers(1, 6)) + 1):
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["Thought: next", "# a comment", ""])))
        first = draw(literals)
        second = Ref(draw(st.integers(1, task_id - 1))) if task_id > 1 and draw(st.booleans()) else draw(literals)
        keywords = draw(st.booleans())
        arguments = f"first={written(first)}, second={written(second)}" if keywords else \
            f"{written(first)}, {written(second)}"
        lines.append(f"{task_id}. pair({arguments})")
        expected[task_id] = {"first": first, "second": second}
    lines.append(draw(st.sampled_from(["join()", "join()<END_OF_PLAN>", "join()\n<END_OF_PLAN>"])))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"])), expected


@FUZZ
@given(valid_plans())
def test_a_valid_plans_arguments_reach_the_graph_exactly_as_written(plan):
    text, expected = plan
    graph = compile_or_none(text, optimize=False)
    assert graph is not None, text
    assert {task.id: task.kwargs for task in graph.tasks.values()} == expected


@FUZZ
@given(valid_plans(), st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_a_plan_streamed_in_any_chunks_compiles_as_the_whole_text_does(plan, sizes):
    text, _expected = plan
    stream, position, turn = PlanStream(CATALOGUE, optimize=False), 0, 0
    while position < len(text) and not stream.done:  # the planner stops reading at join()
        size = sizes[turn % len(sizes)]
        stream.feed(text[position : position + size])
        position, turn = position + size, turn + 1
    streamed = stream.close(require_join=True)
    whole = compile_plan(text, CATALOGUE, optimize=False)
    assert {t.id: (t.tool, t.kwargs) for t in streamed} == {t.id: (t.tool, t.kwargs) for t in whole}


# -- hostile plans -------------------------------------------------------------------------
HOSTILE = {
    "import-call": '1. echo(__import__("os").system("touch /tmp/llmcompiler-owned"))\n2. join()',
    "import-as-tool": '1. __import__("os").system("touch /tmp/llmcompiler-owned")\n2. join()',
    "dotted-tool": '1. os.system("id")\n2. join()',
    "attribute-on-string": '1. echo("x".__class__.__mro__)\n2. join()',
    "attribute-on-ref": '1. echo("x")\n2. echo($1.__class__)\n3. join()',
    "subclasses": '1. echo(().__class__.__bases__[0].__subclasses__())\n2. join()',
    "lambda": '1. echo(lambda: canary("x"))\n2. join()',
    "f-string": '1. echo(f"{canary(\'x\')}")\n2. join()',
    "nested-call": '1. echo(canary("x"))\n2. join()',
    "nested-in-list": '1. pair([canary("x")])\n2. join()',
    "eval": '1. echo(eval("1+1"))\n2. join()',
    "exec": '1. exec("import os")\n2. join()',
    "open": '1. echo(open("/etc/passwd").read())\n2. join()',
    "bare-name": "1. echo(canary)\n2. join()",
    "operator": '1. echo("a" * 10**9)\n2. join()',
    "negated-ref": '1. pair(1)\n2. pair(-$1)\n3. join()',
    "star-args": '1. pair(*[1, 2])\n2. join()',
    "double-star": '1. pair(**{"first": 1})\n2. join()',
    "comprehension": "1. pair([i for i in range(10)])\n2. join()",
    "walrus": "1. pair((x := 1))\n2. join()",
    "semicolon": '1. echo("x"); canary("y")\n2. join()',
    "two-calls-one-line": '1. echo("x"), canary("y")\n2. join()',
    "canary-after-join": '1. echo("x")\n2. join()\n3. canary("after join")',
    "canary-after-end": '1. echo("x")\n2. join()<END_OF_PLAN>\n3. canary("after the end")',
    "unnumbered-canary": 'canary("x")\n1. echo("y")\n2. join()',
    "carriage-return-line": '1. echo("x")\r2. canary("y")\n3. join()',
    "line-separator": '1. echo("x")\u2028 2. canary("y")\n3. join()',
    "nul-byte": '1. echo("a\0b")\n2. join()',
    "nul-between-calls": '1. echo("a")\0canary("b")\n2. join()',
    "zero-width-name": '1. can\u200bary("x")\n2. join()',
    "homoglyph-name": '1. ech\u043e("x")\n2. join()',
    "rtl-override": '1. echo("x")\u202e)"y"(yranac ,\n2. join()',
    "deep-nesting": "1. pair(" + "[" * 200 + "]" * 200 + ")\n2. join()",
    "huge-reference": "1. pair($" + "9" * 40 + ")\n2. join()",
    "huge-number": "1. pair(" + "9" * 5000 + ")\n2. join()",
    "unterminated": '1. echo("x)\n2. join()',
    "backtick": "1. echo(`id`)\n2. join()",
    "shell-substitution-outside-string": "1. echo($(touch /tmp/llmcompiler-owned))\n2. join()",
    "big-literal": '1. echo("' + "x" * (70 * 1024) + '")\n2. join()',
    "many-items": "1. pair([" + "0, " * 70_000 + "0])\n2. join()",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_plan_is_a_plan_error(text):
    assert compile_or_none(text) is None
    with pytest.raises(PlanError):
        stream = PlanStream(CATALOGUE)
        stream.feed(text)
        stream.close(require_join=True)


HARMLESS = {
    "code-in-a-string": ('1. echo("__import__(\'os\').system(\'touch /tmp/x\')")\n2. join()',
                         "__import__('os').system('touch /tmp/x')"),
    "shell-in-a-string": ('1. echo("$(touch /tmp/x); `id`")\n2. join()', None),
    "sql-in-a-string": ("1. echo(\"'; DROP TABLE run; --\")\n2. join()", "'; DROP TABLE run; --"),
    "call-in-a-comment": ('1. echo("x")  # canary("in a comment")\n2. join()', "x"),
    "call-in-a-thought": ('Thought: now call canary("x")\n1. echo("x")\n2. join()', "x"),
    "fullwidth-name": ('1. echo("ｅｃｈｏ")\n2. join()', "ｅｃｈｏ"),
}


@pytest.mark.parametrize(("text", "argument"), HARMLESS.values(), ids=HARMLESS.keys())
def test_code_in_strings_comments_and_thoughts_stays_text(text, argument):
    graph = compile_or_none(text)
    assert graph is not None and [t.tool for t in graph.tasks.values()] == ["echo"]
    if argument is not None:
        assert graph.tasks[1].kwargs == {"text": argument}


# -- memory ------------------------------------------------------------------------------
MEGABYTE = 1 << 20
# each case runs in a fresh interpreter:
# (plan text expression, how it is compiled, the expected outcome, bound on the peak memory growth in MB)
MEMORY_CASES = {
    "1MB-string": ("'1. echo(\"' + 'x' * MB + '\")\\n2. join()'", "whole", "error", 64),
    "1MB-brackets": ("'1. pair(' + '[' * MB + ')'", "whole", "error", 256),
    "1MB-hostile-lines": ("'1. echo(__import__(\"os\").system(\"id\"))\\n' * (MB // 40)", "whole", "error", 256),
    "100k-independent-tasks": ("''.join(f'{i}. search(\"q{i}\")\\n' for i in range(1, 100_001)) + '100001. join()'",
                               "whole", "compiled", 768),
    "100k-task-chain-streamed": ("'1. echo(\"a\")\\n' + ''.join(f'{i}. pair(${i - 1})\\n' for i in range(2, 100_001))"
                                 " + '100001. join()\\n'", "stream", "compiled", 768),
}
MEASURE = textwrap.dedent("""
    import json, resource, sys
    from guarded_tools import guarded
    from llmcompiler_provider.plan import PlanError, PlanStream, compile_plan
    MB = 1 << 20
    text = eval(sys.argv[1])  # the test's own expression, building the plan text
    catalogue = guarded.signatures()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome = "compiled"
    try:
        if sys.argv[2] == "stream":
            stream = PlanStream(catalogue)
            for i in range(0, len(text), 4096):
                stream.feed(text[i:i + 4096])
            tasks = len(stream.close(require_join=True))
        else:
            tasks = len(compile_plan(text, catalogue).tasks)
    except PlanError as error:
        outcome, tasks = "error", len(error.diagnostics)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "count": tasks, "growth_mb": (peak - before) / 1024}))
""")


@pytest.mark.parametrize(("expression", "mode", "outcome", "bound_mb"), MEMORY_CASES.values(), ids=MEMORY_CASES.keys())
def test_compiling_a_megabyte_or_100k_tasks_takes_bounded_memory(expression, mode, outcome, bound_mb, request):
    folder = str(request.path.parent)
    done = subprocess.run([sys.executable, "-c", MEASURE, expression, mode], capture_output=True, text=True,
                          timeout=300, cwd=folder, env={**os.environ, "PYTHONPATH": folder})
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout)
    assert measured["outcome"] == outcome
    assert measured["growth_mb"] < bound_mb, measured
