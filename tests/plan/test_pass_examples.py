"""Every optimizer pass's docstring example is true (doctest-like, so the examples cannot drift).

A pass's docstring ends with ``Example:`` and two columns, the plan before and
after that pass alone, an arrow ``->`` between them on one line. The "before"
column, compiled with only that pass, must print as the "after" column in the
notation ``llmcompiler_provider.plan.passes`` describes.
"""

from __future__ import annotations

import inspect
import re

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import PASSES, Task, TaskGraph, compile_plan
from llmcompiler_provider.plan.render import render_value
from llmcompiler_provider.plan.signature import ToolSignature


def example_of(function) -> tuple[list[str], list[str]]:
    """The (before, after) lines of ``function``'s docstring example."""
    doc = inspect.getdoc(function)
    assert doc and "\nExample:\n" in doc, f"{function.__name__} has no example"
    lines = [line[4:].rstrip() for line in doc.split("\nExample:\n", 1)[1].splitlines()]
    (arrow,) = [line for line in lines if " -> " in line]
    after_at = arrow.index(" -> ") + 4
    after_at += len(arrow[after_at:]) - len(arrow[after_at:].lstrip())  # the "after" column starts here
    before, after = [], []
    for line in lines:
        left = line[: line.index(" -> ")] if line is arrow else line[:after_at]
        crossing = line is not arrow and len(line) > after_at and line[after_at - 1] != " "
        assert not crossing, f"{line!r} crosses the columns"
        before.append(left.rstrip())
        after.append(line[after_at:])
    return [line for line in before if line], [line for line in after if line]


def call_text(task: Task, signature: ToolSignature | None) -> str:
    """``task`` as the plan line a planner would write: arguments by position while they can be."""
    positional = [p.name for p in signature.params if not p.variadic] if signature else []
    parts = [render_value(value) for value in task.args]
    names = list(task.kwargs)
    given = 0
    if not task.args:
        while given < min(len(names), len(positional)) and names[given] == positional[given]:
            parts.append(render_value(task.kwargs[names[given]]))
            given += 1
    parts += [f"{name}={render_value(task.kwargs[name])}" for name in names[given:]]
    return f"{task.id}. {task.tool}({', '.join(parts)})"


def example_text(graph: TaskGraph) -> list[str]:
    """``graph`` in the notation of the examples."""
    lines = []
    for task in graph:
        notes = [f"batch of {', '.join(map(str, task.batch_of))}"] if task.batch_of else []
        notes += [f"priority {task.priority}"] if task.priority else []
        lines.append(call_text(task, CATALOGUE.get(task.tool)) + (f"  # {'; '.join(notes)}" if notes else ""))
    batched = {member for task in graph for member in task.batch_of}
    lines += [f"# ${alias} is ${target}" for alias, target in graph.aliases.items() if alias not in batched]
    lines += [f"# one Dask task: {', '.join(map(str, unit))}" for unit in graph.units or () if len(unit) > 1]
    return lines


def test_every_pass_is_named_after_its_module_and_has_a_one_line_summary():
    for name, function in PASSES.items():
        assert function.__name__ == name and function.__module__.endswith(f".passes.{name}")
        summary, blank, *_ = inspect.getdoc(function).splitlines()
        assert summary.endswith(".") and blank == "", name


@pytest.mark.parametrize("name", list(PASSES))
def test_the_example_of_each_pass_is_what_the_pass_does(name):
    before, after = example_of(PASSES[name])
    observed = [line for line in before if line.startswith("# observed:")]
    outputs = [int(n) for n in re.findall(r"\$(\d+)", observed[0])] if observed else None
    others = [other for other in PASSES if other != name]
    graph = compile_plan("\n".join(before), CATALOGUE, disabled_passes=others, outputs=outputs)
    assert example_text(graph) == [re.sub(r"\s+#", "  #", line) for line in after]
    assert example_text(graph) != example_text(compile_plan("\n".join(before), CATALOGUE, optimize=False))


def test_the_example_reader_splits_the_columns_at_the_arrow():
    def sample():
        """Sample.

        Example:
            1. search("a")            1. search("a")
            2. search("a")     ->     # $2 is $1
            # observed: $1
        """

    assert example_of(sample) == (['1. search("a")', '2. search("a")', "# observed: $1"],
                                  ['1. search("a")', "# $2 is $1"])
