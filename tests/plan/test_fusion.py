"""The fusion pass alone: which calls share an execution unit (one Dask task), and which never do."""

from __future__ import annotations

import random

import pytest

from llmcompiler_provider.plan import TaskGraph, compile_plan
from llmcompiler_provider.plan.passes import fusion
from llmcompiler_provider.plan.signature import Param, ToolSignature

PARAMS = (Param("label"), Param("after", required=False))
CATALOGUE = {
    "fetch": ToolSignature("fetch", PARAMS, cost=0.1, is_async=True),  # a coroutine tool
    "slow_fetch": ToolSignature("slow_fetch", PARAMS, cost=1.0, is_async=True),
    "lookup": ToolSignature("lookup", PARAMS, cost=0.01),  # short and blocking
    "crunch": ToolSignature("crunch", PARAMS, cost=0.2),  # long and blocking
    "gpu": ToolSignature("gpu", PARAMS, cost=0.5, resources={"GPU": 1}),
    "search": ToolSignature("search", (Param("query"),), cost=0.01, batchable=True),
}


def graph_of(lines: list[str]) -> TaskGraph:
    text = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    return compile_plan(text, CATALOGUE, optimize=False)


def units_of(lines: list[str]) -> list[tuple[int, ...]]:
    units = fusion.fusion(graph_of(lines), CATALOGUE).units
    assert units is not None
    return units


def assert_partition_and_acyclic(graph: TaskGraph) -> None:
    """Every task is in exactly one unit, and units only read from units listed before them."""
    assert graph.units is not None
    unit_of = {task_id: i for i, unit in enumerate(graph.units) for task_id in unit}
    assert sorted(unit_of) == sorted(graph.tasks) and sum(map(len, graph.units)) == len(graph.tasks)
    for task in graph.tasks.values():
        for dep in task.deps:
            source = graph.resolve(dep)
            if source in graph.tasks:
                assert unit_of[source] <= unit_of[task.id], f"task {task.id} reads a later unit"


def test_coroutine_calls_that_need_the_same_inputs_share_one_unit():
    assert units_of(['fetch("a")', 'fetch("b")', 'fetch("c")']) == [(1, 2, 3)]


def test_long_blocking_calls_stay_apart_so_worker_processes_run_them_in_parallel():
    assert units_of(['crunch("a")', 'crunch("b")', 'crunch("c")']) == [(1,), (2,), (3,)]


def test_short_blocking_calls_share_units_up_to_the_work_budget():
    count = 25
    units = units_of([f'lookup("{i}")' for i in range(count)])
    per_unit = int(fusion.SHORT_BUDGET_S / 0.01 + 1e-9)
    assert [len(u) for u in units] == [per_unit, per_unit, count - 2 * per_unit]


def test_gpu_calls_never_share_a_unit_with_a_sibling():
    assert units_of(['gpu("a")', 'gpu("b")']) == [(1,), (2,)]


def test_a_chain_of_gpu_calls_runs_as_one_unit_that_keeps_its_slot():
    assert units_of(['gpu("a")', 'gpu("b", [$1])', 'gpu("c", [$2])']) == [(1, 2, 3)]


def test_a_chain_does_not_fuse_across_different_resources():
    assert units_of(['fetch("a")', 'gpu("b", [$1])', 'fetch("c", [$2])']) == [(1,), (2,), (3,)]


def test_siblings_and_the_call_that_reads_them_all_become_one_unit():
    lines = ['fetch("a")', 'fetch("b")', 'fetch("c")', 'lookup("sum", [$1, $2, $3])']
    assert units_of(lines) == [(1, 2, 3, 4)]


def test_layers_that_each_read_the_whole_previous_layer_fuse_into_one_unit():
    lines = ['fetch("a")', 'fetch("b")', 'fetch("c", [$1, $2])', 'fetch("d", [$1, $2])', 'fetch("e", [$3, $4])']
    assert units_of(lines) == [(1, 2, 3, 4, 5)]


def test_a_unit_read_by_two_others_stays_apart_so_neither_waits_for_the_other():
    lines = ['crunch("a")', 'crunch("b", [$1])', 'crunch("c", [$1])']
    assert units_of(lines) == [(1,), (2,), (3,)]


def test_a_call_with_an_input_its_producer_did_not_wait_for_is_not_fused_into_it():
    # 3 reads 1 and 2; fusing 1 into 3 would make 1 wait for 2
    lines = ['crunch("a")', 'gpu("b")', 'crunch("c", [$1, $2])']
    assert units_of(lines) == [(1,), (2,), (3,)]


