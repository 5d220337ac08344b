"""Real Dask clusters for the execution tests: in-process threads, and worker processes."""

from __future__ import annotations

import pytest
from distributed import Client, LocalCluster

from llmcompiler_provider.execution.cluster import GPU_RESOURCE


@pytest.fixture(scope="session")
def threaded_client():
    """Two in-process workers with 8 threads each, one GPU slot each (the CPU fallback shape)."""
    with LocalCluster(
        n_workers=2, threads_per_worker=8, processes=False, resources={GPU_RESOURCE: 1}, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="session")
def process_client():
    """Two worker processes with 4 threads each and one GPU slot each."""
    with LocalCluster(
        n_workers=2, threads_per_worker=4, processes=True, resources={GPU_RESOURCE: 1}, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="session", autouse=True)
def _tools_pickle_by_value():
    """Worker processes cannot import tests/ modules: ship the test toolset by value, as load_toolset does."""
    import cloudpickle

    import exec_tools

    cloudpickle.register_pickle_by_value(exec_tools)
