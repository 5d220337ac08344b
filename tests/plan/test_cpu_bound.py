"""The ``cpu_bound`` hint: how a tool declares it, and that the fusion pass never groups its calls
(siblings in one unit take turns at one worker's interpreter lock; apart, Dask spreads them)."""

from __future__ import annotations

import pytest

from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.plan.passes import fusion
from llmcompiler_provider.plan.signature import Param, ToolSignature
from llmcompiler_provider.tools import Toolset

PARAMS = (Param("label"), Param("after", required=False))
CATALOGUE = {
    "score": ToolSignature("score", PARAMS, cost=0.02, cpu_bound=True),  # 20 ms of pure Python
    "parse": ToolSignature("parse", PARAMS, cost=0.02),  # as short, not declared: grouped
    "fetch": ToolSignature("fetch", PARAMS, cost=0.02, is_async=True),
}


def units_of(lines: list[str], catalogue=CATALOGUE) -> list[tuple[int, ...]]:
    text = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    units = fusion.fusion(compile_plan(text, catalogue, optimize=False), catalogue).units
    assert units is not None
    return units


def test_short_cpu_bound_siblings_are_never_grouped():
    assert units_of([f'score("{i}")' for i in range(4)]) == [(1,), (2,), (3,), (4,)]


def test_the_same_short_calls_undeclared_are_grouped():
    # what the declaration changes (and what a tool that measured CPU-bound stops getting)
    assert units_of([f'parse("{i}")' for i in range(4)]) == [(1, 2, 3, 4)]


def test_cpu_bound_siblings_after_a_shared_input_stay_apart_from_each_other():
    lines = ['fetch("a")'] + [f'score("{i}", [$1])' for i in range(3)]
    assert units_of(lines) == [(1,), (2,), (3,), (4,)]


def test_a_cpu_bound_call_stays_apart_from_siblings_that_are_grouped():
    lines = ['parse("a")', 'score("b")', 'parse("c")', 'fetch("d")', 'fetch("e")']
    assert units_of(lines) == [(1, 3), (2,), (4, 5)]


def test_a_chain_of_cpu_bound_calls_is_one_unit():
    # each call waits for the one before: together they delay nothing, and save a Dask task per step
    assert units_of(['score("a")', 'score("b", [$1])', 'score("c", [$2])']) == [(1, 2, 3)]


def test_cpu_bound_siblings_feeding_one_consumer_stay_apart():
    # neither sibling's unit is the consumer's only input, so no chain fuses them together
    assert units_of(['score("a")', 'score("b")', 'parse("c", [$1, $2])']) == [(1,), (2,), (3,)]


def test_a_batched_cpu_bound_call_is_not_grouped_with_its_siblings():
    catalogue = {**CATALOGUE, "bulk": ToolSignature("bulk", PARAMS, cost=0.01, batchable=True, cpu_bound=True)}
    graph = compile_plan('1. bulk("a")\n2. bulk("b")\n3. parse("c")\n4. bulk("d", [$3])\n5. bulk("e", [$3])', catalogue)
    assert graph.tasks[1].batch_of == (1, 2) and graph.tasks[4].batch_of == (4, 5)
    assert graph.units == [(1,), (3, 4)]  # the second batch joins its only input's chain


def test_the_toolset_records_the_hint():
    tools = Toolset("t")

    @tools.tool(cost=0.02, cpu_bound=True)
    def rank(text: str) -> int:
        return len(text)

    @tools.tool
    def plain(text: str) -> str:
        return text

    signatures = tools.signatures()
    assert signatures["rank"].cpu_bound and not signatures["rank"].blocking_io
    assert not signatures["plain"].cpu_bound


def test_cpu_bound_on_a_coroutine_function_is_refused_with_the_tools_name():
    async def poll(url: str) -> str:
        return url

    with pytest.raises(ValueError, match="'poll'.*coroutine"):
        Toolset("t").tool(poll, cpu_bound=True)
    with pytest.raises(ValueError, match="'poll'.*coroutine"):
        ToolSignature("poll", is_async=True, cpu_bound=True)


def test_cpu_bound_and_blocking_io_together_are_refused():
    with pytest.raises(ValueError, match="'both'.*contradict"):
        Toolset("t").tool(lambda text: text, name="both", cpu_bound=True, blocking_io=True)
