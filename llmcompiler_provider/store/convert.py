"""Between a run result (``RunResult.to_dict()``) and the store's rows, both ways.

Times are epoch seconds in the dicts and UTC timestamps in the tables. Long
values are capped so that one run cannot bloat the store: task arguments,
result previews and errors.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from llmcompiler_provider.metrics import figures_for_plans, result_counts
from llmcompiler_provider.results import RESULT_PREVIEW_CHARS, preview
from llmcompiler_provider.store.models import LLMCallRow, Plan, Run, Task

ARGUMENTS_JSON_CHARS = 4000
ERROR_CHARS = 8000
SHORT_TEXT_CHARS = 200
PROMPT_PREVIEW_CHARS = 200

# keys of RunResult.to_dict() that have columns; the rest is kept in run.metrics["extra"]
RESULT_KEYS = {
    "run_id", "status", "error", "prompt", "prompt_hash", "answer", "toolset", "planner_model",
    "joiner_model", "cluster", "airflow", "started", "finished", "plans", "llm_calls", "timings",
    "counts", "tokens", "metrics_saved", "metrics_error",
}
AIRFLOW_KEYS = ("dag_id", "run_id", "task_id", "map_index", "try_number")


# -- small value helpers ---------------------------------------------------------------
def to_timestamp(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=timezone.utc) if epoch is not None else None


def to_epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)  # SQLite drops the zone
    return aware.timestamp()


def clean_text(value: Any, limit: int | None = None) -> str | None:
    """Text without NUL characters (PostgreSQL refuses them), capped at ``limit`` characters."""
    if value is None:
        return None
    text = (value if isinstance(value, str) else str(value)).replace("\x00", "\ufffd")
    return preview(text, limit) if limit else text


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data; anything JSON cannot hold becomes its repr."""
    return json.loads(json.dumps(value, default=repr))


