"""Fixtures for the security tests: an in-process Dask cluster, the canary file, the scripted model."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "agent"), str(TESTS / "reliability")]  # scripted_llm, faulty_model

from guarded_tools import CANARY_ENV  # noqa: E402

from llmcompiler_provider.execution.cluster import GPU_RESOURCE  # noqa: E402
from llmcompiler_provider.results import ClusterInfo  # noqa: E402


@pytest.fixture(scope="session")
def threaded_cluster() -> Iterator[tuple[Client, ClusterInfo]]:
    with LocalCluster(
        n_workers=1, threads_per_worker=8, processes=False, resources={GPU_RESOURCE: 1}, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:
        yield client, ClusterInfo(kind="local", address=cluster.scheduler_address, workers=1, gpu_slots=1)


@pytest.fixture
def canary(tmp_path, monkeypatch) -> Iterator[Path]:
    """Where the canary tool would leave its file; the test fails if it is there afterwards."""
    path = tmp_path / "canary-was-called"
    monkeypatch.setenv(CANARY_ENV, str(path))
    yield path
    assert not path.exists(), f"the canary tool was called: {path.read_text()!r}"
