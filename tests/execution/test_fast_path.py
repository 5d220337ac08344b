"""The latency work of execution/latency.py and execution/inbox.py, on real clusters: message
batching off where this project owns the cluster (and blocking-call threads started ahead), unit results sent ahead of their completion
message (and fetched as before when they are too large or do not pickle), and units that carry
their calls as cloudpickled bytes, so a tool module the workers cannot import still runs."""

from __future__ import annotations

import sys
import textwrap

import cloudpickle
import dask
import pytest
from distributed import wait
from exec_tools import tools

from llmcompiler_provider.execution.cluster import ClusterOptions, open_client
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.execution.inbox import PUSH_LIMIT
from llmcompiler_provider.plan.passes.fusion import MAX_THREAD_GROUP
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.tools import Toolset


def _dispatch(client, toolset, text, run_id):
    graph = compile_plan(text, toolset.signatures())
    dispatcher = Dispatcher(client, toolset, run_id)
    dispatcher.submit_graph(graph)
    return graph, dispatcher


def _intervals(dask_scheduler):
    return (
        [stream.interval for stream in dask_scheduler.stream_comms.values()],
        [stream.interval for stream in dask_scheduler.client_comms.values()],
    )


def _worker_settings(dask_worker):
    return dask_worker.batched_stream.interval, dask.config.get("distributed.worker.profile.enabled")


def _blocking_threads_started():
    from llmcompiler_provider.execution import dataflow

    return 0 if dataflow._pool is None else len(dataflow._pool._threads)


def test_the_embedded_cluster_sends_every_message_at_once_and_its_workers_do_not_profile():
    with open_client(ClusterOptions(n_workers=2, threads_per_worker=2, processes=True)) as (client, _):
        to_workers, to_clients = client.run_on_scheduler(_intervals)
        assert to_workers == [0, 0] and to_clients == [0]
        assert client.scheduler_comm.interval == 0
        assert set(client.run(_worker_settings).values()) == {(0, False)}
        # the threads for blocking calls are up before the first unit needs them
        assert set(client.run(_blocking_threads_started).values()) == {MAX_THREAD_GROUP}
        client.restart()  # restarted worker processes keep the settings (the plugins are re-run)
        assert set(client.run(_worker_settings).values()) == {(0, False)}
        assert client.run_on_scheduler(_intervals)[0] == [0, 0]


def test_without_low_latency_the_embedded_cluster_keeps_dask_defaults():
    with open_client(ClusterOptions(n_workers=1, threads_per_worker=2, low_latency=False)) as (client, _):
        to_workers, to_clients = client.run_on_scheduler(_intervals)
        assert to_workers == [0.005] and to_clients == [0.002]
        assert set(client.run(_worker_settings).values()) == {(0.002, True)}


def test_small_results_arrive_with_the_completion_message(process_client):
    plan = "\n".join(f'{i}. echo("item {i}")' for i in range(1, 9)) + "\n9. join()"
    _, dispatcher = _dispatch(process_client, tools, plan, "ahead")
    assert dispatcher.client.scheduler_comm.interval == 0  # the dispatcher's own client: no batching
    wait(list(dispatcher.futures.values()))
    # the event is handled before the key-in-memory message that follows it on the same stream
    ahead = {key: dispatcher.inbox.take(key) for key in dispatcher.futures}
    assert all(results is not None for results in ahead.values())
    sent = {task_id: obs.value for results in ahead.values() for task_id, obs in results.items()}
    assert sent == {i: f"item {i}" for i in range(1, 9)}


def test_large_results_are_fetched_and_the_inbox_keeps_nothing(process_client):
    size = PUSH_LIMIT * 2
    plan = f'1. echo("{"x" * size}")\n2. echo("small")\n3. join()'
    _, dispatcher = _dispatch(process_client, tools, plan, "large")
    observations = dispatcher.wait(timeout=120)
    assert observations[1].value == "x" * size and observations[2].value == "small"
    dispatcher.release()
    assert not dispatcher.inbox._expected and not dispatcher.inbox._arrived


def test_a_result_that_plain_pickle_refuses_is_fetched_by_dask(process_client):
    closures = Toolset("closures")

    @closures.tool
    def make_adder(n: int) -> object:
        return lambda x: x + n  # pickle cannot send a lambda; Dask's cloudpickle can

    _, dispatcher = _dispatch(process_client, closures, "1. make_adder(2)\n2. join()", "lambda")
    observations = dispatcher.wait(timeout=120)
    assert observations[1].ok and observations[1].value(40) == 42


@pytest.fixture
def module_only_this_process_can_import(tmp_path, monkeypatch):
    """A tool module on a path the (already running) worker processes do not have."""
    (tmp_path / "private_tools_for_workers.py").write_text(
        textwrap.dedent(
            """
            from llmcompiler_provider.tools import Toolset

            private = Toolset("private")

            @private.tool
            def shout(text: str) -> str:
                return text.upper() + "!"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import private_tools_for_workers

    cloudpickle.register_pickle_by_value(private_tools_for_workers)
    yield private_tools_for_workers
    cloudpickle.unregister_pickle_by_value(private_tools_for_workers)
    sys.modules.pop("private_tools_for_workers", None)


def test_a_tool_module_registered_by_value_runs_on_workers_that_cannot_import_it(
    process_client, module_only_this_process_can_import
):
    def importable(name):
        import importlib.util

        return importlib.util.find_spec(name) is not None

    assert not any(process_client.run(importable, "private_tools_for_workers").values())
    toolset = module_only_this_process_can_import.private
    _, dispatcher = _dispatch(process_client, toolset, '1. shout("hello")\n2. join()', "byvalue")
    observations = dispatcher.wait(timeout=120)
    assert observations[1].ok, observations[1].error
    assert observations[1].value == "HELLO!"


def test_workers_keep_no_copies_of_a_tool_shipped_by_value_once_its_units_end(
    process_client, module_only_this_process_can_import
):
    """Each unit brings its own copy of a tool shipped by value; a worker must let go of it with the
    unit (a cache keyed by function once kept 4,096 copies per worker)."""
    toolset = module_only_this_process_can_import.private
    for i in range(24):
        _, dispatcher = _dispatch(process_client, toolset, f'1. shout("call {i}")\n2. join()', f"copies{i}")
        assert dispatcher.wait(timeout=120)[1].value == f"CALL {i}!"
        dispatcher.release()

    def copies_of_shout():
        import gc
        import types

        gc.collect()
        return sum(isinstance(o, types.FunctionType) and o.__qualname__ == "shout" for o in gc.get_objects())

    assert max(process_client.run(copies_of_shout).values()) <= 1
