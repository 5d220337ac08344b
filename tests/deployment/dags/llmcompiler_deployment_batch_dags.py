"""A batch whose first try fails on one prompt and whose retry (one second later) resumes the batch.

The test starts a planning server on loopback and creates the ``deployment_batch_llm`` connection
through the REST API; ``input`` and ``output`` are files the test writes and reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag

from llmcompiler_provider.operators.batch import LLMCompilerBatchOperator


@dag(dag_id="llmcompiler_deployment_batch", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params={"input": Param("", type="string"), "output": Param("", type="string")})
def deployment_batch() -> None:
    LLMCompilerBatchOperator(
        task_id="answer_all",
        input_path="{{ params.input }}",
        output_path="{{ params.output }}",
        llm_conn_id="deployment_batch_llm",
        max_active_runs=2,
        progress_every_s=1.0,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )


deployment_batch()
