"""A daily batch of questions, one mapped LLMCompiler run each, then a summary of the batch from the store.

    airflow dags test llmcompiler_batch

``summarize`` reads this DAG run's runs back from the metrics store and returns
runs, failures, mean wall time and speedup, and tokens; it runs even when some
questions failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

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
    doc_md=__doc__,
)
def llmcompiler_batch() -> None:
    answers = LLMCompilerOperator.partial(
        task_id="ask", toolset="demo", max_replans=0, store_conn_id=STORE_CONN_ID
    ).expand(prompt=QUESTIONS)

    @task(trigger_rule="all_done")
    def summarize() -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from llmcompiler_provider.hooks.store import MetricsStoreHook
        from llmcompiler_provider.operators.report import batch_summary, latest_per_task
        from llmcompiler_provider.store import list_runs

        ti = get_current_context()["ti"]
        runs = list_runs(MetricsStoreHook(STORE_CONN_ID).get_url(), dag_id=ti.dag_id, limit=1000)
        batch = [r for r in runs if (r.get("airflow") or {}).get("run_id") == ti.run_id]
        return batch_summary(latest_per_task(batch))

    answers >> summarize()


llmcompiler_batch()
