"""``llmcompiler compile``: the real command in a subprocess, its output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYTHON = sys.executable

TOOLSET_MODULE = '''
from llmcompiler_provider.tools import Toolset

tools = Toolset("cli-test")


@tools.tool(cost=0.5, batchable=True)
def search(query: str) -> str:
    "Look something up."
    return query


@tools.tool(cost=2.0, resources={"GPU": 1})
def summarize(text: str, context: list = []) -> str:
    "Summarize text."
    return text[:10]


@tools.tool(pure=False, cost=0.1)
def notify(message: str) -> None:
    "Tell someone."
'''

GOOD_PLAN = """Thought: look both up at once
1. search("Eiffel Tower height")
2. search(query="Statue of Liberty height")
3. summarize("compare $1 and ${2}", [$1, $2])
4. join()
<END_OF_PLAN>
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "cli_tools.py").write_text(TOOLSET_MODULE)
    (tmp_path / "plan.txt").write_text(GOOD_PLAN)
    return tmp_path


def compile_cmd(workdir: Path, *args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [PYTHON, "-m", "llmcompiler_provider", "compile", "--toolset", "cli_tools:tools", *args],
        cwd=workdir, env=env, input=data, capture_output=True, timeout=120,
    )
    done.stdout_text = done.stdout.decode()
    done.stderr_text = done.stderr.decode()
    return done


def test_json_output_lists_every_task_with_the_documented_fields(workdir):
    done = compile_cmd(workdir, "plan.txt", "--format", "json")
    assert done.returncode == 0, done.stderr_text
    graph = json.loads(done.stdout_text)
    tasks = {t["id"]: t for t in graph["tasks"]}
    assert set(tasks) == {1, 3}  # 2 was batched into 1
    for task in tasks.values():
        assert {"id", "tool", "args", "kwargs", "deps", "resources", "priority"} <= set(task)
    assert tasks[1]["batch_of"] == [1, 2]
    assert tasks[1]["kwargs"] == {"calls": [{"query": "Eiffel Tower height"}, {"query": "Statue of Liberty height"}]}
    assert tasks[3]["kwargs"] == {"text": "compare ${1} and ${2}", "context": ["$1", "$2"]}
    assert tasks[3]["deps"] == [1, 2] and tasks[3]["resources"] == {"GPU": 1}
    assert tasks[1]["priority"] == 2500 and tasks[3]["priority"] == 2000
    assert graph["aliases"] == {"2": 1}


def test_no_optimize_keeps_the_plan_as_written(workdir):
    done = compile_cmd(workdir, "plan.txt", "--format", "json", "--no-optimize")
    assert done.returncode == 0, done.stderr_text
    tasks = json.loads(done.stdout_text)["tasks"]
    assert [t["id"] for t in tasks] == [1, 2, 3]
    assert all(t["priority"] == 0 and t["batch_of"] == [] for t in tasks)


def test_a_disabled_pass_does_not_run(workdir):
    done = compile_cmd(workdir, "plan.txt", "--format", "json", "--disable", "batching")
    tasks = json.loads(done.stdout_text)["tasks"]
    assert [t["id"] for t in tasks] == [1, 2, 3] and tasks[0]["priority"] == 2500


def test_output_ids_let_dead_tasks_go(workdir):
    (workdir / "dead.txt").write_text('1. search("a")\n2. search("b")\n3. summarize($1)\n4. notify("x")\njoin()\n')
    done = compile_cmd(workdir, "dead.txt", "--format", "json", "--output", "3", "--disable", "batching")
    assert [t["id"] for t in json.loads(done.stdout_text)["tasks"]] == [1, 3, 4]


def test_text_output_is_the_annotated_plan(workdir):
    done = compile_cmd(workdir, "plan.txt", "--no-optimize")
    assert done.returncode == 0
    assert done.stdout_text.splitlines() == [
        "Thought: look both up at once",
        '1. search(query="Eiffel Tower height")  # priority 0',
        '2. search(query="Statue of Liberty height")  # priority 0',
        '3. summarize(text="compare ${1} and ${2}", context=[$1, $2])  # priority 0; after $1, $2; GPU=1',
        "join()",
        "<END_OF_PLAN>",
    ]


def test_dot_output_is_a_graphviz_digraph(workdir):
    done = compile_cmd(workdir, "plan.txt", "--format", "dot", "--no-optimize")
    assert done.returncode == 0
    assert done.stdout_text.startswith("digraph plan {")
    assert "  t1 -> t3;" in done.stdout_text and "  t2 -> t3;" in done.stdout_text
    assert done.stdout_text.rstrip().endswith("}")


def test_the_plan_can_come_from_standard_input(workdir):
    done = compile_cmd(workdir, "-", "--format", "json", stdin=GOOD_PLAN)
    assert done.returncode == 0 and len(json.loads(done.stdout_text)["tasks"]) == 2


