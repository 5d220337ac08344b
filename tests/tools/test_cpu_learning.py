"""A Toolset learns which of its tools compute from the CPU time their calls measured
(``Toolset.observe_cpu``), and marks them ``cpu_bound`` for the plans that follow."""

from __future__ import annotations

import pickle
import threading

import cloudpickle
import pytest

from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.tools import Toolset
from llmcompiler_provider.tools.registry import CPU_BOUND_MIN_CALLS, CPU_WINDOW


def make_tools() -> Toolset:
    tools = Toolset("t")

    @tools.tool(cost=0.02)
    def parse(text: str) -> str:
        return text

    @tools.tool(cost=0.02, blocking_io=True)
    def download(url: str) -> str:
        return url

    @tools.tool(cost=0.02)
    async def fetch(url: str) -> str:
        return url

    return tools


def computing(tool: str, calls: int = CPU_BOUND_MIN_CALLS) -> list[tuple[str, float, float]]:
    return [(tool, 0.018, 0.02)] * calls  # 18 ms of CPU in 20 ms


def waiting(tool: str, calls: int = CPU_BOUND_MIN_CALLS) -> list[tuple[str, float, float]]:
    return [(tool, 0.001, 0.02)] * calls  # 1 ms of CPU in 20 ms


def units(tools: Toolset, tool: str, count: int = 4) -> list[tuple[int, ...]]:
    text = "\n".join(f'{i}. {tool}("{i}")' for i in range(1, count + 1))
    return compile_plan(text, tools.signatures()).units


def test_a_tool_whose_calls_computed_is_cpu_bound_in_the_next_plans():
    tools = make_tools()
    assert units(tools, "parse") == [(1, 2, 3, 4)]
    tools.observe_cpu(computing("parse"))
    assert tools.signatures()["parse"].cpu_bound and tools.cpu_share("parse") == pytest.approx(0.9)
    assert units(tools, "parse") == [(1,), (2,), (3,), (4,)]
    assert not tools["parse"].signature.cpu_bound  # the registered signature is left as declared


def test_it_takes_a_few_calls():
    tools = make_tools()
    tools.observe_cpu(computing("parse", CPU_BOUND_MIN_CALLS - 1))
    assert not tools.signatures()["parse"].cpu_bound
    tools.observe_cpu(computing("parse", 1))
    assert tools.signatures()["parse"].cpu_bound


def test_calls_that_wait_are_not_cpu_bound():
    tools = make_tools()
    tools.observe_cpu(waiting("parse", CPU_WINDOW))
    assert not tools.signatures()["parse"].cpu_bound and tools.cpu_share("parse") == pytest.approx(0.05)


def test_tiny_calls_that_compute_are_still_grouped():
    # 0.1 ms of Python each: together in one unit they cost less than a Dask task each would
    tools = make_tools()
    tools.observe_cpu([("parse", 0.0001, 0.0001)] * CPU_WINDOW)
    assert tools.cpu_share("parse") == 1.0 and not tools.signatures()["parse"].cpu_bound


def test_the_share_is_over_the_recent_calls_so_a_tool_can_stop_being_cpu_bound():
    tools = make_tools()
    tools.observe_cpu(computing("parse", CPU_WINDOW))
    tools.observe_cpu(waiting("parse", CPU_WINDOW * 3 // 4))  # time-weighted over the last 32
    assert tools.signatures()["parse"].cpu_bound and tools.cpu_share("parse") == pytest.approx(0.2625)
    tools.observe_cpu(waiting("parse", CPU_WINDOW // 4))
    assert not tools.signatures()["parse"].cpu_bound


def test_a_measurement_outweighs_a_blocking_io_declaration():
    tools = make_tools()
    assert units(tools, "download") == [(1, 2, 3, 4)]
    tools.observe_cpu(computing("download"))
    signature = tools.signatures()["download"]
    assert signature.cpu_bound and not signature.blocking_io
    assert units(tools, "download") == [(1,), (2,), (3,), (4,)]


def test_coroutine_tools_and_unknown_names_are_never_marked():
    tools = make_tools()
    tools.observe_cpu(computing("fetch") + computing("gone"))
    assert not tools.signatures()["fetch"].cpu_bound and "gone" not in tools.signatures()


def test_runs_sharing_a_toolset_may_report_at_once():
    tools = make_tools()
    barrier = threading.Barrier(8)

    def report() -> None:
        barrier.wait()
        for _ in range(200):
            tools.observe_cpu(computing("parse", 1) + waiting("download", 1))
            tools.signatures()

    threads = [threading.Thread(target=report) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tools.signatures()["parse"].cpu_bound and not tools.signatures()["download"].cpu_bound


def test_a_toolset_that_learned_still_pickles_and_keeps_what_it_learned():
    tools = make_tools()
    tools.observe_cpu(computing("parse"))
    copy = pickle.loads(cloudpickle.dumps(tools))  # as a remote run carries it (tools by value)
    assert copy.signatures()["parse"].cpu_bound
    copy.observe_cpu(waiting("parse", CPU_WINDOW))  # its own lock, its own measurements
    assert not copy.signatures()["parse"].cpu_bound and tools.signatures()["parse"].cpu_bound
