"""One embedded cluster and the real local model for the run-loop tests."""

from __future__ import annotations

import pytest
from distributed import Client, LocalCluster

from llmcompiler_provider.execution.cluster import GPU_RESOURCE
from llmcompiler_provider.results import ClusterInfo


@pytest.fixture(scope="session")
def cluster_client():
    with LocalCluster(
        n_workers=2, threads_per_worker=8, processes=False, resources={GPU_RESOURCE: 1}, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:
        yield client, ClusterInfo(kind="local", address=cluster.scheduler_address, gpu_fallback=True, workers=2, gpu_slots=2)


@pytest.fixture(scope="session")
def local_model():
    from llmcompiler_provider.llm import get_local_model

    return get_local_model()
