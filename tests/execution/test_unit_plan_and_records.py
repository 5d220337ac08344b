"""Planning units and building records need no Dask client: a plan's units become calls with their
upstream keys, and observations become per-task records (aliases, pending, cancelled, reschedules)."""

from __future__ import annotations

import pytest
from exec_tools import tools

from llmcompiler_provider.execution.records import count_reschedules, task_records
from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.execution.unit_plan import UnitPlan, graph_units, unit_key
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.plan.ir import Ref

PLAN = '1. echo("a")\n2. echo("a")\n3. echo("$2 b")\n4. sleep(0.1)\n5. join()'


def planned(text: str = PLAN):
    graph = compile_plan(text, tools.signatures())
    plan = UnitPlan(tools)
    for tasks in graph_units(graph):
        calls, upstream = plan.calls(tasks, graph)
        plan.add(unit_key("run", "att", 0, tasks), calls, tasks)
    return graph, plan


def test_units_become_calls_that_read_the_observation_a_duplicate_stands_for():
    graph = compile_plan('1. echo("a")\n2. echo("a")\n3. sleep(0.1)\n4. echo("$2 $3")\n5. join()',
                         tools.signatures(), disabled_passes=["fusion"])
    assert graph.aliases == {2: 1}
    plan = UnitPlan(tools)
    keys = {}
    for tasks in graph_units(graph)[:-1]:
        calls, upstream = plan.calls(tasks, graph)
        keys[tasks[0].id] = unit_key("run", "att", 0, tasks)
        plan.add(keys[tasks[0].id], calls, tasks)
    [call], upstream = plan.calls([graph.tasks[4]], graph)
    assert call.deps == frozenset({1, 3}) and upstream == sorted([keys[1], keys[3]])
    assert Ref(1) in call.kwargs["text"].parts and Ref(2) not in call.kwargs["text"].parts
    assert plan.producer == {1: keys[1], 3: keys[3]}


def test_a_unit_whose_input_was_never_planned_is_refused():
    graph = compile_plan('1. echo("a")\n2. echo("$1")\n3. join()', tools.signatures(),
                         disabled_passes=["fusion"])
    with pytest.raises(ValueError, match=r"depends on \$1, which was never dispatched"):
        UnitPlan(tools).calls([graph.tasks[2]], graph)


def test_records_follow_the_plan_and_say_what_became_of_each_task():
    graph, plan = planned()
    observations = {1: Observation(value="a", start=1.0, stop=2.0, worker="w", attempts=1),
                    3: Observation(status="failed", error="no", attempts=2)}
    records = {r.id: r for r in task_records(observations, graph, producer=plan.producer, queued={1: 0.5})}
    assert sorted(records) == [1, 2, 3, 4]
    assert records[1].status == "success" and records[1].result == "a" and records[1].queued == 0.5
    assert records[2].result == "(same as $1) a"  # a CSE duplicate: its original's observation and unit
    assert records[2].unit == plan.producer[1] and records[2].queued == 0.5
    assert records[3].status == "failed" and records[3].error == "no" and records[3].result is None
    assert records[4].status == "cancelled"  # dispatched, no observation
    pending = task_records({}, graph, producer={}, queued={})
    assert {r.status for r in pending} == {"pending"} and all(r.unit is None for r in pending)


def test_reschedules_count_into_the_attempts_of_all_but_pending_tasks():
    graph, plan = planned()
    records = task_records({1: Observation(value="a", attempts=1)}, graph, producer=plan.producer, queued={})
    count_reschedules(records, {plan.producer[1]: 2, "other": 5})
    by_id = {r.id: r for r in records}
    assert by_id[1].attempts == 3 and by_id[2].attempts == 3  # the duplicate shares its unit
    records = task_records({}, graph, producer={}, queued={})
    count_reschedules(records, {plan.producer[1]: 2})
    assert all(r.attempts == 0 for r in records)
