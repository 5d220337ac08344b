"""The text forms of a run that the task log, `llmcompiler run` and `llmcompiler runs show` print."""

from __future__ import annotations

from llmcompiler_provider.results import PlanIteration, RunResult, TaskRecord
from llmcompiler_provider.run_text import plans_text, task_table


def test_plans_text_shows_each_plan_with_its_repairs_and_errors():
    result = RunResult(plans=[
        PlanIteration(iteration=0, text="1. serch(x)", compile_errors=["<planner>:1:4: error: unknown tool 'serch'"]),
        PlanIteration(iteration=1, text="1. search(Nile length)\njoin()", thought="look it up",
                      warnings=["<planner>:1:11: warning: unquoted text read as one string"]),
    ])
    assert plans_text(result).splitlines() == [
        "--- plan 0",
        "1. serch(x)",
        "  error: <planner>:1:4: error: unknown tool 'serch'",
        "--- plan 1 (thought: look it up)",
        "1. search(Nile length)",
        "join()",
        "  <planner>:1:11: warning: unquoted text read as one string",
    ]


def test_the_task_table_has_a_row_per_task_with_its_offset_and_outcome():
    t0 = 1_750_000_000.0
    result = RunResult(started=t0, plans=[PlanIteration(iteration=0, text="", tasks=[
        TaskRecord(id=1, tool="search", status="success", start=t0 + 0.5, stop=t0 + 1.75, attempts=1,
                   worker="tcp://127.0.0.1:1", result="6650 km"),
        TaskRecord(id=2, tool="math", deps=[1], status="failed", attempts=2, error="ValueError: bad"),
    ])])
    header, first, second = task_table(result).splitlines()
    assert header.split()[:4] == ["IT", "ID", "TOOL", "STATUS"]
    assert first.split() == ["0", "1", "search", "success", "-", "tcp://127.0.0.1:1", "0.500s", "1.250s", "1",
                             "6650", "km"]
    assert second.split()[:9] == ["0", "2", "math", "failed", "$1", "-", "-", "-", "2"]
    assert second.endswith("ValueError: bad")
