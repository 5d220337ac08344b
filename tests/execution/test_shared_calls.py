"""Batch-level CSE on real Dask clusters: identical pure calls of a batch's runs execute once.

The runs are real ``LLMCompilerRun``s with given plans, in threads, on one client; the tools count
their executions in files (they may run in worker processes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from exec_tools import tools

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.execution.shared_calls import SharedCalls
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store.location import NO_STORE


def executions(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def make_run(client, plan: str, shared: SharedCalls | None, **config) -> LLMCompilerRun:
    config = RunConfig(toolset=tools, store_url=NO_STORE, max_replans=0, shared_calls=shared, **config)
    return LLMCompilerRun(plan=plan, config=config, client=client)


def run_in_threads(runs: list[LLMCompilerRun]) -> list[RunResult]:
    results: list[RunResult | None] = [None] * len(runs)

    def execute(i: int) -> None:
        results[i] = runs[i].execute()

    threads = [threading.Thread(target=execute, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert all(r is not None for r in results), "a run did not finish"
    return results  # type: ignore[return-value]


def tasks_of(result: RunResult) -> dict:
    return {t.id: t for t in result.plans[0].tasks}


def batch_plan(folder: Path, i: int) -> str:
    """Every run calls ``a``; even runs call ``b0``, odd runs ``b1``; each joins them in its own text."""
    return (
        f'1. shared_count("{folder / "a"}", 0.3, "a")\n'
        f'2. shared_count("{folder / f"b{i % 2}"}", 0.3, "b{i % 2}")\n'
        f'3. echo("$1 $2 run {i}")\n'
        "4. join()"
    )


@pytest.mark.parametrize("cluster", ["threaded_client", "process_client"])
def test_eight_runs_execute_each_distinct_call_once_and_each_gets_its_result(request, cluster, tmp_path):
    client = request.getfixturevalue(cluster)
    shared = SharedCalls()
    results = run_in_threads([make_run(client, batch_plan(tmp_path, i), shared) for i in range(8)])
    assert [r.status for r in results] == ["success"] * 8, [r.error for r in results]
    assert {name: executions(tmp_path / name) for name in ("a", "b0", "b1")} == {"a": 1, "b0": 1, "b1": 1}
    for i, result in enumerate(results):
        assert tasks_of(result)[3].result == f"counted a counted b{i % 2} run {i}"
    # 16 shareable calls, 3 distinct: 13 answered by another run's call
    assert sum(r.counts.shared_calls for r in results) == 13 == shared.hits
    assert shared.misses == 3 and len(shared) == 3
    # every run names the one Dask task that computed each call
    assert len({tasks_of(r)[1].unit for r in results}) == 1
    for parity in (0, 1):
        assert len({tasks_of(r)[2].unit for r in results[parity::2]}) == 1
    by_run = {r.run_id[:12]: r for r in results}
    for result in results:
        for task in result.plans[0].tasks[:2]:
            owner = by_run[task.unit.split("-")[1]]  # the unit key names the run that computed it
            assert (task.source == "batch") == (owner is not result)
            assert task.status == "success" and task.worker is not None


def test_shareable_calls_leave_their_fused_unit_together_and_the_rest_stays_fused(threaded_client, tmp_path):
    plan = (
        f'1. shared_count("{tmp_path / "x"}")\n2. shared_count("{tmp_path / "y"}")\n'
        f'3. impure_count("{tmp_path / "i"}")\n4. impure_count("{tmp_path / "j"}")\n5. join()'
    )
    graph = compile_plan(plan, tools.signatures())
    assert graph.units == [(1, 2, 3, 4)]  # fusion groups the four short siblings
    shared = SharedCalls()
    dispatcher = Dispatcher(threaded_client, tools, "fused", shared_calls=shared)
    dispatcher.submit_graph(graph)
    records = {r.id: r for r in dispatcher.records(dispatcher.wait(timeout=60), graph)}
    assert all(r.status == "success" for r in records.values())
    assert records[1].unit == records[2].unit != records[3].unit == records[4].unit
    # another run reads one call of that unit, and runs its own impure calls
    reader = Dispatcher(threaded_client, tools, "reader", shared_calls=shared)
    other_plan = f'1. shared_count("{tmp_path / "y"}")\n2. impure_count("{tmp_path / "i"}")\n3. join()'
    other = compile_plan(other_plan, tools.signatures())
    reader.submit_graph(other)
    read = {r.id: r for r in reader.records(reader.wait(timeout=60), other)}
    assert read[1].source == "batch" and read[1].unit == records[2].unit and read[1].result == "counted"
    assert read[2].source is None and read[2].status == "success"
    assert (executions(tmp_path / "y"), executions(tmp_path / "i")) == (1, 2)


def test_without_shared_calls_each_run_executes_its_own_calls(threaded_client, tmp_path):
    results = run_in_threads([make_run(threaded_client, batch_plan(tmp_path, i), None) for i in range(4)])
    assert [r.status for r in results] == ["success"] * 4
    assert executions(tmp_path / "a") == 4 and executions(tmp_path / "b0") == 2
    assert all(r.counts.shared_calls == 0 and t.source is None for r in results for t in r.all_tasks)


def test_a_failed_shared_call_is_run_again_by_a_later_run(threaded_client, tmp_path):
    shared = SharedCalls()
    plan = f'1. fails_first("{tmp_path / "f"}")\n2. echo("got $1")\n3. join()'
    first = make_run(threaded_client, plan, shared).execute()
    assert tasks_of(first)[1].status == "failed" and tasks_of(first)[2].status == "skipped"
    second = make_run(threaded_client, plan, shared).execute()
    assert tasks_of(second)[2].result == "got ok on call 2"
    assert tasks_of(second)[1].source is None  # it ran for this run
    assert executions(tmp_path / "f") == 2 and shared.discarded == 1 and shared.hits == 0
    third = make_run(threaded_client, plan, shared).execute()
    assert tasks_of(third)[1].source == "batch" and executions(tmp_path / "f") == 2


def test_cancelling_a_run_leaves_the_calls_it_shares_running_for_the_others(threaded_client, tmp_path):
    shared = SharedCalls()
    slow = f'1. shared_count("{tmp_path / "slow"}", 1.5, "slow")\n'
    first = make_run(threaded_client, slow + f'2. sleep(30)\n3. echo("$1 $2")\n4. join()', shared)
    second = make_run(threaded_client, slow + '2. echo("second read $1")\n3. join()', shared)
    finished: list[RunResult] = []
    thread = threading.Thread(target=lambda: finished.append(first.execute()))
    thread.start()
    deadline = time.monotonic() + 60
    while len(shared) == 0:  # the first run submitted the shared call
        assert time.monotonic() < deadline, "the first run never submitted its shared call"
        time.sleep(0.02)
    reader = threading.Thread(target=lambda: finished.append(second.execute()))
    reader.start()
    while shared.hits == 0:  # the second run reads the shared call
        assert time.monotonic() < deadline and reader.is_alive(), "the second run never read the shared call"
        time.sleep(0.02)
    first.cancel()
    thread.join(60)
    reader.join(60)
    by_run = {r.run_id: r for r in finished}
    cancelled, answered = by_run[first.result.run_id], by_run[second.result.run_id]
    assert cancelled.status == "cancelled"
    assert tasks_of(cancelled)[2].status == "cancelled"  # its own call was cancelled
    assert answered.status == "success", answered.error
    assert tasks_of(answered)[2].result == "second read counted slow"
    assert tasks_of(answered)[1].source == "batch"
    assert executions(tmp_path / "slow") == 1
    third = make_run(threaded_client, slow + "2. join()", shared).execute()  # later runs still share it
    assert tasks_of(third)[1].source == "batch" and executions(tmp_path / "slow") == 1


def test_a_call_that_existed_already_costs_a_later_run_no_time(threaded_client, tmp_path):
    shared = SharedCalls()
    plan = f'1. shared_count("{tmp_path / "c"}", 0.2)\n2. join()'
    earlier = tasks_of(make_run(threaded_client, plan, shared).execute())[1]
    later_run = make_run(threaded_client, plan, shared).execute()
    later = tasks_of(later_run)[1]
    assert later.source == "batch" and later.attempts == 0 and earlier.attempts == 1
    assert later.start == later.stop == later.queued  # its result existed when the run asked
    assert later.start >= earlier.stop and later.worker == earlier.worker
    assert later_run.timings.sum_task_s == 0.0


def test_an_evicted_call_is_computed_again(threaded_client, tmp_path):
    shared = SharedCalls(max_entries=1)
    x = f'1. shared_count("{tmp_path / "x"}")\n2. join()'
    y = f'1. shared_count("{tmp_path / "y"}")\n2. join()'
    for plan in (x, x, y, x):
        assert make_run(threaded_client, plan, shared).execute().status == "success"
    assert executions(tmp_path / "x") == 2 and executions(tmp_path / "y") == 1
    assert shared.evicted == 2 and shared.hits == 1 and len(shared) == 1


def test_impure_calls_and_calls_reading_other_results_are_never_shared(threaded_client, tmp_path):
    shared = SharedCalls()
    plan = (f'1. impure_count("{tmp_path / "i"}")\n2. shared_count("{tmp_path / "s"}")\n'
            f'3. shared_count("{tmp_path / "r"}", 0, "$2")\n4. join()')
    results = run_in_threads([make_run(threaded_client, plan, shared) for _ in range(3)])
    assert [r.status for r in results] == ["success"] * 3
    assert (executions(tmp_path / "i"), executions(tmp_path / "s"), executions(tmp_path / "r")) == (3, 1, 3)
    assert shared.hits == 2


def test_a_shared_calls_object_refuses_to_be_pickled():
    import pickle

    with pytest.raises(TypeError, match="cannot go to another process"):
        pickle.dumps(SharedCalls())


def test_starting_a_fresh_attempt_lets_go_of_shared_calls_without_cancelling_them(threaded_client, tmp_path):
    shared = SharedCalls()
    plan = f'1. shared_count("{tmp_path / "r"}", 1.0, "r")\n2. join()'
    graph = compile_plan(plan, tools.signatures())
    first = Dispatcher(threaded_client, tools, "first", shared_calls=shared)
    second = Dispatcher(threaded_client, tools, "second", shared_calls=shared)
    first.submit_graph(graph)
    second.submit_graph(graph)
    first.reset()  # its plan failed to compile half way: a fresh attempt
    assert first.futures == {} and first.sources == {}
    records = {r.id: r for r in second.records(second.wait(timeout=60), graph)}
    assert records[1].status == "success" and records[1].source == "batch"
    assert executions(tmp_path / "r") == 1


def test_a_finished_small_shared_call_leaves_the_cluster_and_still_answers_later_runs(threaded_client, tmp_path):
    """A batch must not keep every shared unit on the cluster until it ends: a call whose unit's results
    were sent ahead is settled (its entry keeps the observation, the cluster forgets the unit); a larger
    result stays on its worker behind the entry's future. Later runs are answered either way."""
    from llmcompiler_provider.execution.inbox import PUSH_LIMIT

    shared = SharedCalls()
    small = f'1. shared_count("{tmp_path / "s"}", 0, "small")\n2. echo("got $1")\n3. join()'
    big = f'1. shared_count("{tmp_path / "b"}", 0, "{"x" * PUSH_LIMIT}")\n2. join()'
    first_small, first_big = (make_run(threaded_client, plan, shared).execute() for plan in (small, big))
    assert (first_small.status, first_big.status) == ("success", "success")
    assert (shared.settled, len(shared)) == (1, 2)
    units = [tasks_of(first_small)[1].unit, tasks_of(first_big)[1].unit]

    def on_cluster(dask_scheduler, keys):
        return [key for key in keys if key in dask_scheduler.tasks]

    deadline = time.monotonic() + 30
    while threaded_client.run_on_scheduler(on_cluster, keys=units) != units[1:]:
        assert time.monotonic() < deadline, "the settled unit stayed on the cluster (or the large one left it)"
        time.sleep(0.05)

    again_small, again_big = (make_run(threaded_client, plan, shared).execute() for plan in (small, big))
    read_small, read_big = tasks_of(again_small), tasks_of(again_big)
    assert (read_small[1].source, read_small[1].unit, read_small[1].attempts) == ("batch", units[0], 0)
    assert read_small[2].result == "got counted small"  # the settled value reaches the call reading it
    assert (read_big[1].source, read_big[1].unit, read_big[1].status) == ("batch", units[1], "success")
    assert (executions(tmp_path / "s"), executions(tmp_path / "b")) == (1, 1) and shared.hits == 2
    shared.close()