def test_a_bad_plan_exits_2_with_one_line_per_problem_and_no_traceback(workdir):
    (workdir / "bad.txt").write_text('1. serch("x")\n2. search($3)\n3. summarize(1 + 1)\n4. join(1)\n')
    done = compile_cmd(workdir, "bad.txt")
    assert done.returncode == 2
    assert done.stdout_text == ""
    assert done.stderr_text.splitlines() == [
        "bad.txt:1:4: error: unknown tool 'serch' (did you mean 'search'?)",
        "bad.txt:2:11: error: $3 refers to task 3, which comes later: a task can only use earlier results",
        "bad.txt:3:16: error: operator '+' is not allowed: arguments must be literals or $N references",
        "bad.txt:4:9: error: join() takes no arguments",
    ]


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'1. search("a\x00")\n', "<stdin>:1:13: error: NUL byte in the plan: a plan is text"),
        (b'1. search("caf\xe9")\n', "<stdin>:1:15: error: the plan is not UTF-8 text (byte 0xe9)"),
        (b"1. search(" + b"[" * 100_000 + b")\n", "<stdin>:1:75: error: lists and dicts nest deeper than 64 levels"),
        (b'1. search("open\n', "<stdin>:1:11: error: unterminated string: it needs a closing \" on the same line"),
        (b"1. search(99999999999999999999999)\n", "<stdin>:1:11: error: number 99999999999999999999999 is out of range"),
        (b"1. search(__import__('os').system('x'))\n", "<stdin>:1:11: error: calls are not allowed inside arguments"),
    ],
    ids=["nul", "not-utf8", "deep", "unterminated", "huge-number", "import"],
)
def test_hostile_input_is_an_error_line_never_a_traceback(workdir, content, expected):
    done = compile_cmd(workdir, "-", stdin=content)
    assert done.returncode == 2
    assert done.stderr_text.startswith(expected), done.stderr_text
    assert "Traceback" not in done.stderr_text


def test_a_missing_plan_file_is_an_error_line(workdir):
    done = compile_cmd(workdir, "nowhere.txt")
    assert done.returncode == 2
    assert done.stderr_text.strip() == "nowhere.txt:1:1: error: cannot read the plan: No such file or directory"


def test_require_join(workdir):
    (workdir / "open.txt").write_text('1. search("a")\n')
    assert compile_cmd(workdir, "open.txt").returncode == 0
    done = compile_cmd(workdir, "open.txt", "--require-join")
    assert done.returncode == 2
    assert done.stderr_text.strip() == "open.txt:2:1: error: the plan does not end with join()"


SLIPPED_PLAN = """```
1. search(Eiffel Tower height)
2. summarize("over $5 and $1", [$1]
3. join()
```
"""


def test_a_plan_compiles_exactly_unless_repair_is_asked_for(workdir):
    (workdir / "slips.txt").write_text(SLIPPED_PLAN)
    exact = compile_cmd(workdir, "slips.txt")
    assert exact.returncode == 2 and exact.stderr_text.startswith("slips.txt:1:1: error: expected a numbered action")
    done = compile_cmd(workdir, "slips.txt", "--repair", "--format", "json")
    assert done.returncode == 0, done.stderr_text
    assert [t["kwargs"] for t in json.loads(done.stdout_text)["tasks"]] == [
        {"query": "Eiffel Tower height"}, {"text": "over $5 and ${1}", "context": ["$1"]}]
    assert done.stderr_text.splitlines() == [
        "slips.txt:1:1: warning: Markdown code fence dropped",
        'slips.txt:2:11: warning: unquoted argument text taken as one string: "Eiffel Tower height"',
        "slips.txt:3:20: warning: '$5' in a string is no earlier task's result: kept as the text '$5'",
        "slips.txt:3:36: warning: missing ')' at the end of the line: added",
        "slips.txt:5:1: warning: Markdown code fence dropped",
    ]


def test_with_repair_what_cannot_be_repaired_is_an_error_among_the_warnings(workdir):
    (workdir / "bad.txt").write_text("1. search(Eiffel Tower)\n2. search(os.path)\n3. join()\n")
    done = compile_cmd(workdir, "bad.txt", "--repair")
    assert done.returncode == 2 and done.stdout_text == ""
    assert done.stderr_text.splitlines() == [
        'bad.txt:1:11: warning: unquoted argument text taken as one string: "Eiffel Tower"',
        "bad.txt:2:13: error: attribute access is not allowed in a plan",
    ]


def test_compile_help_documents_repair(workdir):
    done = compile_cmd(workdir, "--help")
    assert done.returncode == 0
    assert "--repair" in done.stdout_text and "Markdown code fences" in " ".join(done.stdout_text.split())


def test_an_unknown_toolset_is_a_clear_error(workdir):
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    done = subprocess.run(
        [PYTHON, "-m", "llmcompiler_provider", "compile", "--toolset", "no_such_module:tools", "plan.txt"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("llmcompiler compile: toolset 'no_such_module:tools': cannot import module")
    assert "Traceback" not in done.stderr


def test_an_unknown_output_id_is_a_clear_error(workdir):
    done = compile_cmd(workdir, "plan.txt", "--output", "9")
    assert done.returncode == 2
    assert done.stderr_text.strip() == "llmcompiler compile: outputs name tasks the plan does not have: 9"


def test_an_unknown_pass_is_a_usage_error(workdir):
    done = compile_cmd(workdir, "plan.txt", "--disable", "fold")
    assert done.returncode == 2
    assert "invalid choice: 'fold'" in done.stderr_text


def test_the_demo_toolset_compiles_the_design_example(tmp_path):
    (tmp_path / "plan.txt").write_text(textwrap.dedent('''\
        1. search("Eiffel Tower height")
        2. search(query="Statue of Liberty height")
        3. math("compare", [$1, $2])
        4. join()
        <END_OF_PLAN>
    '''))
    done = subprocess.run(
        [PYTHON, "-m", "llmcompiler_provider", "compile", "plan.txt", "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert {t["tool"] for t in json.loads(done.stdout)["tasks"]} == {"search", "math"}
