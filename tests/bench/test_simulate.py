"""The simulator's predictions on small plans, against values worked out by hand."""

from __future__ import annotations

import json

import pytest

from benchmarks.tools import bench
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.results import PlanIteration, RunResult, TaskRecord
from llmcompiler_provider.simulate import ClusterShape, simulate
from llmcompiler_provider.tool_costs import ToolCost, learned_costs, load_costs

CATALOGUE = bench.signatures()


def plan(*lines: str, **options) -> object:
    text = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    return compile_plan(text, CATALOGUE, **options)


def starts(simulation) -> dict[int, float]:
    return {c.task_id: round(c.start, 9) for c in simulation.calls}


def test_a_fused_fan_out_takes_one_call_plus_one_dispatch():
    graph = plan(*[f'io_100ms("{i}")' for i in range(8)])
    result = simulate([graph], ClusterShape(2, 32), unit_overhead_s=0.003)
    assert result.units == 1
    assert result.wall_s == pytest.approx(0.103)
    assert result.critical_path_s == pytest.approx(0.1)
    assert result.bottleneck.startswith("the critical path")


def test_a_chain_of_separate_units_pays_the_dispatch_cost_at_every_step():
    graph = plan('io_200ms("a")', 'io_200ms("b", [$1])', 'io_200ms("c", [$2])', disabled_passes=["fusion"])
    result = simulate([graph], ClusterShape(2, 32), unit_overhead_s=0.01)
    assert result.units == 3
    assert result.wall_s == pytest.approx(3 * (0.2 + 0.01))
    assert result.critical_path_s == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("workers", "cores", "expected"),
    [
        (1, 2, 0.8),  # one interpreter lock: four 0.2 s computations one after another
        (2, 2, 0.4),  # two processes on two cores: two at a time
        (2, 1, 0.8),  # two processes share one core
        (4, 2, 0.4),  # four processes, but only two cores
    ],
)
def test_python_computations_share_each_worker_lock_and_the_cores(workers, cores, expected):
    graph = plan(*[f'crunch("{i}", 1000)' for i in range(4)])
    costs = {"crunch": ToolCost(0.2, cpu=1.0)}
    result = simulate([graph], ClusterShape(workers, 4, cores=cores), costs, unit_overhead_s=0.0)
    assert result.wall_s == pytest.approx(expected)
    assert result.bottleneck.startswith("CPU")


def test_gpu_calls_wait_for_a_free_slot_and_the_slots_are_the_bottleneck():
    graph = plan(*[f'gpu_100ms("{i}")' for i in range(5)])
    result = simulate([graph], ClusterShape(2, 8, gpus=2), unit_overhead_s=0.0)
    assert result.wall_s == pytest.approx(0.3)  # 5 calls, 2 slots: three rounds
    assert result.utilization["GPU slots"] == pytest.approx(0.5 / (2 * 0.3))
    assert result.bottleneck.startswith("GPU slots")
    per_slot: dict[int, list[tuple[float, float]]] = {}
    for call in result.calls:
        per_slot.setdefault(call.worker, []).append((call.start, call.stop))
    for intervals in per_slot.values():
        intervals.sort()
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(intervals, intervals[1:])), "a slot ran two calls at once"


def test_a_plan_needing_more_gpu_slots_than_the_cluster_has_is_a_clear_error():
    with pytest.raises(ValueError, match="no worker of this cluster offers GPU=1"):
        simulate([plan('gpu_100ms("a")')], ClusterShape(2, 8, gpus=0))


def test_the_longest_chain_starts_first_as_the_dispatcher_orders_it():
    # one thread: 1 (0.1 s) then its dependent 2 (1 s) outrank the short 3 (0.1 s)
    graph = plan('io_100ms("a")', 'crunch("b", 1, [$1])', 'io_100ms("c")', disabled_passes=["fusion"])
    costs = {"crunch": ToolCost(1.0)}
    result = simulate([graph], ClusterShape(1, 1), costs, unit_overhead_s=0.0)
    assert starts(result) == {1: 0.0, 2: 0.1, 3: 1.1}
    assert result.wall_s == pytest.approx(1.2)
    assert result.bottleneck.startswith("worker threads")


def test_a_batch_of_plans_shares_the_cluster():
    graph = plan('io_100ms("a")', disabled_passes=["fusion"])
    one = simulate([graph], ClusterShape(1, 1), unit_overhead_s=0.0)
    three = simulate([graph] * 3, ClusterShape(1, 1), unit_overhead_s=0.0)
    assert (one.wall_s, three.wall_s) == pytest.approx((0.1, 0.3))


def test_costs_come_from_a_file_with_or_without_a_cpu_share(tmp_path):
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"io_5ms": 0.5, "crunch": {"seconds": 2, "cpu": 1}}))
    assert load_costs(str(path)) == {"io_5ms": ToolCost(0.5), "crunch": ToolCost(2.0, 1.0)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must hold an object"),
        ('{"io_5ms": -1}', "needs seconds >= 0"),
        ('{"io_5ms": {"seconds": 1, "cpu": 2}}', "cpu share between 0 and 1"),
    ],
)
def test_a_bad_costs_file_is_one_clear_sentence(tmp_path, content, message):
    path = tmp_path / "costs.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        load_costs(str(path))
    assert "\n" not in str(error.value)


def test_costs_are_learned_from_the_runs_the_store_recorded(sqlite_url):
    from llmcompiler_provider.store import save_run

    tasks = [
        TaskRecord(id=i, tool="io_5ms", status="success", start=100.0, stop=100.0 + seconds)
        for i, seconds in enumerate((0.2, 0.4, 0.9), 1)
    ]
    tasks.append(TaskRecord(id=4, tool="io_5ms", status="failed", start=100.0, stop=160.0))
    result = RunResult(status="success", plans=[PlanIteration(iteration=0, text="plan", tasks=tasks)])
    save_run(result, sqlite_url)
    learned = learned_costs(sqlite_url)
    assert learned["io_5ms"].seconds == pytest.approx(0.4)  # the median of the successful calls


def test_a_streamed_plan_dispatches_each_call_when_its_line_arrives():
    graph = plan('io_100ms("a")', 'io_100ms("b")', 'io_100ms("c", [$1])', disabled_passes=["fusion"])
    arrivals = {(0, 1): 0.5, (0, 2): 1.0, (0, 3): 0.55}
    result = simulate([graph], ClusterShape(2, 32), arrivals=arrivals, unit_overhead_s=0.0)
    assert starts(result) == {1: 0.5, 2: 1.0, 3: 0.6}  # 3 arrived at 0.55 but needs 1, done at 0.6
    assert result.wall_s == pytest.approx(1.1)


def test_a_declared_cpu_bound_tool_is_simulated_as_computing():
    from llmcompiler_provider.plan.signature import Param, ToolSignature
    from llmcompiler_provider.tool_costs import declared_costs

    rank = ToolSignature("rank", params=(Param("text"),), cost=0.2, cpu_bound=True)
    costs = declared_costs({"rank": rank, "fetch": ToolSignature("fetch", cost=0.2)})
    assert costs == {"rank": ToolCost(0.2, 1.0), "fetch": ToolCost(0.2, 0.0)}
    graph = compile_plan("\n".join(f'{i}. rank("x{i}")' for i in range(1, 5)) + "\n5. join()", {"rank": rank},
                         optimize=False)
    one_process = simulate([graph], ClusterShape(workers=1, threads=8, cores=4), costs)
    assert one_process.wall_s == pytest.approx(0.8, rel=0.05)  # four computations take turns at one lock