def test_siblings_of_very_different_cost_stay_apart_so_quick_results_are_not_held_back():
    lines = ['fetch("a")', 'slow_fetch("b")', 'fetch("c")', 'crunch("x", [$1])', 'crunch("y", [$2])', 'crunch("z", [$3])']
    assert units_of(lines) == [(1, 3), (4,), (2, 5), (6,)]


def test_a_connected_part_made_only_of_coroutine_calls_is_one_unit():
    # 3 reads 1 only, 4 reads 2 only, 5 reads 3 and 4: no sibling or chain rule joins them all
    lines = ['fetch("a")', 'slow_fetch("b")', 'fetch("c", [$1])', 'fetch("d", [$2])', 'fetch("e", [$3, $4])']
    assert units_of(lines) == [(1, 2, 3, 4, 5)]


def test_a_coroutine_part_that_touches_a_blocking_call_is_split_by_the_other_rules():
    lines = ['fetch("a")', 'slow_fetch("b")', 'fetch("c", [$1])', 'crunch("d", [$2])', 'fetch("e", [$3, $4])']
    assert units_of(lines) == [(1, 3), (2, 4), (5,)]  # chains, but not one island


def test_separate_islands_share_a_unit_up_to_the_limit_and_are_never_split():
    assert units_of(['fetch("a")', 'fetch("b", [$1])', 'slow_fetch("c")', 'slow_fetch("d", [$3])']) == [(1, 2, 3, 4)]
    half = fusion.MAX_ISLAND // 2 + 1  # two islands that do not fit in one unit together
    lines = ['fetch("a")'] + [f'fetch("a{i}", [$1])' for i in range(half - 1)]
    lines += ['fetch("b")'] + [f'fetch("b{i}", [${half + 1}])' for i in range(half - 1)]
    assert [len(u) for u in units_of(lines)] == [half, half]


def test_an_island_larger_than_the_limit_is_split_by_the_other_rules():
    count = fusion.MAX_ISLAND + 1
    lines = ['fetch("root")'] + [f'fetch("{i}", [$1])' for i in range(count - 1)]
    units = units_of(lines)
    assert len(units) > 1 and sum(map(len, units)) == count


def test_references_to_batch_members_find_the_batch_unit():
    text = '1. search("a")\n2. search("b")\n3. crunch("x", [$2])\n4. crunch("y", [$1])'
    graph = compile_plan(text, CATALOGUE)  # batching, priorities, then fusion
    assert graph.tasks[1].batch_of == (1, 2)
    assert_partition_and_acyclic(graph)
    assert graph.units == [(1,), (3,), (4,)]


def test_the_pass_is_switchable_and_leaves_its_input_alone():
    text = '1. fetch("a")\n2. fetch("b")\n3. lookup("c", [$1, $2])'
    assert compile_plan(text, CATALOGUE, disabled_passes=["fusion"]).units is None
    assert compile_plan(text, CATALOGUE).units == [(1, 2, 3)]
    graph = graph_of(['fetch("a")', 'fetch("b")'])
    fusion.fusion(graph, CATALOGUE)
    assert graph.units is None


def test_unknown_tools_and_an_empty_graph_are_handled():
    assert fusion.fusion(TaskGraph(), CATALOGUE).units is None
    graph = graph_of(['fetch("a")', 'fetch("b")'])
    assert fusion.fusion(graph, {}).units == [(1,), (2,)]  # nothing known about the tools: nothing shared


@pytest.mark.parametrize("seed", range(40))
def test_random_plans_are_partitioned_into_acyclic_units(seed):
    rng = random.Random(seed)
    tools = list(CATALOGUE)
    tools.remove("search")
    lines = []
    for i in range(1, rng.randint(1, 60) + 1):
        inputs = rng.sample(range(1, i), min(i - 1, rng.randint(0, 3)))
        after = f", [{', '.join(f'${d}' for d in sorted(inputs))}]" if inputs else ""
        lines.append(f'{rng.choice(tools)}("{i}"{after})')
    graph = fusion.fusion(graph_of(lines), CATALOGUE)
    assert_partition_and_acyclic(graph)
    for unit in graph.units:
        gpu_calls = [t for t in unit if graph.tasks[t].resources]
        assert not gpu_calls or len(gpu_calls) == len(unit), "a GPU unit holds only GPU calls"
        if len(gpu_calls) > 1:  # GPU calls share a unit only along a chain
            for later in gpu_calls[1:]:
                assert graph.tasks[later].deps & set(unit)
