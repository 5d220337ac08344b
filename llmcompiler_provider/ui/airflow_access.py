"""The viewer dependency inside Airflow: Airflow's login and DAG permissions decide what a person reads.

``GetUserDep`` is Airflow's own authentication (the JWT in the ``Authorization``
header or the UI's session cookie); without it the request gets Airflow's 401.
Someone allowed to read every DAG reads every run, including runs made outside
Airflow; anyone else reads only the runs of the DAGs the auth manager lets them read.
"""

from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import GetUserDep

from llmcompiler_provider.ui.access import Viewer


def airflow_viewer(user: GetUserDep) -> Viewer:
    auth_manager = get_auth_manager()
    if auth_manager.is_authorized_dag(method="GET", user=user):  # no DAG named: every DAG
        return Viewer()
    readable = auth_manager.get_authorized_dag_ids(user=user, method="GET")
    return Viewer(readable_dag_ids=frozenset(readable), reads_runs_outside_airflow=False)
