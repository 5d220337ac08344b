"""A real Dask cluster for the fused-unit tests: two worker processes, one GPU slot each."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def process_client():
    import cloudpickle
    from distributed import Client, LocalCluster

    import fusion_tools

    cloudpickle.register_pickle_by_value(fusion_tools)  # workers cannot import tests/ modules
    with LocalCluster(
        n_workers=2, threads_per_worker=4, processes=True, resources={"GPU": 1}, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:
        yield client
