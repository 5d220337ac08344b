"""Each optimizer pass alone, on graphs compiled without optimization."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan import PASSES, Interp, Ref, TaskGraph, compile_plan, optimize
from llmcompiler_provider.plan.passes import batching, cse, dce, priorities
from llmcompiler_provider.plan.signature import Param, ToolSignature


def graph_of(text: str, catalogue=CATALOGUE, **options) -> TaskGraph:
    return compile_plan(text, catalogue, optimize=False, **options)


def snapshot(graph: TaskGraph):
    return [(t.id, t.tool, t.args, t.kwargs, t.priority, t.batch_of) for t in graph], dict(graph.aliases)


def assert_dependency_order(graph: TaskGraph) -> None:
    """Every task comes after the tasks that compute its inputs."""
    seen: set[int] = set()
    for task in graph:
        for dep in task.deps:
            source = graph.resolve(dep)
            if source in graph.tasks:
                assert source in seen, f"task {task.id} comes before its input {dep} (task {source})"
        seen.add(task.id)


def test_the_passes_run_in_a_fixed_documented_order():
    assert list(PASSES)[:4] == ["cse", "dce", "batching", "priorities"]


# cse -------------------------------------------------------------------------------------
def test_cse_runs_identical_pure_calls_once_and_rewrites_references():
    graph = graph_of(
        '1. search("a")\n2. search(query="a")\n3. math("x $2", [$2, {"k": $1}])\n4. math("x $1", [$1, {"k": $1}])'
    )
    before = snapshot(graph)
    result = cse.cse(graph, CATALOGUE)
    assert snapshot(graph) == before  # the input graph is untouched
    assert list(result.tasks) == [1, 3]
    assert result.aliases == {2: 1, 4: 3}
    assert result.tasks[3].kwargs == {"question": Interp(("x ", Ref(1))), "context": [Ref(1), {"k": Ref(1)}]}
    assert result.tasks[3].deps == {1}
    assert result.resolve(4) == 3


@pytest.mark.parametrize(
    "first, second",
    [("1", "1.0"), ("1", "true"), ("0.0", "-0.0"), ('"1"', "1"), ("[1]", "[1.0]"), ('{"a": 1}', '{"a": true}'),
     ('"$1"', "$1"), ('"a"', '"b"')],
)
def test_cse_keeps_calls_whose_arguments_differ_in_type_or_value(first, second):
    graph = graph_of(f'1. search("x")\n2. math({first})\n3. math({second})')
    assert list(cse.cse(graph, CATALOGUE).tasks) == [1, 2, 3]


def test_cse_never_merges_tools_with_side_effects():
    graph = graph_of('1. notify("x")\n2. notify("x")')
    assert list(cse.cse(graph, CATALOGUE).tasks) == [1, 2]


# dce -------------------------------------------------------------------------------------
def test_dce_keeps_everything_when_every_result_is_observed():
    graph = graph_of('1. search("a")\n2. search("b")')
    assert dce.dce(graph, CATALOGUE) is graph


def test_dce_removes_pure_tasks_whose_results_reach_no_output():
    text = '1. search("a")\n2. search("b")\n3. math("q", [$1])\n4. llm("p", $2)\n5. notify("sent $2")\n6. search("c")'
    graph = graph_of(text, outputs=[3])
    result = dce.dce(graph, CATALOGUE)
    # 3 is observed (needs 1); 5 has side effects (needs 2); 4 and 6 reach nothing observed
    assert list(result.tasks) == [1, 2, 3, 5]
    assert list(graph.tasks) == [1, 2, 3, 4, 5, 6]


def test_dce_follows_cse_aliases_and_drops_aliases_of_removed_tasks():
    graph = graph_of('1. search("a")\n2. search("a")\n3. search("b")\n4. search("b")\n5. math($2)', outputs=[5])
    merged = cse.cse(graph, CATALOGUE)
    assert merged.aliases == {2: 1, 4: 3}
    result = dce.dce(merged, CATALOGUE)
    assert list(result.tasks) == [1, 5]
    assert result.aliases == {2: 1}


def test_passes_that_remove_tasks_remove_them_from_the_units_too():
    graph = graph_of('1. search("a")\n2. search("a")\n3. math($1)\n4. math("b")', outputs=[3])
    graph.units = [(1, 2), (3, 4)]
    merged = cse.cse(graph, CATALOGUE)
    assert merged.units == [(1,), (3, 4)]
    assert dce.dce(merged, CATALOGUE).units == [(1,), (3,)]
    assert batching.batching(graph_of('1. search("a")\n2. search("b")'), CATALOGUE).units is None


# priorities ------------------------------------------------------------------------------
def test_priorities_are_the_longest_cost_path_to_a_sink_in_milliseconds():
    # search 0.5 s, llm 2 s, math 0.01 s
    graph = graph_of('1. search("a")\n2. llm($1)\n3. math($2)\n4. search("b")\n5. math($4, [$1])')
    result = priorities.priorities(graph, CATALOGUE)
    assert {t.id: t.priority for t in result} == {1: 2510, 2: 2010, 3: 10, 4: 510, 5: 10}
    assert all(t.priority == 0 for t in graph)


def test_the_longest_chain_starts_first():
    graph = priorities.priorities(graph_of('1. search("short")\n2. search("long")\n3. llm($2)\n4. llm($3)'), CATALOGUE)
    roots = sorted((t for t in graph if not t.deps), key=lambda t: -t.priority)
    assert [t.id for t in roots] == [2, 1]


def test_priorities_ignore_absurd_cost_estimates():
    catalogue = {**CATALOGUE, "odd": ToolSignature("odd", (Param("x"),), cost=float("nan")),
                 "huge": ToolSignature("huge", (Param("x"),), cost=float("inf"))}
    graph = priorities.priorities(graph_of("1. odd(1)\n2. huge($1)", catalogue), catalogue)
    assert graph.tasks[2].priority == graph.tasks[1].priority > 0


# batching --------------------------------------------------------------------------------
def test_independent_calls_of_a_batchable_tool_merge_into_one_call():
    graph = graph_of('1. search("a")\n2. math("m")\n3. search(query="b")\n4. search("c")\n5. math($3, [$1, $4])')
    result = batching.batching(graph, CATALOGUE)
    batch = result.tasks[1]
    assert batch.batch_of == (1, 3, 4)
    assert batch.kwargs == {"calls": [{"query": "a"}, {"query": "b"}, {"query": "c"}]}
    assert result.aliases == {3: 1, 4: 1}
    assert set(result.tasks) == {1, 2, 5}
    # references still name the members: the executor splits the batch's results back
    assert result.tasks[5].deps == {1, 3, 4}
    assert {result.resolve(m) for m in (1, 3, 4)} == {1}
    assert_dependency_order(result)
    assert len(graph.tasks) == 5  # untouched


def test_calls_that_depend_on_each_other_are_not_batched():
    graph = graph_of('1. search("a")\n2. search("$1")\n3. search("b")')
    result = batching.batching(graph, CATALOGUE)
    assert result.tasks[1].batch_of == (1, 3)
    assert result.tasks[2].batch_of == ()
    assert_dependency_order(result)


def test_batches_of_two_tools_never_form_a_cycle():
    catalogue = {**CATALOGUE, "fetch": ToolSignature("fetch", (Param("url"),), batchable=True)}
    # 1 -> 2 and 3 -> 4: merging {1, 4} and {2, 3} (each pair independent) would make a cycle
    graph = graph_of('1. search("a")\n2. fetch($1)\n3. fetch("b")\n4. search($3)', catalogue)
    result = batching.batching(graph, catalogue)
    assert_dependency_order(result)
    assert all(not t.batch_of for t in result)


def test_tools_that_are_not_batchable_or_get_extra_positional_values_are_not_batched():
    catalogue = {**CATALOGUE, "concat": replace(CATALOGUE["concat"], batchable=True)}
    graph = graph_of('1. math("a")\n2. math("b")\n3. concat("-", "x")\n4. concat("-", "y")', catalogue)
    assert batching.batching(graph, catalogue) is graph


def test_a_batch_takes_the_highest_priority_of_its_members():
    graph = priorities.priorities(graph_of('1. search("a")\n2. search("b")\n3. llm($2)'), CATALOGUE)
    result = batching.batching(graph, CATALOGUE)
    assert result.tasks[1].priority == graph.tasks[2].priority


@pytest.mark.parametrize("seed", range(30))
def test_batching_random_graphs_keeps_them_acyclic_and_batches_only_independent_calls(seed):
    rng = random.Random(seed)
    catalogue = {
        **CATALOGUE,
        "fetch": ToolSignature("fetch", (Param("url"), Param("extra", required=False)), batchable=True),
    }
    lines = []
    for i in range(1, 60):
        tool = rng.choice(["search", "fetch", "math"])
        refs = [f"${j}" for j in rng.sample(range(1, i), min(i - 1, rng.choice([0, 0, 1, 2])))]
        argument = f'"{tool} {i} ' + " ".join(refs) + '"'
        lines.append(f"{i}. {tool}({argument})")
    graph = graph_of("\n".join(lines), catalogue)
    result = batching.batching(graph, catalogue)
    assert_dependency_order(result)
    reach = {t.id: set() for t in graph}  # every task's transitive inputs, in the original graph
    for task in graph:
        for dep in task.deps:
            reach[task.id] |= {dep} | reach[dep]
    for task in result:
        for a in task.batch_of:
            for b in task.batch_of:
                assert a not in reach[b], f"batched {a} and {b}, but {b} needs {a}"
    members = [m for t in result for m in (t.batch_of or (t.id,))]
    assert sorted(members) == sorted(graph.tasks)


# the optimizer ---------------------------------------------------------------------------
def test_optimize_runs_every_pass_but_the_disabled_ones():
    text = '1. search("a")\n2. search("a")\n3. search("b")\n4. llm($1, [$3])'
    graph = graph_of(text)
    everything = optimize(graph, CATALOGUE)
    assert everything.aliases == {2: 1, 3: 1} and everything.tasks[1].batch_of == (1, 3)
    assert everything.tasks[1].priority == 2500
    no_batching = optimize(graph, CATALOGUE, disabled=["batching", "priorities"])
    assert no_batching.aliases == {2: 1} and all(t.priority == 0 and not t.batch_of for t in no_batching)
    assert compile_plan(text, CATALOGUE, disabled_passes=["cse"]).aliases == {2: 1, 3: 1}
    assert compile_plan(text, CATALOGUE, disabled_passes=["cse"]).tasks[1].batch_of == (1, 2, 3)


def test_an_unknown_pass_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer pass 'fold': choose from cse, dce, batching, priorities"):
        compile_plan('1. search("a")', CATALOGUE, disabled_passes=["fold"])


def test_outputs_must_name_tasks_of_the_plan():
    with pytest.raises(ValueError, match="outputs name tasks the plan does not have: 7"):
        compile_plan('1. search("a")', CATALOGUE, outputs=[1, 7])
