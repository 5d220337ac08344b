"""The dispatcher on real Dask clusters: dependencies, resources, priorities, failures, timeouts."""

from __future__ import annotations

import dask
import pytest
from exec_tools import tools

from llmcompiler_provider.execution.dask_graph import to_dask_graph
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.plan import PlanStream, compile_plan


def run_plan(client, text, *, optimize=True, run_id="t"):
    graph = compile_plan(text, tools.signatures(), optimize=optimize)
    dispatcher = Dispatcher(client, tools, run_id)
    dispatcher.submit_graph(graph)
    observations = dispatcher.wait(timeout=240)
    return graph, dispatcher, {r.id: r for r in dispatcher.records(observations, graph)}


def test_independent_calls_run_at_the_same_time(threaded_client):
    plan = "\n".join(f'{i}. sleep(0.3, "{i}")' for i in range(1, 7)) + "\n7. join()"
    _, _, records = run_plan(threaded_client, plan)
    assert all(r.status == "success" for r in records.values())
    # every call started before any call finished: they overlapped
    assert max(r.start for r in records.values()) < min(r.stop for r in records.values())


def test_a_dependent_starts_after_its_inputs_finish(threaded_client):
    plan = '1. sleep(0.1, "a")\n2. sleep(0.1, "b")\n3. echo("$1 and $2")\n4. join()'
    _, _, records = run_plan(threaded_client, plan)
    assert records[3].start >= max(records[1].stop, records[2].stop)
    assert records[3].result == "slept 0.1 a and slept 0.1 b"
    assert records[3].deps == [1, 2]


def test_a_bare_reference_passes_the_result_object_and_a_string_one_its_text(threaded_client):
    plan = '1. record([1, 2])\n2. record($1)\n3. echo("got $1")\n4. join()'
    graph, dispatcher, records = run_plan(threaded_client, plan)
    observations = dispatcher.wait()
    assert observations[2].value == {"type": "dict", "value": {"type": "list", "value": [1, 2]}}
    assert observations[3].value == "got {'type': 'list', 'value': [1, 2]}"


def test_resources_and_priorities_reach_the_scheduler(threaded_client):
    plan = "1. gpu_sleep(0.05)\n2. sleep(0.05)\n3. echo(\"$1\")\n4. join()"
    graph, dispatcher, _ = run_plan(threaded_client, plan, run_id="sched")

    def task_states(dask_scheduler, keys):
        return {
            k: (dict(dask_scheduler.tasks[k].resource_restrictions or {}), dask_scheduler.tasks[k].priority)
            for k in keys
            if k in dask_scheduler.tasks
        }

    states = threaded_client.run_on_scheduler(task_states, keys=list(dispatcher.futures))
    gpu_key = dispatcher.producer[1]
    cpu_key = dispatcher.producer[2]
    assert states[gpu_key][0] == {"GPU": 1}
    assert states[cpu_key][0] == {}
    # the user priority is the first element of the scheduler's priority tuple, negated
    assert states[gpu_key][1][0] == -graph.tasks[1].priority
    assert graph.tasks[1].priority > graph.tasks[3].priority  # longer path to the end starts first


def test_gpu_slots_are_never_shared(process_client):
    plan = "\n".join(f"{i}. gpu_sleep(0.2{i})" for i in range(1, 7)) + "\n7. join()"
    _, _, records = run_plan(process_client, plan)
    by_worker: dict[str, list] = {}
    for r in records.values():
        assert r.status == "success"
        by_worker.setdefault(r.worker, []).append((r.start, r.stop))
    assert len(by_worker) == 2  # both GPU slots used
    for intervals in by_worker.values():
        intervals.sort()
        for (_, stop), (start, _) in zip(intervals, intervals[1:]):
            assert start >= stop  # one GPU task at a time per slot


def test_a_failed_call_skips_its_dependents_and_spares_independent_branches(threaded_client):
    plan = '1. boom("disk on fire")\n2. echo("uses $1")\n3. echo("independent")\n4. echo("after $2")\n5. join()'
    _, _, records = run_plan(threaded_client, plan)
    assert records[1].status == "failed" and records[1].error == "RuntimeError: disk on fire"
    assert records[2].status == "skipped" and "$1 failed: RuntimeError: disk on fire" in records[2].error
    assert records[4].status == "skipped" and "$2" in records[4].error
    assert records[3].status == "success" and records[3].result == "independent"


