"""Helpers for the Airflow tests (the environment itself is set up by conftest.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT_DAGS = REPO / "dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
VENV_BIN = Path(sys.executable).parent


def airflow_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``airflow`` command with this session's environment."""
    return subprocess.run([str(VENV_BIN / "airflow"), *args], capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


def load_dag(dag_id: str) -> Any:
    """The DAG as Airflow parses it from its file in one of the bundles."""
    from airflow.dag_processing.dagbag import DagBag

    for folder in (PROJECT_DAGS, TEST_DAGS):
        bag = DagBag(dag_folder=str(folder))
        if dag_id in bag.dags:
            return bag.dags[dag_id]
    raise LookupError(f"no DAG {dag_id!r} in {PROJECT_DAGS} or {TEST_DAGS}")


def task_states(dag_run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()}


def xcoms(dag_run: Any, task_id: str, map_index: int = -1) -> dict[str, Any]:
    """Every XCom the task instance pushed, by key."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                                  task_ids=task_id, map_indexes=map_index)).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    """Define an Airflow connection the JSON way: ``AIRFLOW_CONN_<ID>``."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.2)
