"""A daily batch of questions, one mapped LLMCompiler run each, then a summary that fails on failed prompts.

    airflow dags test llmcompiler_batch
    airflow dags test llmcompiler_batch --conf '{"questions": ["How long is the Nile?", "..."]}'

``summarize`` (``LLMCompilerBatchSummaryOperator``) runs even when questions failed,
logs every question's outcome and run id, and fails the DAG run when more than
``max_failed_fraction`` of them failed (0: any failure), naming them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task

from llmcompiler_provider.operators.batch_summary import LLMCompilerBatchSummaryOperator
from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

STORE_CONN_ID = None  # the default store; or an Airflow connection id / SQLAlchemy URL
QUESTIONS = [
    "Which is taller, the Eiffel Tower or the Statue of Liberty?",
    "What is the combined population of France and Germany?",
    "How long is the Nile?",
    "Which is higher, Mount Everest or K2?",
]


@dag(
    dag_id="llmcompiler_batch",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["llmcompiler", "example"],
    params={"questions": Param(QUESTIONS, type="array", items={"type": "string"}, minItems=1)},
    doc_md=__doc__,
)
def llmcompiler_batch() -> None:
    @task
    def questions(params: dict[str, Any] | None = None) -> list[str]:  # Airflow passes the DAG run's params
        return list((params or {})["questions"])

    answers = LLMCompilerOperator.partial(
        task_id="ask", toolset="demo", max_replans=0, store_conn_id=STORE_CONN_ID
    ).expand(prompt=questions())
    answers >> LLMCompilerBatchSummaryOperator(
        task_id="summarize", batch_task_id="ask", max_failed_fraction=0.0, store_conn_id=STORE_CONN_ID
    )


llmcompiler_batch()
