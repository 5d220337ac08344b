"""Every endpoint of the UI app refuses a viewer without access to a run's DAG (403), and nothing of
that run (its id, prompt or answer) appears in any response they get.

The sweep walks the app's own route table, so an endpoint added later must be classified
here (the test fails on one it does not know). Inside Airflow the viewer comes from the auth
manager (``ui.airflow_access.airflow_viewer``); here it is given directly.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import AirflowIdentity, RunResult
from llmcompiler_provider.store import save_batch, save_run
from llmcompiler_provider.ui.access import Viewer
from llmcompiler_provider.ui.app import URL_PREFIX, create_app

SECRET_DAG, PUBLIC_DAG = "payroll", "weather"
SECRET_TEXT = "the CEO earns 7731 gold coins"
AIRFLOW_RUN = "manual__2026-01-01T00:00:00"

RUN_PAGES = {"/runs/{run_id}", "/api/runs/{run_id}", "/api/runs/{run_id}/gantt"}
BATCH_PAGES = {"/batches/{batch_id}", "/api/batches/{batch_id}", "/api/batches/{batch_id}/runs"}
TASK_INSTANCE = {"/ti", "/api/ti"}
LISTS = {"/runs", "/api/runs", "/trends", "/api/trends", "/batches", "/api/batches"}
SECRET_BATCH = "payroll-batch-1"
NO_RUN_DATA = {"/", "/icon.svg", "/api/openapi.json"}

VIEWERS = {
    "no-dag-at-all": Viewer(readable_dag_ids=frozenset(), reads_runs_outside_airflow=False),
    "another-dag-only": Viewer(readable_dag_ids=frozenset({PUBLIC_DAG}), reads_runs_outside_airflow=False),
}


def recorded(url: str, prompt: str, dag_id: str | None) -> str:
    result = RunResult(prompt=prompt, answer=f"answer to {prompt}", status="success", finished=0.0)
    if dag_id:
        result.airflow = AirflowIdentity(dag_id=dag_id, run_id=AIRFLOW_RUN, task_id="ask", map_index=None,
                                         try_number=1)
    if dag_id == SECRET_DAG:  # the secret run is also a prompt of a batch of the secret DAG
        result.batch_id, result.prompt_id = SECRET_BATCH, "salary"
        save_batch(BatchSummary(batch_id=SECRET_BATCH, name=f"{dag_id}.ask", airflow=result.airflow, total=1,
                                succeeded=1, failed_ids=[]), url)
    result.finished = result.started + 1
    save_run(result, url)
    return result.run_id


@pytest.fixture
def store(sqlite_url) -> tuple[str, str]:
    secret = recorded(sqlite_url, f"How much? {SECRET_TEXT}", SECRET_DAG)
    recorded(sqlite_url, "Will it rain tomorrow?", PUBLIC_DAG)
    recorded(sqlite_url, "A question from the command line", None)
    return sqlite_url, secret


@pytest.mark.parametrize("viewer", VIEWERS.values(), ids=VIEWERS.keys())
def test_every_endpoint_refuses_a_run_of_a_dag_the_viewer_cannot_read(viewer, store):
    url, secret_run = store
    app = create_app(url, viewer=lambda: viewer)
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    paths = {route.path for route in app.routes if "GET" in getattr(route, "methods", ())}
    unknown = paths - RUN_PAGES - BATCH_PAGES - TASK_INSTANCE - LISTS - NO_RUN_DATA
    assert not unknown, f"classify the new endpoints in this sweep: {sorted(unknown)}"

    bodies = []
    with TestClient(root) as client:
        for path in sorted(paths):
            concrete = path.replace("{run_id}", secret_run).replace("{batch_id}", SECRET_BATCH)
            get = lambda **params: client.get(URL_PREFIX + concrete, params=params)  # noqa: E731
            if path in RUN_PAGES or path in BATCH_PAGES:
                responses = [get()]
                assert responses[0].status_code == 403, path
            elif path in TASK_INSTANCE:
                responses = [get(dag_id=SECRET_DAG, run_id=AIRFLOW_RUN, task_id="ask")]
                assert responses[0].status_code == 403, path
            elif path in LISTS:
                responses = [get(), get(dag_id=SECRET_DAG)]
                assert [r.status_code for r in responses] == [200, 403], path
            else:
                responses = [get()]
            bodies += [r.text for r in responses]
    for body in bodies:
        assert secret_run not in body and SECRET_TEXT not in body and SECRET_BATCH not in body


def test_a_viewer_of_the_dag_reads_the_same_run(store):
    url, secret_run = store
    allowed = Viewer(readable_dag_ids=frozenset({SECRET_DAG}), reads_runs_outside_airflow=False)
    root = FastAPI()
    root.mount(URL_PREFIX, create_app(url, viewer=lambda: allowed))
    with TestClient(root) as client:
        detail = client.get(f"{URL_PREFIX}/api/runs/{secret_run}")
        listed = client.get(f"{URL_PREFIX}/api/runs").json()["runs"]
    assert detail.status_code == 200 and SECRET_TEXT in detail.json()["prompt"]
    assert [run["run_id"] for run in listed] == [secret_run]  # not the other DAG's, not the command line's
