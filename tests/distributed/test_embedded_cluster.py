"""The embedded cluster without GPUs: CPU workers declare GPU slots, and the run records that fallback."""

from __future__ import annotations

import pytest

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.cluster import ClusterOptions, visible_gpu_count
from llmcompiler_provider.store import get_run

pytestmark = pytest.mark.skipif(
    visible_gpu_count() > 0,
    reason="GPUs are visible: the embedded cluster is a LocalCUDACluster here (see test_gpu.py)",
)
PLAN = '1. gpu_work(0.1, "g1")\n2. gpu_work(0.1, "g2")\n3. cpu_work(0.1, "c1")\n4. join()'


def run_embedded(plan: str, store_url: str, **options) -> object:
    cluster = ClusterOptions(n_workers=2, threads_per_worker=2, processes=False, **options)
    config = RunConfig(toolset="dist_tools:tools", cluster=cluster, store_url=store_url, store_strict=True)
    return LLMCompilerRun(plan=plan, config=config).execute()


def test_without_gpus_gpu_tools_run_on_cpu_slots_and_the_run_records_the_fallback(sqlite_url):
    result = run_embedded(PLAN, sqlite_url)

    assert result.status == "success", result.error
    cluster = get_run(result.run_id, sqlite_url).cluster
    assert cluster.kind == "local" and cluster.gpu_fallback is True
    assert cluster.workers == 2 and cluster.gpu_slots == 2
    assert cluster.address == result.cluster.address


def test_gpu_fallback_fail_refuses_to_run_without_gpus_and_says_why(sqlite_url):
    result = run_embedded(PLAN, sqlite_url, gpu_fallback="fail")

    assert result.status == "failed"
    assert result.error == (
        "GPUUnavailable: no GPU is visible and gpu_fallback='fail': refusing to run GPU tools on the CPU"
    )
    assert get_run(result.run_id, sqlite_url).error == result.error


def test_never_more_worker_processes_than_cores(caplog):
    import os

    from llmcompiler_provider.execution.cluster import open_client

    cores = len(os.sched_getaffinity(0))
    with open_client(ClusterOptions(processes=True, n_workers=cores + 1, threads_per_worker=1)) as (client, info):
        assert info.workers == cores == len(client.scheduler_info(n_workers=-1)["workers"])
    assert f"{cores + 1} worker processes asked for, {cores} cores to run them: starting {cores}" in caplog.text


def test_the_in_process_cluster_keeps_dasks_info_lines_out_of_the_log(sqlite_url):
    """What reaches a handler on the ``distributed`` logger itself (Airflow's logging config sends
    that logger's records to the task log; Dask's own config does not propagate them to the root)."""
    import logging

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    dask_logger = logging.getLogger("distributed")
    before = dask_logger.level
    collect = Collect()
    dask_logger.addHandler(collect)
    try:
        result = run_embedded(PLAN, sqlite_url)
    finally:
        dask_logger.removeHandler(collect)
    assert result.status == "success", result.error
    assert [r.getMessage() for r in collect.records if r.levelno < logging.WARNING] == []
    assert dask_logger.level == before  # as it was once the cluster is gone


def test_worker_processes_get_their_environment_and_this_process_keeps_its_own():
    import os

    from llmcompiler_provider.execution.cluster import open_client

    name = "LLMCOMPILER_TEST_WORKER_ONLY"
    options = ClusterOptions(processes=True, n_workers=1, threads_per_worker=1, worker_env={name: "yes"})
    with open_client(options) as (client, _):
        assert list(client.run(lambda: __import__("os").environ.get(name)).values()) == ["yes"]
        assert name not in os.environ  # Dask's nanny set it here too, before starting the worker
    assert name not in os.environ


def test_a_run_that_times_out_on_the_embedded_cluster_keeps_what_finished(sqlite_url):
    """The cluster starts and stops with the run: what finished before the timeout is recorded."""
    plan = '1. cpu_work(0.01, "quick")\n2. cpu_work(8, "slow")\n3. join()'
    cluster = ClusterOptions(n_workers=2, threads_per_worker=2)
    config = RunConfig(toolset="dist_tools:tools", cluster=cluster, store_url=sqlite_url, run_timeout=3,
                       disabled_passes=("fusion",))
    result = LLMCompilerRun(plan=plan, config=config).execute()

    assert result.status == "failed" and "did not finish within 3 s" in result.error
    statuses = {task.id: task.status for task in get_run(result.run_id, sqlite_url).all_tasks}
    assert statuses[1] == "success" and statuses[2] != "success"
