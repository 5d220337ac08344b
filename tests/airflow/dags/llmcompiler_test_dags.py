"""DAGs only the provider tests run (a DAG bundle of their own, see tests/airflow/conftest.py).

Connections they use are defined by the tests as ``AIRFLOW_CONN_*`` variables.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from llmcompiler_provider.airflow_tools import sql_query_toolset
from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

START = datetime(2026, 1, 1)
SECRET_LLM_CONN_ID = "llmcompiler_test_secret_llm"
DASK_CONN_ID = "llmcompiler_test_dask"
SQLITE_CONN_ID = "llmcompiler_test_sqlite"
KILL_MARKER_PARAM = "marker"

FIXED_PLAN = """\
1. search("Eiffel Tower height")
2. search("Statue of Liberty height")
3. math("which is larger", [$1, $2])
4. join()
<END_OF_PLAN>
"""


def slow_step(marker: str) -> str:
    """Write ``marker`` (so the test knows the tool runs), then take a long time."""
    Path(marker).write_text("started")
    time.sleep(20)
    return "finished"


with DAG("llmcompiler_test_mapped_plans", schedule=None, start_date=START, catchup=False,
         params={"base": 40}):
    # plans without a prompt: no LLM, just the tools; the plans are templates rendered per map index
    LLMCompilerOperator.partial(task_id="compute", toolset="demo").expand(plan=[
        '1. math("{{ params.base }} + 2")\n2. join()',
        '1. math("{{ params.base }} * 2")\n2. join()',
        '1. math("{{ params.base }} - {{ ti.map_index }}")\n2. join()',
    ])

with DAG("llmcompiler_test_kill", schedule=None, start_date=START, catchup=False,
         params={KILL_MARKER_PARAM: ""}):
    LLMCompilerOperator(
        task_id="slow",
        plan='1. slow_step("{{ params.marker }}")\n2. join()',
        tools=[slow_step],
        toolset=None,
    )

with DAG("llmcompiler_test_secret", schedule=None, start_date=START, catchup=False):
    # the joiner calls an endpoint that is not there: the run fails, and must not leak the key
    LLMCompilerOperator(
        task_id="ask", prompt="Which is taller?", plan=FIXED_PLAN, llm_conn_id=SECRET_LLM_CONN_ID
    )

with DAG("llmcompiler_test_deferred", schedule=None, start_date=START, catchup=False):
    LLMCompilerOperator(
        task_id="ask",
        prompt="Which is taller, the Eiffel Tower or the Statue of Liberty?",
        plan=FIXED_PLAN,
        dask_conn_id=DASK_CONN_ID,
        deferrable=True,
        poll_interval=0.5,
    )

with DAG("llmcompiler_test_sql", schedule=None, start_date=START, catchup=False):
    # on worker processes: the connection, resolved in the task, travels with the tool
    LLMCompilerOperator(
        task_id="query",
        plan='1. sql_query("SELECT name, height_m FROM towers ORDER BY height_m DESC")\n2. join()',
        toolset=sql_query_toolset(SQLITE_CONN_ID, max_rows=10),
        embedded_cluster={"embedded_processes": True},
    )
