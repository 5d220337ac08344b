"""The batch suite's comparison: the same prompts as mapped ``LLMCompilerOperator`` tasks under a real Airflow.

One task instance per prompt (``LLMCompilerOperator.partial(...).expand(prompt=[...])``,
what a batch was before issue 16), each starting its own embedded Dask cluster and its
own chat model, under the LocalExecutor with a PostgreSQL metadata database: the
deployment the tests start (``tests/deployment/airflow_deployment.py``: scheduler,
dag-processor, triggerer and api-server as processes, driven through the REST API),
with the DAG below in a bundle of its own. The LLM connection points at the suite's
scripted endpoint. Needs PostgreSQL at 127.0.0.1:5432 (``LLMCOMPILER_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import ROOT
from benchmarks.batch_endpoint import EndpointProcess
from benchmarks.batch_suite import API_KEY, MODEL, TOOLSET_PATH, BatchSuiteSpec
from benchmarks.batch_workload import ENDPOINT_ENV
from benchmarks.progress import Progress

DAG_ID = "llmcompiler_bench_batch_mapping"
CONN_ID = "llmcompiler_bench_endpoint"
SPEC_FILE = "batch_mapping.json"
DAG_FILE = f'''"""Written by the batch benchmark: one mapped LLMCompilerOperator task per prompt of {SPEC_FILE}."""
import json
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

spec = json.loads((Path(__file__).parent / "{SPEC_FILE}").read_text())
with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_tasks=spec["parallelism"]):
    LLMCompilerOperator.partial(
        task_id="ask", toolset=spec["toolset"], llm_conn_id="{CONN_ID}", max_replans=0, store_conn_id=spec["store"],
    ).expand(prompt=spec["prompts"])
'''
RUN_TIMEOUT_S = 3600


def _deployment_class() -> Any:
    """``AirflowDeployment`` of the tests (with the helpers it imports from ``tests/``)."""
    for folder in (ROOT / "tests", ROOT / "tests" / "deployment"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    from airflow_deployment import AirflowDeployment

    return AirflowDeployment


def airflow_phase(spec: BatchSuiteSpec, endpoint: EndpointProcess, folder: Path, progress: Progress) -> dict[str, Any]:
    count = spec.airflow_prompts
    workload = spec.workload(count)
    dags, store = folder / "airflow-dags", folder / "airflow-runs.db"
    dags.mkdir(exist_ok=True)
    (dags / "batch_mapping_dag.py").write_text(DAG_FILE, encoding="utf-8")
    (dags / SPEC_FILE).write_text(json.dumps({
        "prompts": [workload.prompt(k) for k in range(count)], "toolset": TOOLSET_PATH,
        "store": f"sqlite:///{store}", "parallelism": spec.airflow_parallelism,
    }), encoding="utf-8")
    bundles = [{"name": "llmcompiler-bench-batch", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(dags)}}]
    connection = {"conn_type": "llmcompiler_llm", "host": endpoint.base_url, "password": API_KEY,
                  "extra": {"model": MODEL}}
    deployment = _deployment_class()(
        folder / "airflow-home",
        parallelism=spec.airflow_parallelism,
        extra_env={
            "PYTHONPATH": str(ROOT),  # the task processes import the workload's tools from benchmarks/
            ENDPOINT_ENV: endpoint.url,
            f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, count)),
        },
    )
    progress.stage(f"airflow: starting a deployment (LocalExecutor, parallelism {spec.airflow_parallelism})")
    try:
        deployment.start()
        deployment.wait_for_dag(DAG_ID)
        endpoint.reset()
        progress.stage(f"airflow: {count} mapped tasks")
        run_id = deployment.trigger(DAG_ID)
        state = deployment.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT_S)
        dag_run = deployment.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        instances = deployment.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                                   limit=count + 10)["task_instances"]
    finally:
        deployment.stop()
    return figures(count, spec.airflow_parallelism, state, dag_run, instances, f"sqlite:///{store}", endpoint.stats())


def figures(count: int, parallelism: int, state: str, dag_run: dict[str, Any], instances: list[dict[str, Any]],
            store: str, stats: dict[str, Any]) -> dict[str, Any]:
    from llmcompiler_provider.store import list_runs

    wall = _epoch(dag_run["end_date"]) - _epoch(dag_run["start_date"])
    durations = {ti["map_index"]: _epoch(ti["end_date"]) - _epoch(ti["start_date"])
                 for ti in instances if ti.get("start_date") and ti.get("end_date")}
    runs = {r.airflow.map_index: r for r in list_runs(store, limit=None, dag_id=DAG_ID) if r.airflow is not None}
    overheads = [durations[i] - (runs[i].timings.wall_s or 0.0) for i in durations if i in runs]
    succeeded = sum(ti["state"] == "success" for ti in instances)
    return {
        "prompts": count,
        "parallelism": parallelism,
        "state": state,
        "wall_s": wall,
        "runs_per_minute": count * 60.0 / wall if wall > 0 else 0.0,
        "succeeded": succeeded,
        "failed": count - succeeded,
        "task_median_s": statistics.median(durations.values()) if durations else None,
        "run_median_s": statistics.median(r.timings.wall_s or 0.0 for r in runs.values()) if runs else None,
        "overhead_per_prompt_s": statistics.median(overheads) if overheads else None,
        "bound_s": stats["bound_s"],
        "efficiency": stats["bound_s"] / wall if wall > 0 else None,
        "requests": stats["requests"],
        "rate_limited": stats["rate_limited"],
        "tool_executions": stats["tool_executions"],
        "tool_duplicates": stats["tool_duplicates"],
    }


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
