"""A private home, an in-process Dask cluster shared by the batch tests, and the planning server."""

from __future__ import annotations

import pytest
from distributed import Client, LocalCluster

from tests.batch.planning_server import PlanningServer


@pytest.fixture(autouse=True)
def private_home(private_home) -> None:
    """Each test gets its own home folder and no store URL from the environment (tests/conftest.py)."""


@pytest.fixture(scope="module")
def dask_client():
    with LocalCluster(n_workers=1, threads_per_worker=16, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


@pytest.fixture
def planning_server():
    with PlanningServer() as server:
        yield server
