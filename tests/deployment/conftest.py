"""One real Airflow deployment per test session (see airflow_deployment.py), with a real
``dask scheduler`` and ``dask worker`` for the deferrable runs, all stopped at the end."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "distributed"))  # the Dask process helpers

from airflow_deployment import AirflowDeployment  # noqa: E402
from dask_processes import WorkerSpec, process_cluster  # noqa: E402

DASK_CONN_ENV = "AIRFLOW_CONN_LLMCOMPILER_DEPLOYMENT_DASK"


@pytest.fixture(scope="session")
def deployment(tmp_path_factory) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("deployment") / "airflow-home"
    home.mkdir()
    # the remote worker runs deferred runs (planner and joiner included) and writes to the same store
    worker = WorkerSpec("deferred-runs", resources={"GPU": 1}, nthreads=8, env={"LLMCOMPILER_HOME": str(home)})
    with process_cluster([worker], home.parent / "dask-logs") as dask:
        connection = {"conn_type": "llmcompiler_dask", "host": dask.scheduler_address}
        airflow = AirflowDeployment(home, extra_env={DASK_CONN_ENV: json.dumps(connection)})
        try:
            airflow.start()
            yield airflow
        finally:
            airflow.stop()
