"""One real Airflow deployment per test session (see airflow_deployment.py), with a real
``dask scheduler`` and ``dask worker`` for the deferrable runs, all stopped at the end. Airflow's
OpenTelemetry traces are on in every component and task process, sent to a real OTLP/HTTP
receiver on loopback (``trace_collector``), as a deployment that uses tracing would send them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "distributed"))  # the Dask process helpers

from airflow_deployment import AirflowDeployment, airflow_traces_env  # noqa: E402
from dask_processes import WorkerSpec, process_cluster  # noqa: E402
from otlp_receiver import OTLPReceiver  # noqa: E402

DASK_CONN_ENV = "AIRFLOW_CONN_LLMCOMPILER_DEPLOYMENT_DASK"


@pytest.fixture(scope="session")
def trace_collector() -> Iterator[OTLPReceiver]:
    """The OTLP/HTTP receiver the deployment's traces go to (Airflow's spans and the runs' own)."""
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def deployment(tmp_path_factory, trace_collector) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("deployment") / "airflow-home"
    home.mkdir()
    # the remote worker runs deferred runs (planner and joiner included) and writes to the same store
    worker = WorkerSpec("deferred-runs", resources={"GPU": 1}, nthreads=8, env={"LLMCOMPILER_HOME": str(home)})
    with process_cluster([worker], home.parent / "dask-logs") as dask:
        connection = {"conn_type": "llmcompiler_dask", "host": dask.scheduler_address}
        airflow = AirflowDeployment(home, extra_env={DASK_CONN_ENV: json.dumps(connection),
                                                     **airflow_traces_env(trace_collector.endpoint)})
        try:
            airflow.start()
            yield airflow
        finally:
            airflow.stop()
