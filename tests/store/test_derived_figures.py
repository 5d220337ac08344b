"""The derived figures (llmcompiler_provider.figures) on runs whose timings are known."""

from __future__ import annotations

import json

import pytest

from llmcompiler_provider.figures import (
    Interval,
    compute_figures,
    critical_path_s,
    execution_wall_s,
    figures_for_plans,
    sum_task_s,
)
from llmcompiler_provider.results import PlanIteration, RunResult


def run(*intervals: tuple) -> list[Interval]:
    """Intervals from (key, start, stop, deps[, gpu_slots]) tuples."""
    return [Interval(key, start, stop, tuple(deps), *rest) for key, start, stop, deps, *rest in intervals]


def test_fan_out_of_four_one_second_tasks_on_two_workers():
    tasks = run((1, 0, 1, ()), (2, 0, 1, ()), (3, 1, 2, ()), (4, 1, 2, ()))
    figures = compute_figures([tasks])
    assert figures.sum_task_s == 4
    assert figures.execution_wall_s == 2
    assert figures.critical_path_s == 1
    assert figures.speedup == 2
    assert figures.ideal_speedup == 4
    assert figures.efficiency == 0.5
    assert figures.gpu_slot_utilization is None


def test_a_chain_has_no_speedup_and_full_efficiency():
    figures = compute_figures([run((1, 0, 1, ()), (2, 1, 3, (1,)), (3, 3, 4, (2,)))])
    assert (figures.sum_task_s, figures.execution_wall_s, figures.critical_path_s) == (4, 4, 4)
    assert (figures.speedup, figures.efficiency) == (1, 1)


def test_critical_path_follows_the_longest_branch_of_a_diamond():
    tasks = run((1, 0, 1, ()), (2, 1, 3, (1,)), (3, 1, 2, (1,)), (4, 3, 4, (2, 3)))
    assert critical_path_s(tasks) == 4  # 1 -> 2 -> 4
    assert sum_task_s(tasks) == 5
    figures = compute_figures([tasks])
    assert figures.speedup == pytest.approx(1.25)
    assert figures.efficiency == pytest.approx(1.0)


def test_critical_path_uses_recorded_durations_not_start_times():
    # task 2 waited 5 s in the queue after task 1: the path counts only running time
    assert critical_path_s(run((1, 0, 1, ()), (2, 6, 8, (1,)))) == 3


def test_iterations_add_up_without_the_gap_between_them():
    first = run((1, 0, 1, ()), (2, 0, 1, ()))
    second = run((1, 5, 6, ()))  # ids restart in a replan; the joiner ran from 1 s to 5 s
    figures = compute_figures([first, second])
    assert figures.execution_wall_s == 2
    assert figures.critical_path_s == 2
    assert figures.sum_task_s == 3
    assert figures.speedup == 1.5


def test_gpu_slot_utilization_is_busy_slot_seconds_over_available_ones():
    tasks = run((1, 0, 1, (), 1.0), (2, 1, 2, (), 1.0), (3, 0, 2, (), 0.0))
    assert compute_figures([tasks], gpu_slots=1).gpu_slot_utilization == 1.0
    assert compute_figures([tasks], gpu_slots=2).gpu_slot_utilization == 0.5


def test_tasks_that_never_ran_count_for_nothing():
    tasks = run((1, 0, 2, ()), (2, None, None, (1,)), (3, 1, None, ()))
    assert sum_task_s(tasks) == 2
    assert execution_wall_s(tasks) == 2
    assert critical_path_s(tasks) == 2


def test_an_empty_run_has_zero_figures():
    figures = compute_figures([])
    assert figures.sum_task_s == figures.execution_wall_s == figures.critical_path_s == 0
    assert figures.speedup == figures.efficiency == 0


def test_dependencies_outside_the_set_are_ignored():
    assert critical_path_s(run((2, 0, 1, (99,)))) == 1


def test_a_dependency_cycle_is_reported():
    with pytest.raises(ValueError, match="cycle"):
        critical_path_s(run((1, 0, 1, (2,)), (2, 1, 2, (1,))))


def test_a_long_chain_does_not_hit_the_recursion_limit():
    tasks = [Interval(k, k, k + 1, (k - 1,) if k else ()) for k in range(5000)]
    assert critical_path_s(tasks) == 5000


def test_figures_for_plans_of_a_run(make_task):
    tasks = [make_task(1, 0, 1), make_task(2, 0, 1), make_task(3, 1, 2), make_task(4, 1, 2, resources={"GPU": 1})]
    result = RunResult(plans=[PlanIteration(iteration=0, text="", tasks=tasks)])
    figures = figures_for_plans(result.plans, gpu_slots=1)
    assert (figures.critical_path_s, figures.speedup) == (1, 2)
    assert figures.gpu_slot_utilization == 0.5


def test_a_dump_of_a_run_loads_back_with_the_same_counts_and_tokens(make_result):
    result = make_result()
    loaded = RunResult.model_validate_json(json.dumps(result.to_dict()))
    assert loaded == result
    assert (loaded.counts.tasks, loaded.tokens.prompt, loaded.tokens.completion) == (4, 320, 50)


def test_a_plan_that_did_not_compile_is_a_re_ask_not_a_replan_wherever_it_is_counted(sqlite_url):
    from llmcompiler_provider.store import get_run, save_run

    failed = PlanIteration(iteration=0, text="1. serch()", tasks=[], compile_errors=["<planner>:1:4: error: ..."])
    first, second = (PlanIteration(iteration=i, text="1. join()", tasks=[]) for i in (1, 2))
    for plans, expected in (([failed, first], 0), ([failed, first, second], 1)):
        result = RunResult(plans=plans, status="success")
        save_run(result, sqlite_url)
        counted = (result.counts.replans, result.to_dict()["counts"]["replans"], get_run(result.run_id, sqlite_url).counts.replans)
        assert counted == (expected,) * 3