def test_retries_rerun_a_failing_tool_and_count_attempts(threaded_client, tmp_path):
    counter = tmp_path / "flaky"
    _, _, records = run_plan(threaded_client, f'1. flaky("{counter}", 2)\n2. join()')
    assert records[1].status == "success" and records[1].attempts == 3 and records[1].result == "ok after 3"
    counter2 = tmp_path / "flaky2"
    _, _, records = run_plan(threaded_client, f'1. flaky("{counter2}", 5)\n2. join()')
    assert records[1].status == "failed" and records[1].attempts == 3
    assert "attempt 3 failed" in records[1].error


def test_a_tool_that_overruns_its_timeout_fails_with_a_clear_cause(threaded_client):
    _, _, records = run_plan(threaded_client, "1. hang(5)\n2. echo(\"$1\")\n3. join()")
    assert records[1].status == "failed" and records[1].error == "timed out after 0.3 s"
    assert records[2].status == "skipped"


def test_async_tools_run(threaded_client):
    _, _, records = run_plan(threaded_client, "1. async_sleep(0.05)\n2. join()")
    assert records[1].result == "async slept 0.05"


def test_identical_pure_calls_run_once_and_side_effects_always_run(threaded_client, tmp_path):
    pure = tmp_path / "pure"
    effect = tmp_path / "effect"
    plan = (
        f'1. counted("{pure}")\n2. counted("{pure}")\n'
        f'3. side_effect("{effect}")\n4. side_effect("{effect}")\n5. join()'
    )
    _, _, records = run_plan(threaded_client, plan)
    assert len(pure.read_text().splitlines()) == 1
    assert records[2].result.startswith("(same as $1)")
    assert len(effect.read_text().splitlines()) == 2
    _, _, records = run_plan(threaded_client, plan, optimize=False)
    assert len(pure.read_text().splitlines()) == 3


def test_tasks_are_dispatched_while_the_plan_is_still_streaming(threaded_client):
    stream = PlanStream(tools.signatures())
    dispatcher = Dispatcher(threaded_client, tools, "stream")
    dispatcher.submit(stream.feed('1. sleep(0.05, "first")\n2. sle'), stream.graph)
    assert list(dispatcher.producer) == [1]  # task 1 went out before line 2 was complete
    dispatcher.submit(stream.feed('ep(0.05, "second")\n3. echo("$1 $2")\n'), stream.graph)
    dispatcher.submit(stream.feed("4. join()\n"), stream.graph)
    graph = stream.close()
    records = {r.id: r for r in dispatcher.records(dispatcher.wait(timeout=30), graph)}
    assert records[3].result == "slept 0.05 first slept 0.05 second"


def test_the_plan_exports_as_a_plain_dask_graph():
    graph = compile_plan('1. echo("a")\n2. echo("b")\n3. echo("$1$2")\n4. join()', tools.signatures())
    dsk = to_dask_graph(graph, tools)
    assert dask.get(dsk, "task-3") == "ab"
    assert dask.get(dsk, ["task-1", "task-2"]) == ("a", "b")


def test_cancel_stops_a_running_plan(threaded_client):
    graph = compile_plan("1. sleep(30)\n2. echo(\"$1\")\n3. join()", tools.signatures())
    dispatcher = Dispatcher(threaded_client, tools, "cancel")
    dispatcher.submit_graph(graph)
    dispatcher.cancel()
    records = {r.id: r for r in dispatcher.records(dispatcher.wait(timeout=10), graph)}
    assert records[1].status == "cancelled" and records[1].error == "cancelled"
    assert records[2].status == "cancelled"


@pytest.mark.parametrize("text", ['1. nosuch("x")\n2. join()'])
def test_a_plan_that_does_not_compile_is_never_dispatched(threaded_client, text):
    from llmcompiler_provider.plan import PlanError

    with pytest.raises(PlanError):
        run_plan(threaded_client, text)
