"""Airflow 3 dynamic task mapping: one Airflow task instance per call, run with ``dag.test()``.

The plan becomes a DAG with one mapped task per dependency level (calls of equal
depth), ``.expand()``-ed over that level's calls; a call reads its inputs from the
XComs of the earlier levels. ``dag.test()`` runs in a child process with its own
``AIRFLOW_HOME`` (SQLite metadata database, migrated once), because Airflow
reads its configuration once per process. The wall time is measured in the child
around ``dag.test()``; each call appends its start and stop to a JSON-lines file.
This module is only imported for the full suite (Airflow stays out of the core).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import child_environment
from benchmarks.executors.base import CallInterval, Outcome, Prepared, result_text
from benchmarks.workloads import Workload
from llmcompiler_provider.plan.ir import Interp, Ref, TaskGraph

DAG_FILE = '''"""Written by the llmcompiler benchmark: the DAG of the plan in bench_spec.json."""
from benchmarks.executors.airflow_mapping import build_dag

dag = build_dag(__file__.rsplit("/", 1)[0] + "/bench_spec.json")
'''


def levels(graph: TaskGraph) -> list[list[int]]:
    """Task ids grouped by depth (one more than the deepest input's)."""
    depth: dict[int, int] = {}
    for task in graph.tasks.values():
        depth[task.id] = 1 + max((depth[d] for d in task.deps if d in depth), default=-1)
    out: list[list[int]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for task_id, d in depth.items():
        out[d].append(task_id)
    return out


def _encode(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"$ref": value.id}
    if isinstance(value, Interp):
        raise ValueError("the Airflow baseline takes bare references only")
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any, results: dict[int, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$ref"}:
        return results[value["$ref"]]
    if isinstance(value, list):
        return [_decode(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, results) for k, v in value.items()}
    return value


def run_call(spec: dict[str, Any], upstream: list, timings: str) -> dict[str, Any]:
    """One Airflow task instance: one tool call, its inputs from the earlier levels' XComs."""
    from benchmarks.tools import bench

    results = {item["id"]: item["value"] for level in upstream for item in level}
    tool = bench[spec["tool"]]
    args, kwargs = _decode(spec["args"], results), _decode(spec["kwargs"], results)
    start = time.time()
    value = asyncio.run(tool.fn(*args, **kwargs)) if tool.is_async else tool.fn(*args, **kwargs)
    stop = time.time()
    with open(timings, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": spec["id"], "start": start, "stop": stop, "result": result_text(value)}) + "\n")
    return {"id": spec["id"], "value": value}


def build_dag(spec_path: str) -> Any:
    from airflow.sdk import DAG, task

    from benchmarks.tools import bench
    from llmcompiler_provider.plan import compile_plan

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    graph = compile_plan(spec["plan"], bench.signatures(), optimize=False)
    call = task(run_call)
    with DAG(spec["dag_id"], schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False) as dag:
        outputs: list[Any] = []
        for depth, ids in enumerate(levels(graph)):
            specs = [
                {"id": i, "tool": graph.tasks[i].tool, "args": _encode(list(graph.tasks[i].args)),
                 "kwargs": _encode(dict(graph.tasks[i].kwargs))}
                for i in ids
            ]
            mapped = call.override(task_id=f"level_{depth}").partial(upstream=list(outputs), timings=spec["timings"])
            outputs.append(mapped.expand(spec=specs))
    return dag


def main(spec_path: str) -> None:
    """In the child process: run the DAG once with ``dag.test()``, write the wall time."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    dag = build_dag(spec_path)
    started = time.time()
    run = dag.test()
    wall = time.time() - started
    Path(spec["result"]).write_text(json.dumps({"wall_s": wall, "started": started, "state": str(run.state)}))


class AirflowMappingExecutor:
    name = "airflow-mapping"
    description = "Airflow 3 dynamic task mapping, one task instance per call, dag.test() in a child process"

    def __init__(self) -> None:
        self.home: Path | None = None

    def applies_to(self, workload: Workload) -> bool:
        return not workload.streamed

    def _environment(self) -> dict[str, str]:
        assert self.home is not None
        return child_environment(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.home / "dags"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.home / 'airflow.db'}",
            AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        )

    def _prepare_home(self) -> None:
        if self.home is not None:
            return
        self.home = Path(tempfile.mkdtemp(prefix="llmcompiler-bench-airflow-"))
        (self.home / "dags").mkdir()
        (self.home / "dags" / "bench_mapping_dag.py").write_text(DAG_FILE, encoding="utf-8")
        airflow = Path(sys.executable).parent / "airflow"
        done = subprocess.run([str(airflow), "db", "migrate"], env=self._environment(), capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {done.stderr.strip().splitlines()[-1:]}")

    def run(self, prepared: Prepared) -> Outcome:
        self._prepare_home()
        assert self.home is not None
        run_id = uuid.uuid4().hex[:8]
        timings, result = self.home / f"timings-{run_id}.jsonl", self.home / f"result-{run_id}.json"
        spec_path = self.home / "dags" / "bench_spec.json"
        spec_path.write_text(json.dumps({
            "plan": prepared.workload.plan, "dag_id": f"bench_{prepared.workload.name.replace('-', '_')}",
            "timings": str(timings), "result": str(result),
        }), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.executors.airflow_mapping", str(spec_path)],
            env=self._environment(), capture_output=True, text=True, timeout=3600,
        )
        if done.returncode != 0 or not result.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"dag.test() failed: {' | '.join(tail)}")
        figures = json.loads(result.read_text(encoding="utf-8"))
        if figures["state"] != "success":
            raise RuntimeError(f"the DAG run ended {figures['state']}")
        calls = [
            CallInterval(row["id"], row["start"], row["stop"], "airflow", row["result"])
            for row in map(json.loads, timings.read_text(encoding="utf-8").splitlines())
        ]
        return Outcome(figures["wall_s"], calls, figures["started"])

    def close(self) -> None:
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None


if __name__ == "__main__":
    main(sys.argv[1])
