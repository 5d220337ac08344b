"""The ``blocking_io`` hint: how a tool declares it, and which calls the fusion pass groups because of it."""

from __future__ import annotations

import pytest

from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.plan.passes import fusion
from llmcompiler_provider.plan.signature import Param, ToolSignature
from llmcompiler_provider.tools import Toolset

PARAMS = (Param("label"), Param("after", required=False))
CATALOGUE = {
    "download": ToolSignature("download", PARAMS, cost=0.1, blocking_io=True),  # like requests.get
    "fetch": ToolSignature("fetch", PARAMS, cost=0.1, is_async=True),  # the same wait as a coroutine
    "crunch": ToolSignature("crunch", PARAMS, cost=0.1),  # long, blocking, not declared: may be computing
    "gpu_download": ToolSignature("gpu_download", PARAMS, cost=0.1, blocking_io=True, resources={"GPU": 1}),
}


def units_of(lines: list[str]) -> list[tuple[int, ...]]:
    text = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    units = fusion.fusion(compile_plan(text, CATALOGUE, optimize=False), CATALOGUE).units
    assert units is not None
    return units


def test_a_fan_out_of_blocking_io_calls_is_one_unit():
    count = 64
    assert units_of([f'download("{i}")' for i in range(count)]) == [tuple(range(1, count + 1))]


def test_long_blocking_calls_not_declared_blocking_io_stay_apart():
    assert units_of(['crunch("a")', 'crunch("b")', 'crunch("c")']) == [(1,), (2,), (3,)]


def test_blocking_io_calls_with_resources_stay_apart_so_each_holds_its_own_slot():
    assert units_of(['gpu_download("a")', 'gpu_download("b")', 'gpu_download("c")']) == [(1,), (2,), (3,)]


def test_units_of_blocking_io_calls_hold_at_most_the_thread_limit():
    count = 2 * fusion.MAX_THREAD_GROUP + 1
    units = units_of([f'download("{i}")' for i in range(count)])
    assert [len(u) for u in units] == [fusion.MAX_THREAD_GROUP, fusion.MAX_THREAD_GROUP, 1]


def test_coroutine_and_blocking_io_siblings_form_separate_units():
    # a unit of coroutine calls alone runs on the worker's event loop; one blocking call would need a thread
    lines = ['fetch("a")', 'download("b")', 'fetch("c")', 'download("d")']
    assert units_of(lines) == [(1, 3), (2, 4)]


def test_blocking_io_siblings_after_a_shared_input_are_grouped_and_fused_with_it():
    lines = ['crunch("a")'] + [f'download("{i}", [$1])' for i in range(3)]
    assert units_of(lines) == [(1, 2, 3, 4)]  # one consumer unit, waiting for nothing else: a chain


def test_a_batched_call_of_a_blocking_io_tool_is_not_grouped_with_blocking_io_siblings():
    catalogue = {**CATALOGUE, "bulk": ToolSignature("bulk", PARAMS, cost=0.1, batchable=True, blocking_io=True)}
    graph = compile_plan('1. bulk("a")\n2. bulk("b")\n3. download("c")\n4. download("d")', catalogue)
    assert graph.tasks[1].batch_of == (1, 2)  # one call for both members already
    assert graph.units == [(1,), (3, 4)]


def test_the_toolset_records_the_hint():
    tools = Toolset("t")

    @tools.tool(cost=0.3, blocking_io=True)
    def query(sql: str) -> str:
        return sql

    @tools.tool
    def plain(text: str) -> str:
        return text

    signatures = tools.signatures()
    assert signatures["query"].blocking_io and not signatures["query"].is_async
    assert not signatures["plain"].blocking_io


def test_blocking_io_on_a_coroutine_function_is_refused_with_the_tools_name():
    async def poll(url: str) -> str:
        return url

    with pytest.raises(ValueError, match="'poll'.*coroutine"):
        Toolset("t").tool(poll, blocking_io=True)
    with pytest.raises(ValueError, match="'poll'.*coroutine"):
        ToolSignature("poll", is_async=True, blocking_io=True)
