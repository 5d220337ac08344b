"""Plans run on a real multi-process deployment through its scheduler address, as a Dask connection does."""

from __future__ import annotations

from llmcompiler_provider.store import get_run

CPU_CALLS = 8
GPU_CALLS = 4
PLAN = "\n".join(
    [f'{i}. cpu_work(0.3, "c{i}")' for i in range(1, CPU_CALLS + 1)]
    + [f'{CPU_CALLS + j}. gpu_work(0.3, "g{j}")' for j in range(1, GPU_CALLS + 1)]
    + [f"{CPU_CALLS + GPU_CALLS + 1}. join()"]
)


def test_gpu_tasks_land_only_on_gpu_workers_and_cpu_tasks_spread_over_all(
    run_plan, gpu_addresses, all_addresses
):
    result = run_plan(PLAN)

    assert result.status == "success", result.error
    gpu_tasks = [t for t in result.all_tasks if t.tool == "gpu_work"]
    cpu_tasks = [t for t in result.all_tasks if t.tool == "cpu_work"]
    assert len(gpu_tasks) == GPU_CALLS and len(cpu_tasks) == CPU_CALLS
    assert {t.worker for t in gpu_tasks} <= gpu_addresses
    assert {t.worker for t in cpu_tasks} == all_addresses


def test_results_and_timings_come_back_from_every_worker(run_plan):
    result = run_plan(PLAN)

    assert result.status == "success", result.error
    for task in result.all_tasks:
        assert task.status == "success"
        label = task.kwargs["label"]
        assert f"'label': '{label}'" in task.result
        assert task.start is not None and task.stop is not None and task.start <= task.stop
        assert task.queued is not None and task.worker.startswith("tcp://127.0.0.1:")
    assert result.timings.sum_task_s > 0 and result.timings.wall_s > 0


def test_the_store_records_the_cluster_address_and_where_each_task_ran(run_plan, deployment, sqlite_url):
    result = run_plan(PLAN)

    stored = get_run(result.run_id, sqlite_url)
    assert stored.status == "success"
    assert stored.cluster.model_dump() == {
        "kind": "address",
        "address": deployment.scheduler_address,
        "gpu_fallback": False,
        "workers": 4,
        "gpu_slots": 2,
    }
    assert {t.id: t.worker for t in stored.all_tasks} == {t.id: t.worker for t in result.all_tasks}
