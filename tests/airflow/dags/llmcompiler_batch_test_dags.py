"""DAGs for the LLMCompilerBatchOperator tests: prompts from an upstream task's XCom, and from SQL rows.

Both use the ``batch_test_llm`` connection (a planning server the test starts) and take the batch id
and the output path as params, so a test can rerun a batch under the same id.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from llmcompiler_provider.operators.batch import LLMCompilerBatchOperator

PARAMS = {
    "questions": Param(["question 0", "question 1"], type="array"),
    "batch_id": Param("", type="string"),
    "output": Param("", type="string"),
}


@dag(dag_id="llmcompiler_batch_from_xcom", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params=PARAMS, render_template_as_native_obj=False)
def batch_from_xcom() -> None:
    @task
    def make_prompts(params: dict | None = None) -> list[dict]:
        return [{"id": f"q{i}", "prompt": text} for i, text in enumerate(params["questions"])]

    LLMCompilerBatchOperator(
        task_id="answer_all",
        prompts=make_prompts(),
        llm_conn_id="batch_test_llm",
        batch_id="{{ params.batch_id }}",  # empty: the default id of this task instance
        output_path="{{ params.output }}",  # empty: no output file
        max_active_runs=2,
        max_concurrent_requests=2,
        share_tool_calls=False,
    )


@dag(dag_id="llmcompiler_batch_from_sql", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def batch_from_sql() -> None:
    LLMCompilerBatchOperator(
        task_id="answer_all",
        sql="SELECT id, prompt FROM questions ORDER BY id",
        sql_conn_id="batch_test_prompts",
        llm_conn_id="batch_test_llm",
        max_failed_fraction=0.5,
    )


@dag(dag_id="llmcompiler_batch_deferred", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params={"output": Param("", type="string")})
def batch_deferred() -> None:
    LLMCompilerBatchOperator(
        task_id="answer_all",
        prompts=["question 0", "question 1", "question 2"],
        llm_conn_id="batch_test_llm",
        dask_conn_id="llmcompiler_test_dask",
        deferrable=True,
        output_path="{{ params.output }}",
        max_active_runs=2,
        poll_interval=0.5,
    )


@dag(dag_id="llmcompiler_batch_priced", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def batch_priced() -> None:
    LLMCompilerBatchOperator(
        task_id="answer_all",
        prompts=[f"question {i}" for i in range(5)],
        llm_conn_id="batch_test_llm",
        max_active_runs=1,
        max_cost=0.0001,  # the prices come from the connection's extra
    )


batch_from_xcom()
batch_from_sql()
batch_priced()
batch_deferred()
