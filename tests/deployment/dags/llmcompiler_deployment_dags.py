"""DAGs only the deployment tests run (a DAG bundle of their own, see airflow_deployment.py); the
project's own ``dags/`` are the other bundle. The Dask connection is defined by the tests as an
``AIRFLOW_CONN_*`` variable."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

START = datetime(2026, 1, 1)
DASK_CONN_ID = "llmcompiler_deployment_dask"

with DAG("llmcompiler_deployment_deferred", schedule=None, start_date=START, catchup=False):
    # planned and joined by the local model on the remote Dask worker, while the task waits in the triggerer
    LLMCompilerOperator(
        task_id="ask",
        prompt="Which is taller, the Eiffel Tower or the Statue of Liberty?",
        toolset="demo",
        max_replans=0,
        dask_conn_id=DASK_CONN_ID,
        deferrable=True,
        poll_interval=0.5,
    )

with DAG("llmcompiler_deployment_worker_processes", schedule=None, start_date=START, catchup=False):
    # the embedded cluster with worker processes, started from inside a task process
    LLMCompilerOperator(
        task_id="compute",
        plan='1. math("6 * 7")\n2. math("6 + 7")\n3. join()',
        toolset="demo",
        embedded_cluster={"embedded_processes": True, "embedded_workers": 2},
    )
