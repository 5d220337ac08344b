"""dask-cuda paths: ``LocalCUDACluster`` as the embedded cluster and ``dask cuda worker`` processes.

They need an NVIDIA GPU, so without one they are skipped (with the reason), never faked.
"""

from __future__ import annotations

import os

import pytest

from dask_processes import process_cluster
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.cluster import (
    ClusterOptions,
    open_client,
    visible_gpu_count,
    worker_resources,
)

GPUS = visible_gpu_count()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        GPUS == 0, reason="no NVIDIA GPU is visible (visible_gpu_count() == 0); dask-cuda needs one"
    ),
]


def first_visible_device() -> str:
    return os.environ["CUDA_VISIBLE_DEVICES"].split(",")[0]


def test_the_embedded_cluster_is_a_local_cuda_cluster_with_one_gpu_per_worker():
    with open_client(ClusterOptions(threads_per_worker=2)) as (client, info):
        assert (info.kind, info.workers, info.gpu_slots, info.gpu_fallback) == (
            "local-cuda",
            GPUS,
            GPUS,
            False,
        )
        assert list(worker_resources(client, max_age=0).values()) == [{"GPU": 1}] * GPUS
        assert (
            len(set(client.run(first_visible_device).values())) == GPUS
        )  # each worker pinned to its own GPU


def test_a_run_on_the_embedded_cuda_cluster_records_it(sqlite_url):
    config = RunConfig(
        toolset="dist_tools:tools", cluster=ClusterOptions(threads_per_worker=2), store_url=sqlite_url
    )
    result = LLMCompilerRun(plan='1. gpu_work(0.1, "g")\n2. join()', config=config).execute()

    assert result.status == "success", result.error
    assert result.cluster.kind == "local-cuda" and result.cluster.gpu_slots == GPUS


def test_the_rmm_pool_from_the_dask_connection_reaches_every_worker():
    pytest.importorskip("rmm", reason="rmm is not installed: an RMM pool needs it (pip install rmm-cu12)")

    def rmm_ready() -> bool:
        import rmm

        return rmm.is_initialized()

    with open_client(
        ClusterOptions(threads_per_worker=2, rmm_pool_size="256MB", device_memory_limit="0.8")
    ) as (
        client,
        _info,
    ):
        assert all(client.run(rmm_ready).values())


def test_dask_cuda_worker_processes_each_declare_one_gpu_and_take_the_gpu_tasks(tmp_path, run_plan):
    with process_cluster([], tmp_path / "logs") as cluster:
        addresses = cluster.start_cuda_workers("cuda", GPUS, {"GPU": 1})
        with cluster.client() as client:
            resources = worker_resources(client, max_age=0)
            assert {resources[a]["GPU"] for a in addresses} == {1}
            assert len(set(client.run(first_visible_device, workers=addresses).values())) == GPUS
        result = run_plan(
            '1. gpu_work(0.1, "g1")\n2. gpu_work(0.1, "g2")\n3. join()', address=cluster.scheduler_address
        )
    assert result.status == "success", result.error
    assert {t.worker for t in result.all_tasks} <= set(addresses)
