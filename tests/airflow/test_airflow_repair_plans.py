"""``repair_plans`` (on by default) reaches the run's settings: it governs the planner's plans."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from llmcompiler_provider.execution.cluster import ClusterOptions
from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator


@pytest.mark.parametrize(("given", "expected"), [({}, True), ({"repair_plans": False}, False)])
def test_repair_plans_is_on_by_default_and_reaches_the_run_config(given, expected):
    operator = LLMCompilerOperator(task_id="ask", prompt="hi", **given)
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="ask", map_index=-1, try_number=1)
    assert operator._config({"ti": ti}, "sqlite://", ClusterOptions()).repair_plans is expected
