"""One question, planned by the local model, run on an embedded Dask cluster with the ``demo`` tools.

    airflow dags test llmcompiler_example
    airflow dags test llmcompiler_example --conf '{"question": "How long is the Nile?"}'

The answer is the task's return value; the run (plan, per-task timings, tokens) is
in the metrics store and on the task's "LLMCompiler run" link.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

with DAG(
    dag_id="llmcompiler_example",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["llmcompiler", "example"],
    params={"question": Param("Which is taller, the Eiffel Tower or the Statue of Liberty?", type="string")},
    doc_md=__doc__,
):
    LLMCompilerOperator(
        task_id="ask",
        prompt="{{ params.question }}",
        toolset="demo",
        max_replans=0,  # the small local model answers in one plan; give a larger model 1 or 2
    )
