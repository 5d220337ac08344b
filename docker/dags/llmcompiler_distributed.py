"""The compose deployment's example: plans run on its Dask cluster, GPU tools on the dask-cuda workers.

``llmcompiler_dask_default`` is set by ``AIRFLOW_CONN_LLMCOMPILER_DASK_DEFAULT`` in
``docker/docker-compose.yml`` (on Kubernetes: ``docker/k8s/airflow-llmcompiler-env.yaml``).

* ``ask``: the planner (the local model, in the Airflow task) plans; the tools run on the cluster.
* ``ask_deferred``: the whole run is handed to the cluster and the task waits in the triggerer.
* ``summarize_on_gpu``: a fixed plan whose ``llm`` call (``GPU=1``) runs on a GPU worker.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

DASK_CONN_ID = "llmcompiler_dask_default"
GPU_PLAN = """\
1. search("Eiffel Tower height")
2. llm("Say in one sentence how tall the Eiffel Tower is: $1")
3. join()
"""

with DAG(
    dag_id="llmcompiler_distributed",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["llmcompiler", "example", "dask"],
    params={"question": Param("Which is taller, the Eiffel Tower or the Statue of Liberty?", type="string")},
    doc_md=__doc__,
):
    LLMCompilerOperator(
        task_id="ask",
        prompt="{{ params.question }}",
        dask_conn_id=DASK_CONN_ID,
        max_replans=0,
    )
    LLMCompilerOperator(
        task_id="ask_deferred",
        prompt="{{ params.question }}",
        dask_conn_id=DASK_CONN_ID,
        max_replans=0,
        deferrable=True,
    )
    LLMCompilerOperator(task_id="summarize_on_gpu", plan=GPU_PLAN, dask_conn_id=DASK_CONN_ID)
