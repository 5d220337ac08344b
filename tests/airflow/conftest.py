"""Real Airflow 3 for the provider tests: a fresh AIRFLOW_HOME (SQLite) per test session.

The environment is set when this file is imported, before anything imports
Airflow (Airflow reads its configuration once, on import). Two DAG bundles: the
project's ``dags/`` and ``tests/airflow/dags/`` (DAGs only the tests use), so
``dag.test()`` finds every DAG file the way Airflow does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_test_support import REPO, TEST_DAGS, VENV_BIN, airflow_cli, free_port, load_dag


def _configure_airflow_environment() -> Path:
    base = REPO / "test-artifacts"
    base.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=base))
    local_bundle = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local_bundle, "kwargs": {}},
        {"name": "llmcompiler-tests", "classpath": local_bundle, "kwargs": {"path": str(TEST_DAGS)}},
    ]
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "LLMCOMPILER_HOME": str(home),
    })
    os.environ.pop("LLMCOMPILER_STORE_URL", None)  # the default store: SQLite in this home
    return home


AIRFLOW_HOME = _configure_airflow_environment()


@pytest.fixture(scope="session", autouse=True)
def _remove_airflow_home_at_the_end() -> Iterator[None]:
    yield
    from llmcompiler_provider.store import dispose_engines

    dispose_engines()
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once per session; AIRFLOW_HOME."""
    done = airflow_cli("db", "migrate")
    assert done.returncode == 0, f"airflow db migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return AIRFLOW_HOME


@pytest.fixture(autouse=True)
def _keep_sigterm_handler():
    """Airflow's task runner installs a SIGTERM handler (it calls on_kill) in this process: undo it."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def run_dag(airflow_db):
    """``run_dag(dag_id, **test_kwargs)`` -> the finished DagRun of ``dag.test()``."""

    def run(dag_id: str, **kwargs: Any) -> Any:
        return load_dag(dag_id).test(**kwargs)

    return run


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A real ``dask scheduler`` and one ``dask worker`` (8 threads, one GPU slot), as processes."""
    from distributed import Client

    port = str(free_port())
    address = f"tcp://127.0.0.1:{port}"
    logs = AIRFLOW_HOME / "dask-logs"
    logs.mkdir(exist_ok=True)
    dask = str(VENV_BIN / "dask")
    commands = [
        [dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        [dask, "worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "8",
         "--no-dashboard", "--resources", "GPU=1"],
    ]
    processes = []
    try:
        for command, name in zip(commands, ("scheduler", "worker")):
            with open(logs / f"{name}.log", "w") as log:
                processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
