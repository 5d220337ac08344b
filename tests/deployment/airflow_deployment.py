"""A real Airflow 3 deployment for the tests, as a user runs one: ``airflow scheduler``,
``dag-processor``, ``triggerer`` and ``api-server`` as separate processes, the LocalExecutor
(task processes started by the Task SDK supervisor, without the metadata database), the
PostgreSQL server as the metadata database, and a fresh AIRFLOW_HOME with no plugins folder,
driven through the REST API. ``airflow_traces_env`` switches Airflow's OpenTelemetry traces on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from process_support import free_port, stop_process_group, wait_until_healthy
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DEPLOYMENT_DAGS = Path(__file__).resolve().parent / "dags"
POSTGRES_SERVER_URL = os.environ.get(
    "LLMCOMPILER_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
ADMIN_PASSWORD = "admin-password-for-the-deployment-tests"
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
START_TIMEOUT_S = 180
FINISHED_STATES = frozenset({"success", "failed"})


def airflow_traces_env(otlp_endpoint: str) -> dict[str, str]:
    """Airflow 3.3's own OpenTelemetry traces (``[traces] otel_on``), sent over OTLP/HTTP to
    ``otlp_endpoint`` by every component and task process.

    Airflow builds its tracer provider from the standard ``OTEL_*`` variables, but picks the
    exporter by its entry-point name alone: ``otlp`` is OTLP/gRPC whatever
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` says, so OTLP/HTTP is ``otlp_proto_http``. Its spans are
    batched: a short schedule delay has them at the receiver soon after they end."""
    return {
        "AIRFLOW__TRACES__OTEL_ON": "True",
        "OTEL_TRACES_EXPORTER": "otlp_proto_http",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }


@dataclass
class AirflowDeployment:
    """Start with :meth:`start`, stop with :meth:`stop`; ``api`` is an authenticated REST client."""

    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    parallelism: int = 4
    port: int = field(default_factory=free_port)
    database: str = field(default_factory=lambda: f"llmcompiler_airflow_{uuid.uuid4().hex[:12]}")
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    api: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return POSTGRES_SERVER_URL.rsplit("/", 1)[0] + f"/{self.database}"

    @property
    def env(self) -> dict[str, str]:
        ours = ("AIRFLOW", "_AIRFLOW", "LLMCOMPILER", "DASK_")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        local_bundle = "airflow.dag_processing.bundles.local.LocalDagBundle"
        bundles = [
            {"name": "dags-folder", "classpath": local_bundle, "kwargs": {}},
            {"name": "llmcompiler-deployment-tests", "classpath": local_bundle,
             "kwargs": {"path": str(DEPLOYMENT_DAGS)}},
        ]
        return {
            **inherited,
            "PATH": f"{VENV_BIN}:{inherited.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-for-the-deployment-tests-0123456789",
            "AIRFLOW__API__SECRET_KEY": "secret-key-for-the-deployment-tests",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            # runs are triggered by the tests only: no run for the @daily batch's last interval
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
            "LLMCOMPILER_HOME": str(self.home),
            **self.extra_env,
        }

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": ADMIN_PASSWORD}))
        admin = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        admin.dispose()
        self.airflow("db", "migrate")
        for component in COMPONENTS:
            args = [component]
            if component == "api-server":
                args += ["--port", str(self.port), "--workers", "1"]
            log = (self.home / f"{component}.log").open("w")
            self.processes[component] = subprocess.Popen(
                [str(VENV_BIN / "airflow"), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_healthy(self.base_url, self._check_alive, START_TIMEOUT_S, lambda: self.logs("api-server"))
        token = httpx.post(f"{self.base_url}/auth/token",
                           json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
        assert token.status_code == 201, token.text
        self.api = httpx.Client(base_url=self.base_url, timeout=30,
                                headers={"Authorization": f"Bearer {token.json()['access_token']}"})

    def stop(self) -> None:
        if self.api is not None:
            self.api.close()
        for process in self.processes.values():
            stop_process_group(process)
        admin = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        admin.dispose()

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run([str(VENV_BIN / "airflow"), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def logs(self, component: str) -> str:
        return (self.home / f"{component}.log").read_text(errors="replace")[-4000:]

    def _check_alive(self) -> None:
        for component, process in self.processes.items():
            assert process.poll() is None, f"airflow {component} exited:\n{self.logs(component)}"

    # the REST API ---------------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = START_TIMEOUT_S) -> None:
        """Until the dag-processor has parsed ``dag_id``; then unpause it."""
        deadline = time.monotonic() + timeout
        while self.api.get(f"/api/v2/dags/{dag_id}").status_code != 200:
            self._check_alive()
            errors = self.api.get("/api/v2/importErrors").json().get("import_errors", [])
            assert not errors, f"DAG import errors: {errors}"
            assert time.monotonic() < deadline, f"{dag_id} was not parsed in {timeout} s:\n{self.logs('dag-processor')}"
            time.sleep(1)
        response = self.api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert response.status_code == 200, response.text

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.wait_for_dag(dag_id)
        response = self.api.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        assert response.status_code == 200, response.text
        return response.json()["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600, watch=None) -> str:
        """The DAG run's final state; ``watch(task_instances)`` is called on every look."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            state = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if watch is not None:
                watch(self.task_instances(dag_id, run_id))
            if state in FINISHED_STATES:
                return state
            assert time.monotonic() < deadline, (
                f"{dag_id} {run_id} still {state} after {timeout} s: {self.task_instances(dag_id, run_id)}\n"
                f"{self.logs('scheduler')}"
            )
            time.sleep(0.5)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, map_index=map_index, deserialize=True)["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = self.api.get(path, params={"map_index": map_index, "full_content": True},
                                headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text[:500]
        content = response.json().get("content")
        if not isinstance(content, list):
            return str(content)
        return "\n".join(_log_line(line) for line in content)


def _log_line(line: Any) -> str:
    """A structured task-log line as the UI shows it: the event, then any exception's type and message."""
    if not isinstance(line, dict):
        return str(line)
    errors = [f"{e.get('exc_type')}: {e.get('exc_value')}" for e in line.get("error_detail") or ()]
    return "\n".join([str(line.get("event", "")), *errors])
