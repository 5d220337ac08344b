"""The tool registry, toolset loading and the demo toolset."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from llmcompiler_provider.tools import Toolset, ToolsetNotFound, load_toolset
from llmcompiler_provider.tools.demo import demo, math, search
from llmcompiler_provider.tools.knowledge import KnowledgeBase
from llmcompiler_provider.tools.safe_math import MathError, evaluate, solve


def test_the_registry_reads_signatures_and_hints_from_the_function():
    ts = Toolset("t")

    @ts.tool(resources={"GPU": 1}, cost=2.5, retries=1, timeout=9, pure=False)
    def draw(prompt: str, steps: int = 4, *extra) -> str:
        """Draw a picture."""
        return prompt

    sig = ts.signatures()["draw"]
    assert [(p.name, p.required, p.annotation, p.variadic) for p in sig.params] == [
        ("prompt", True, "str", False),
        ("steps", False, "int", False),
        ("extra", False, "Any", True),
    ]
    assert (sig.resources, sig.cost, sig.retries, sig.timeout, sig.pure) == ({"GPU": 1}, 2.5, 1, 9, False)
    assert "1. draw(prompt: str, steps: int = ..., *extra: Any): Draw a picture." in ts.describe()
    assert ts.describe().splitlines()[-1].startswith("2. join()")


def test_join_is_reserved():
    with pytest.raises(ValueError, match="reserved"):
        Toolset("t").tool(lambda: None, name="join")


def test_a_users_toolset_loads_from_module_attribute(tmp_path):
    (tmp_path / "my_tools.py").write_text(
        textwrap.dedent(
            """
            from llmcompiler_provider.tools import Toolset
            mine = Toolset("mine")

            @mine.tool
            def shout(text: str) -> str:
                return text.upper()
            """
        )
    )
    code = "from llmcompiler_provider.tools import load_toolset; print(load_toolset('my_tools:mine')['shout']('hi'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "HI", out.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown toolset 'nope'"),
        ("no_such_module_xyz:tools", "cannot import module 'no_such_module_xyz'"),
        ("llmcompiler_provider.tools.demo:search", "is not a Toolset"),
    ],
)
def test_a_bad_toolset_name_says_what_is_wrong(spec, message):
    with pytest.raises(ToolsetNotFound, match=message):
        load_toolset(spec)


def test_demo_search_ranks_by_relevance_not_exact_strings():
    assert search("How tall is the Eiffel Tower?").startswith("Eiffel Tower:")
    assert search("deepest lake on earth").startswith("Lake Baikal:")
    assert search("who painted the mona lisa").splitlines()[0].startswith(("Mona Lisa:", "Leonardo da Vinci:"))
    assert search("zzzz qqqq").startswith("No results")


def test_the_knowledge_base_searches_any_passages():
    kb = KnowledgeBase([("Alpha", "the red fox jumps"), ("Beta", "a blue whale swims")])
    assert kb.search("whales swimming") == [("Beta", "a blue whale swims")]


def test_demo_math_answers_over_search_results():
    a, b = search("Eiffel Tower height"), search("Statue of Liberty height")
    assert math("which is taller", [a, b]).startswith("Eiffel Tower (330) is the largest")
    assert math("combined population", [search("France population"), search("Germany population")]) == "152000000"
    assert math("difference", [10, 4]) == "6"
    assert math("2 * (3 + 4) ** 2") == "98"


@pytest.mark.parametrize("expr", ["__import__('os')", "(1).real", "x + 1", "2 ** 1000000", "1 / 0"])
def test_math_never_evaluates_code(expr):
    with pytest.raises(MathError):
        evaluate(expr)


def test_math_without_numbers_is_a_clear_error():
    with pytest.raises(MathError, match="no numbers"):
        solve("sum", ["nothing here"])


def test_the_demo_llm_tool_asks_for_one_gpu_slot():
    assert demo.signatures()["llm"].resources == {"GPU": 1}
