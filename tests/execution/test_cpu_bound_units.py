"""CPU-bound tools on real worker processes: each blocking call's CPU time is measured where it ran,
and a tool that computes stops being grouped with its siblings in the plans that follow."""

from __future__ import annotations

import pickle
import sys
import time

import cloudpickle

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.dataflow import run_call
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.execution.tool_calls import Call
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.tools import Toolset
from llmcompiler_provider.tools.registry import CPU_BOUND_SHARE

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # worker processes cannot import tests/

CALL_S = 0.02


def spin(seconds: float) -> None:
    """Pure Python holding the interpreter lock until this thread has computed ``seconds``."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass


def make_tools() -> Toolset:
    """A fresh toolset (each test learns from scratch): two short tools, neither declaring anything."""
    tools = Toolset("cpu-tests")

    @tools.tool(cost=CALL_S)
    def compute(label: str) -> str:
        spin(CALL_S)
        return f"{label} computed"

    @tools.tool(cost=CALL_S)
    def pause(label: str) -> str:
        time.sleep(CALL_S)
        return f"{label} waited"

    return tools


def fan_out(tool: str, count: int = 4) -> str:
    return "\n".join(f'{i}. {tool}("call {i}")' for i in range(1, count + 1)) + f"\n{count + 1}. join()"


def dispatch(client, tools: Toolset, plan: str):
    graph = compile_plan(plan, tools.signatures())
    dispatcher = Dispatcher(client, tools, "cpu-bound")
    dispatcher.submit_graph(graph)
    observations = dispatcher.wait(timeout=120)
    assert all(obs.ok for obs in observations.values()), observations
    return graph, observations


def test_a_blocking_call_measures_its_cpu_time_on_the_thread_that_ran_it():
    def compute() -> str:
        spin(CALL_S)
        return "done"

    def pause() -> str:
        time.sleep(CALL_S)
        return "done"

    async def fetch() -> str:
        return "done"

    computed = run_call(Call(1, "compute", compute), {}, "local")[1]
    assert computed.cpu >= CALL_S and computed.cpu_window >= computed.cpu
    timed = run_call(Call(1, "compute", compute, timeout=30.0), {}, "local")[1]  # on a timeout thread
    assert timed.cpu >= CALL_S
    waited = run_call(Call(1, "pause", pause), {}, "local")[1]
    assert waited.cpu < CALL_S / 2 and waited.cpu_window > CALL_S / 2
    assert run_call(Call(1, "fetch", fetch), {}, "local")[1].cpu is None  # a coroutine's thread is shared
    copy = pickle.loads(pickle.dumps(computed))
    assert (copy.cpu, copy.cpu_window, copy.value) == (computed.cpu, computed.cpu_window, "done")


def test_a_short_tool_that_computes_is_grouped_until_its_calls_were_measured(process_client):
    tools = make_tools()
    first, observations = dispatch(process_client, tools, fan_out("compute"))
    assert first.units == [(1, 2, 3, 4)]  # short calls of an undeclared tool: one unit, one process
    for obs in observations.values():
        assert obs.cpu >= CALL_S and obs.cpu_window is not None
    # they took turns at one interpreter lock: wall time alone would make them look like waiting
    assert max(obs.stop - obs.start for obs in observations.values()) > 2 * CALL_S
    assert tools.cpu_share("compute") >= CPU_BOUND_SHARE and tools.signatures()["compute"].cpu_bound

    second, observations = dispatch(process_client, tools, fan_out("compute"))
    assert second.units == [(1,), (2,), (3,), (4,)]  # Dask spreads them over the worker processes
    assert [observations[i].value for i in range(1, 5)] == [f"call {i} computed" for i in range(1, 5)]


def test_a_short_tool_that_waits_stays_grouped(process_client):
    tools = make_tools()
    for _ in range(2):
        graph, observations = dispatch(process_client, tools, fan_out("pause"))
        assert graph.units == [(1, 2, 3, 4)]
    assert tools.cpu_share("pause") < CPU_BOUND_SHARE and not tools.signatures()["pause"].cpu_bound


def test_later_runs_with_the_same_toolset_keep_computing_calls_apart(process_client):
    # what a batch of runs in one process does: each run's dispatcher hands the toolset its measurements
    tools = make_tools()
    config = RunConfig(toolset=tools, max_replans=0, store_url="none", run_timeout=120)
    units = []
    for _ in range(2):
        result = LLMCompilerRun(plan=fan_out("compute"), config=config, client=process_client).execute()
        assert result.status == "success", result.error
        units.append(len({task.unit for task in result.plans[-1].tasks}))
    assert units == [1, 4]
