"""Real processes for the fault tests.

``worker_processes``: a LocalCluster of two worker processes, each under a nanny
that restarts it when it dies, one GPU slot each; its scheduler gives a task up
(``KilledWorker``) once ``ALLOWED_FAILURES + 1`` workers died running it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "agent"))  # scripted_llm: the scripted OpenAI-compatible model server

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig  # noqa: E402
from llmcompiler_provider.execution.cluster import GPU_RESOURCE  # noqa: E402
from llmcompiler_provider.results import ClusterInfo  # noqa: E402

ALLOWED_FAILURES = 1
WORKERS = 2
FAULT_TOOLS = "fault_tools:faults"  # loaded by name: shipped to the worker processes by value

ClusterHandle = tuple[Client, ClusterInfo]


@pytest.fixture(scope="session")
def worker_processes() -> Iterator[ClusterHandle]:
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=4,
            processes=True,
            resources={GPU_RESOURCE: 1},
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
    info = ClusterInfo(kind="local", address=cluster.scheduler_address, gpu_fallback=True, workers=WORKERS,
                       gpu_slots=WORKERS)
    with cluster, Client(cluster) as client:
        yield client, info


@pytest.fixture
def cluster(worker_processes: ClusterHandle) -> ClusterHandle:
    """The session's worker processes, with every worker back (a killed one is restarted by its nanny)."""
    client, _info = worker_processes
    client.wait_for_workers(WORKERS, timeout=120)
    return worker_processes


@pytest.fixture
def make_run(cluster: ClusterHandle, sqlite_url: str) -> Callable[..., LLMCompilerRun]:
    """A run on the worker processes with the fault tools, recorded in a SQLite store of the test's own."""

    def make(plan: str | None = None, prompt: str | None = None, llm=None, **config) -> LLMCompilerRun:
        client, info = cluster
        config.setdefault("toolset", FAULT_TOOLS)
        config.setdefault("store_url", sqlite_url)
        config.setdefault("max_replans", 0)
        return LLMCompilerRun(prompt, plan=plan, llm=llm, config=RunConfig(**config), client=client,
                              cluster_info=info)

    return make

