"""A nightly batch over a file of prompts: one task, one Dask cluster, one LLM, resumable on retry.

    airflow dags test llmcompiler_nightly_batch
    airflow dags test llmcompiler_nightly_batch --conf '{"prompts": "s3://my-bucket/prompts.jsonl",
                                                        "output_dir": "s3://my-bucket/answers"}'

``answer_all`` (``LLMCompilerBatchOperator``) reads the prompts (JSONL with ``id`` and
``prompt``; CSV or Parquet work the same) from any object storage path, runs up to
``max_active_runs`` of them at once within the endpoint's limits, records every run in the
metrics store under the batch id, and writes one row per prompt to
``<output_dir>/answers-<date>.jsonl``. A retry of the task (``retries=2``) skips the prompts
that already succeeded. The task fails, naming the failed prompt ids, when more than
``max_failed_fraction`` of them failed; its return value (XCom) is the batch's summary.

With the defaults this runs on the embedded local model; for a real endpoint set
``llm_conn_id`` to an ``llmcompiler_llm`` connection and raise the limits.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag

from llmcompiler_provider.operators.batch import LLMCompilerBatchOperator

PROMPTS = (Path(__file__).parent / "prompts" / "nightly_questions.jsonl").resolve().as_uri()
OUTPUT_DIR = (Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "batch-answers").resolve().as_uri()


@dag(
    dag_id="llmcompiler_nightly_batch",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["llmcompiler", "example", "batch"],
    params={
        "prompts": Param(PROMPTS, type="string", description="a .jsonl, .csv or .parquet file of id/prompt rows"),
        "output_dir": Param(OUTPUT_DIR, type="string", description="where the answers file goes"),
    },
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
)
def llmcompiler_nightly_batch() -> None:
    LLMCompilerBatchOperator(
        task_id="answer_all",
        input_path="{{ params.prompts }}",
        output_path="{{ params.output_dir }}/answers-{{ ds }}.jsonl",
        llm_conn_id=None,  # the local model; an llmcompiler_llm connection for a real endpoint
        max_active_runs=4,
        max_concurrent_requests=None,  # e.g. 16 for an endpoint that serves 16 streams
        max_total_tokens=2_000_000,
        max_failed_fraction=0.1,
        execution_timeout=timedelta(hours=6),
    )


llmcompiler_nightly_batch()