def capped_arguments(args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    data = {"args": args, "kwargs": kwargs}
    encoded = json.dumps(data, default=repr)
    if len(encoded) <= ARGUMENTS_JSON_CHARS:
        return json.loads(encoded)
    return {"truncated": True, "preview": clean_text(encoded, ARGUMENTS_JSON_CHARS)}


def stored_airflow_try(result: dict[str, Any]) -> dict[str, Any] | None:
    """The Airflow try that produced ``result`` (map_index -1 when unmapped), or None outside Airflow."""
    airflow = result.get("airflow") or {}
    if not all(airflow.get(key) is not None for key in ("dag_id", "run_id", "task_id")):
        return None
    identity = {key: airflow.get(key) for key in AIRFLOW_KEYS}
    identity["map_index"] = -1 if identity["map_index"] is None else int(identity["map_index"])
    if identity["try_number"] is not None:
        identity["try_number"] = int(identity["try_number"])
    return identity


# -- result -> rows --------------------------------------------------------------------
def _timings(result: dict[str, Any]) -> dict[str, Any]:
    """The result's timings, with the task-derived figures computed when the run loop left them out."""
    timings = dict(result.get("timings") or {})
    plans = result.get("plans") or []
    if not timings.get("sum_task_s") and any(t.get("start") is not None for p in plans for t in p.get("tasks", [])):
        figures = figures_for_plans(plans, (result.get("cluster") or {}).get("gpu_slots") or 0)
        timings.update(
            sum_task_s=figures.sum_task_s,
            critical_path_s=figures.critical_path_s,
            speedup=figures.speedup,
            efficiency=figures.efficiency,
            gpu_slot_utilization=figures.gpu_slot_utilization,
        )
        if not timings.get("execution_s"):
            timings["execution_s"] = figures.execution_wall_s
    if not timings.get("wall_s") and result.get("started") is not None and result.get("finished") is not None:
        timings["wall_s"] = result["finished"] - result["started"]
    return timings


def run_row(result: dict[str, Any], saved_at: datetime) -> Run:
    if not result.get("run_id"):
        raise ValueError("a run result needs a run_id to be stored")
    cluster = result.get("cluster") or {}
    identity = stored_airflow_try(result) or {}
    counts = result_counts(result)
    timings = _timings(result)
    extra = {k: v for k, v in result.items() if k not in RESULT_KEYS}
    return Run(
        id=str(result["run_id"]),
        dag_id=identity.get("dag_id"),
        airflow_run_id=identity.get("run_id"),
        task_id=identity.get("task_id"),
        map_index=identity.get("map_index"),
        try_number=identity.get("try_number"),
        prompt=clean_text(result.get("prompt")),
        prompt_hash=result.get("prompt_hash"),
        status=clean_text(result.get("status") or "unknown", 16),
        error=clean_text(result.get("error"), ERROR_CHARS),
        started=to_timestamp(result.get("started")),
        finished=to_timestamp(result.get("finished")),
        planner_model=clean_text(result.get("planner_model")),
        joiner_model=clean_text(result.get("joiner_model")),
        toolset=clean_text(result.get("toolset"), SHORT_TEXT_CHARS),
        cluster_kind=clean_text(cluster.get("kind"), 32),
        cluster_address=clean_text(cluster.get("address")),
        gpu_fallback=bool(cluster.get("gpu_fallback")),
        cluster_workers=int(cluster.get("workers") or 0),
        gpu_slots=int(cluster.get("gpu_slots") or 0),
        task_count=counts["tasks"],
        replan_count=counts["replans"],
        failed_task_count=counts["failed_tasks"],
        prompt_tokens=counts["prompt_tokens"],
        completion_tokens=counts["completion_tokens"],
        wall_s=timings.get("wall_s"),
        sum_task_s=timings.get("sum_task_s"),
        critical_path_s=timings.get("critical_path_s"),
        speedup=timings.get("speedup"),
        efficiency=timings.get("efficiency"),
        first_dispatch_s=timings.get("first_dispatch_s"),
        gpu_slot_utilization=timings.get("gpu_slot_utilization"),
        answer=clean_text(result.get("answer")),
        metrics=json_safe({"timings": timings, "extra": extra} if extra else {"timings": timings}),
        saved_at=saved_at,
    )


def plan_rows(result: dict[str, Any]) -> list[Plan]:
    return [
        Plan(
            run_id=str(result["run_id"]),
            iteration=int(p.get("iteration", index)),
            text=clean_text(p.get("text") or ""),
            thought=clean_text(p.get("thought")),
            compile_errors=json_safe([clean_text(e, ERROR_CHARS) for e in p.get("compile_errors") or []]),
        )
        for index, p in enumerate(result.get("plans") or [])
    ]


def task_rows(result: dict[str, Any]) -> list[Task]:
    rows = []
    for index, plan in enumerate(result.get("plans") or []):
        for task in plan.get("tasks") or []:
            rows.append(
                Task(
                    run_id=str(result["run_id"]),
                    plan_iteration=int(plan.get("iteration", index)),
                    task_id=int(task["id"]),
                    tool=clean_text(task.get("tool") or "", SHORT_TEXT_CHARS),
                    arguments=capped_arguments(task.get("args") or [], task.get("kwargs") or {}),
                    deps=[int(d) for d in task.get("deps") or []],
                    resources=json_safe(task.get("resources") or {}),
                    priority=int(task.get("priority") or 0),
                    queued=to_timestamp(task.get("queued")),
                    started=to_timestamp(task.get("start")),
                    finished=to_timestamp(task.get("stop")),
                    worker=clean_text(task.get("worker")),
                    thread=task.get("thread"),
                    attempts=int(task.get("attempts") or 0),
                    status=clean_text(task.get("status") or "pending", 16),
                    error=clean_text(task.get("error"), ERROR_CHARS),
                    result_preview=clean_text(task.get("result"), RESULT_PREVIEW_CHARS),
                    unit=clean_text(task.get("unit")),
                )
            )
    return rows


def llm_call_rows(result: dict[str, Any]) -> list[LLMCallRow]:
    return [
        LLMCallRow(
            run_id=str(result["run_id"]),
            seq=seq,
            role=clean_text(call.get("role") or "unknown", 32),
            model=clean_text(call.get("model")),
            prompt_tokens=int(call.get("prompt_tokens") or 0),
            completion_tokens=int(call.get("completion_tokens") or 0),
            latency_s=float(call.get("latency_s") or 0.0),
            ttft_s=call.get("ttft_s"),
            started=to_timestamp(call.get("started")),
            error=clean_text(call.get("error"), ERROR_CHARS),
        )
        for seq, call in enumerate(result.get("llm_calls") or [])
    ]


# -- rows -> dicts ---------------------------------------------------------------------
def run_summary(run: Run) -> dict[str, Any]:
    """The fields the run list shows."""
    airflow = (
        {"dag_id": run.dag_id, "run_id": run.airflow_run_id, "task_id": run.task_id,
         "map_index": run.map_index, "try_number": run.try_number}
        if run.dag_id is not None else None
    )
    return {
        "run_id": run.id,
        "status": run.status,
        "error": run.error,
        "started": to_epoch(run.started),
        "finished": to_epoch(run.finished),
        "dag_id": run.dag_id,
        "airflow": airflow,
        "prompt_preview": clean_text(run.prompt, PROMPT_PREVIEW_CHARS),
        "prompt_hash": run.prompt_hash,
        "toolset": run.toolset,
        "planner_model": run.planner_model,
        "joiner_model": run.joiner_model,
        "counts": {"tasks": run.task_count, "replans": run.replan_count, "failed_tasks": run.failed_task_count},
        "tokens": {"prompt": run.prompt_tokens, "completion": run.completion_tokens},
        "wall_s": run.wall_s,
        "sum_task_s": run.sum_task_s,
        "critical_path_s": run.critical_path_s,
        "speedup": run.speedup,
        "efficiency": run.efficiency,
        "first_dispatch_s": run.first_dispatch_s,
        "gpu_slot_utilization": run.gpu_slot_utilization,
    }


def task_dict(task: Task) -> dict[str, Any]:
    started, finished = to_epoch(task.started), to_epoch(task.finished)
    return {
        "plan_iteration": task.plan_iteration,
        "id": task.task_id,
        "tool": task.tool,
        "arguments": task.arguments,
        "deps": task.deps,
        "resources": task.resources,
        "priority": task.priority,
        "queued": to_epoch(task.queued),
        "started": started,
        "finished": finished,
        "duration_s": finished - started if started is not None and finished is not None else None,
        "worker": task.worker,
        "thread": task.thread,
        "attempts": task.attempts,
        "status": task.status,
        "error": task.error,
        "result": task.result_preview,
        "unit": task.unit,
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {"iteration": plan.iteration, "text": plan.text, "thought": plan.thought,
            "compile_errors": plan.compile_errors}


def llm_call_dict(call: LLMCallRow) -> dict[str, Any]:
    return {
        "role": call.role,
        "model": call.model,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "latency_s": call.latency_s,
        "ttft_s": call.ttft_s,
        "started": to_epoch(call.started),
        "error": call.error,
    }


def run_detail(run: Run, plans: list[Plan], tasks: list[Task], calls: list[LLMCallRow]) -> dict[str, Any]:
    """Everything stored about one run."""
    metrics = run.metrics or {}
    return {
        **run_summary(run),
        "prompt": run.prompt,
        "answer": run.answer,
        "cluster": {"kind": run.cluster_kind, "address": run.cluster_address, "gpu_fallback": run.gpu_fallback,
                    "workers": run.cluster_workers, "gpu_slots": run.gpu_slots},
        "timings": metrics.get("timings", {}),
        "metrics": metrics,
        "saved_at": to_epoch(run.saved_at),
        "plans": [plan_dict(p) for p in plans],
        "tasks": [task_dict(t) for t in tasks],
        "llm_calls": [llm_call_dict(c) for c in calls],
    }
