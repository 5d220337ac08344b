"""A real multi-process Dask deployment on 127.0.0.1: a ``dask scheduler`` and four ``dask worker`` processes.

``gpu-0`` and ``gpu-1`` declare ``--resources GPU=1`` (on this machine they have no
GPU: the resource is what the scheduler places by, as on dask-cuda workers);
``gpu-1`` also preloads ``llmcompiler_provider.execution.worker_state`` and warms one
cached object as it starts. ``cpu-0`` and ``cpu-1`` declare no resources. The scheduler
and ``cpu-1`` preload ``llmcompiler_provider.execution.latency`` (no message batching).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dask_processes import ProcessCluster, WorkerSpec, process_cluster
from dist_tools import WARMED_NAME
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.cluster import GPU_RESOURCE, ClusterOptions
from llmcompiler_provider.execution.worker_state import WARM_ENV
from llmcompiler_provider.results import RunResult

WORKER_STATE_MODULE = "llmcompiler_provider.execution.worker_state"
LATENCY_MODULE = "llmcompiler_provider.execution.latency"
GPU_WORKERS = ("gpu-0", "gpu-1")
CPU_WORKERS = ("cpu-0", "cpu-1")
TOOLSET = "dist_tools:tools"


@pytest.fixture(scope="session")
def deployment(tmp_path_factory) -> Iterator[ProcessCluster]:
    specs = [
        WorkerSpec("gpu-0", resources={GPU_RESOURCE: 1}),
        WorkerSpec(
            "gpu-1",
            resources={GPU_RESOURCE: 1},
            preload=(WORKER_STATE_MODULE,),
            env={WARM_ENV: f"{WARMED_NAME}=dist_tools:make_probe"},
        ),
        WorkerSpec("cpu-0"),
        WorkerSpec("cpu-1", preload=(LATENCY_MODULE,)),
    ]
    log_dir = tmp_path_factory.mktemp("dask-deployment")
    with process_cluster(specs, log_dir, scheduler_preload=(LATENCY_MODULE,)) as cluster:
        yield cluster


@pytest.fixture
def client(deployment: ProcessCluster):
    with deployment.client() as client:
        yield client


@pytest.fixture
def gpu_addresses(deployment: ProcessCluster) -> set[str]:
    return {deployment.addresses[name] for name in GPU_WORKERS}


@pytest.fixture
def all_addresses(deployment: ProcessCluster) -> set[str]:
    return {deployment.addresses[name] for name in GPU_WORKERS + CPU_WORKERS}


@pytest.fixture
def run_plan(request: pytest.FixtureRequest, sqlite_url: str) -> Callable[..., RunResult]:
    """Run a plan through the Dask connection's path, ``ClusterOptions(address=...)``, recorded in SQLite.

    The address defaults to the session's deployment (started only when a test runs there).
    """

    def run(plan: str, *, address: str | None = None, toolset: str = TOOLSET, **config) -> RunResult:
        options = ClusterOptions(address=address or request.getfixturevalue("deployment").scheduler_address)
        run_config = RunConfig(
            toolset=toolset, cluster=options, store_url=sqlite_url, store_strict=True, **config
        )
        return LLMCompilerRun(plan=plan, config=run_config).execute()

    return run
