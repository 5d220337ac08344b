"""Plans whose calls the fusion pass groups run correctly on a real cluster, each call timed on its own."""

from __future__ import annotations

from fusion_tools import tools

from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.plan import compile_plan


def run(client, lines: list[str], **options):
    text = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1)) + f"\n{len(lines) + 1}. join()"
    graph = compile_plan(text, tools.signatures(), **options)
    dispatcher = Dispatcher(client, tools, "fused")
    dispatcher.submit_graph(graph)
    observations = dispatcher.wait(timeout=120)
    return graph, {r.id: r for r in dispatcher.records(observations, graph)}


def test_siblings_and_their_consumer_run_as_one_dask_task_with_their_own_times(process_client):
    lines = ['wait("a")', 'wait("b")', 'wait("c")', 'quick("sum", [$1, $2, $3])']
    graph, records = run(process_client, lines)
    assert graph.units == [(1, 2, 3, 4)]
    assert len({r.unit for r in records.values()}) == 1
    assert all(r.status == "success" for r in records.values())
    assert records[4].result == "sum:3"
    siblings = [records[i] for i in (1, 2, 3)]
    assert max(r.start for r in siblings) < min(r.stop for r in siblings)  # they overlapped
    assert records[4].start >= max(r.stop for r in siblings)  # the consumer waited for its inputs only
    assert len({r.stop for r in siblings}) == 3  # each call has its own times, not the unit's


def test_a_unit_of_coroutine_tools_runs_on_one_event_loop_thread(process_client):
    graph, records = run(process_client, ['wait("a")', 'wait("b")', 'wait("c", [$1])'])
    assert graph.units == [(1, 2, 3)]
    threads = {r.result.split("@")[1] for r in records.values()}
    assert len(threads) == 1 and {r.thread for r in records.values()} == {int(threads.pop())}


def test_a_chain_starts_each_call_after_the_one_before_in_the_same_unit(process_client):
    graph, records = run(process_client, ['quick("a")', 'wait("b", [$1])', 'quick("c", [$2])'])
    assert graph.units == [(1, 2, 3)]
    assert records[1].stop <= records[2].start and records[2].stop <= records[3].start


def test_a_gpu_chain_keeps_its_slot_and_gpu_siblings_take_one_slot_each(process_client):
    graph, records = run(process_client, ['gpu("a")', 'gpu("b", [$1])', 'gpu("c")', 'gpu("d")'])
    assert (1, 2) in graph.units and (3,) in graph.units and (4,) in graph.units
    assert records[1].worker == records[2].worker
    by_worker: dict[str, list] = {}
    for record in records.values():
        by_worker.setdefault(record.worker, []).append((record.start, record.stop))
    for intervals in by_worker.values():  # one GPU slot per worker: never two calls at once
        intervals.sort()
        assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:]))


def test_inside_a_unit_a_failure_skips_its_dependents_and_spares_the_rest(process_client):
    lines = ['wait("a")', 'fail("b")', 'quick("after a", [$1])', 'quick("after b", [$2])']
    graph, records = run(process_client, lines)
    assert len(graph.units) < 4  # fused
    assert records[1].status == records[3].status == "success"
    assert records[2].status == "failed" and records[2].error == "RuntimeError: b broke"
    assert records[4].status == "skipped" and "$2 failed" in records[4].error


def test_a_coroutine_tool_that_overruns_its_timeout_fails_inside_a_fused_unit(process_client):
    graph, records = run(process_client, ['stall("x")', 'wait("y")'])
    assert records[1].status == "failed" and records[1].error == "timed out after 0.2 s"
    assert records[2].status == "success"


def test_the_same_plan_gives_the_same_results_with_fusion_off(process_client):
    lines = ['wait("a")', 'wait("b")', 'quick("sum", [$1, $2])', 'gpu("g", [$3])']
    fused = run(process_client, lines)[1]
    separate = run(process_client, lines, disabled_passes=["fusion"])[1]
    assert len({r.unit for r in separate.values()}) == 4
    assert [r.status for r in fused.values()] == [r.status for r in separate.values()] == ["success"] * 4
    assert fused[3].result == separate[3].result == "sum:2"
