"""Between a run (``results.RunResult``) and the store's rows, both ways.

Times are epoch seconds in the models and UTC timestamps in the tables. Long
values are capped so that one run cannot bloat the store: task arguments,
result previews and errors.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from llmcompiler_provider.results import (
    RESULT_PREVIEW_CHARS,
    AirflowIdentity,
    ClusterInfo,
    Counts,
    LLMCall,
    PlanIteration,
    RunResult,
    RunSummary,
    TaskRecord,
    Timings,
    Tokens,
    preview,
)
from llmcompiler_provider.store.models import LLMCallRow, Plan, Run, Task

ARGUMENTS_JSON_CHARS = 4000
ERROR_CHARS = 8000
SHORT_TEXT_CHARS = 200
PROMPT_PREVIEW_CHARS = 200
#: the run's timings that have columns of their own (all of them are in ``run.metrics["timings"]``)
TIMING_COLUMNS = ("wall_s", "sum_task_s", "critical_path_s", "speedup", "efficiency", "first_dispatch_s",
                  "gpu_slot_utilization")


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


def capped_arguments(task: TaskRecord) -> dict[str, Any]:
    data = {"args": task.args, "kwargs": task.kwargs}
    encoded = json.dumps(data, default=repr)
    if len(encoded) <= ARGUMENTS_JSON_CHARS:
        return json.loads(encoded)
    return {"truncated": True, "preview": clean_text(encoded, ARGUMENTS_JSON_CHARS)}


def stored_airflow_try(result: RunResult) -> AirflowIdentity | None:
    """The Airflow try that produced ``result`` (map_index -1 when unmapped), or None outside Airflow."""
    airflow = result.airflow
    if airflow is None or None in (airflow.dag_id, airflow.run_id, airflow.task_id):
        return None
    return airflow.model_copy(update={"map_index": -1 if airflow.map_index is None else airflow.map_index})


# -- run -> rows ------------------------------------------------------------------------
def run_row(result: RunResult, saved_at: datetime) -> Run:
    if not result.run_id:
        raise ValueError("a run result needs a run_id to be stored")
    result.fill_figures()
    cluster, timings, counts, tokens = result.cluster, result.timings, result.counts, result.tokens
    identity = stored_airflow_try(result) or AirflowIdentity()
    return Run(
        id=result.run_id,
        dag_id=identity.dag_id,
        airflow_run_id=identity.run_id,
        task_id=identity.task_id,
        map_index=identity.map_index,
        try_number=identity.try_number,
        prompt=clean_text(result.prompt),
        prompt_hash=result.prompt_hash,
        status=clean_text(result.status or "unknown", 16),
        error=clean_text(result.error, ERROR_CHARS),
        started=to_timestamp(result.started),
        finished=to_timestamp(result.finished),
        planner_model=clean_text(result.planner_model),
        joiner_model=clean_text(result.joiner_model),
        toolset=clean_text(result.toolset, SHORT_TEXT_CHARS),
        cluster_kind=clean_text(cluster.kind, 32),
        cluster_address=clean_text(cluster.address),
        gpu_fallback=cluster.gpu_fallback,
        cluster_workers=cluster.workers,
        gpu_slots=cluster.gpu_slots,
        task_count=counts.tasks,
        replan_count=counts.replans,
        failed_task_count=counts.failed_tasks,
        prompt_tokens=tokens.prompt,
        completion_tokens=tokens.completion,
        **{name: getattr(timings, name) for name in TIMING_COLUMNS},
        answer=clean_text(result.answer),
        metrics={"timings": timings.model_dump(mode="json"),
                 "counts": {"shared_calls": counts.shared_calls, "cache_hits": counts.cache_hits},
                 "cost": result.cost},
        saved_at=saved_at,
        batch_id=clean_text(result.batch_id, 64),
        prompt_id=clean_text(result.prompt_id, 200),
    )


def plan_rows(result: RunResult) -> list[Plan]:
    return [
        Plan(
            run_id=result.run_id,
            iteration=plan.iteration,
            text=clean_text(plan.text or ""),
            thought=clean_text(plan.thought),
            compile_errors=[clean_text(e, ERROR_CHARS) for e in plan.compile_errors],
            warnings=[clean_text(w, ERROR_CHARS) for w in plan.warnings],
        )
        for plan in result.plans
    ]


def task_rows(result: RunResult) -> list[Task]:
    return [
        Task(
            run_id=result.run_id,
            plan_iteration=plan.iteration,
            task_id=task.id,
            tool=clean_text(task.tool, SHORT_TEXT_CHARS),
            arguments=capped_arguments(task),
            deps=task.deps,
            resources=json_safe(task.resources),
            priority=task.priority,
            queued=to_timestamp(task.queued),
            started=to_timestamp(task.start),
            finished=to_timestamp(task.stop),
            worker=clean_text(task.worker),
            thread=task.thread,
            attempts=task.attempts,
            status=clean_text(task.status or "pending", 16),
            error=clean_text(task.error, ERROR_CHARS),
            result_preview=clean_text(task.result, RESULT_PREVIEW_CHARS),
            unit=clean_text(task.unit),
            source=clean_text(task.source, 16),
        )
        for plan in result.plans
        for task in plan.tasks
    ]


def llm_call_rows(result: RunResult) -> list[LLMCallRow]:
    return [
        LLMCallRow(
            run_id=result.run_id,
            seq=seq,
            role=clean_text(call.role or "unknown", 32),
            model=clean_text(call.model),
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            latency_s=call.latency_s,
            ttft_s=call.ttft_s,
            started=to_timestamp(call.started),
            error=clean_text(call.error, ERROR_CHARS),
            finish_reason=clean_text(call.finish_reason, 32),
            queued_s=call.queued_s,
            retries=call.retries,
            rate_limited=call.rate_limited,
        )
        for seq, call in enumerate(result.llm_calls)
    ]


# -- rows -> run -----------------------------------------------------------------------
def _facts(run: Run) -> dict[str, Any]:
    """The fields a run and its summary share, from the run's row."""
    airflow = (
        AirflowIdentity(dag_id=run.dag_id, run_id=run.airflow_run_id, task_id=run.task_id,
                        map_index=run.map_index, try_number=run.try_number)
        if run.dag_id is not None else None
    )
    return {
        "run_id": run.id,
        "status": run.status,
        "error": run.error,
        "toolset": run.toolset,
        "planner_model": run.planner_model,
        "joiner_model": run.joiner_model,
        "cluster": ClusterInfo(kind=run.cluster_kind, address=run.cluster_address, gpu_fallback=run.gpu_fallback,
                               workers=run.cluster_workers, gpu_slots=run.gpu_slots),
        "airflow": airflow,
        "started": to_epoch(run.started),
        "finished": to_epoch(run.finished),
        "timings": Timings.model_validate((run.metrics or {}).get("timings") or {}),
        "batch_id": run.batch_id,
        "prompt_id": run.prompt_id,
        "cost": (run.metrics or {}).get("cost"),
    }


def run_summary(run: Run) -> RunSummary:
    """The fields the run list shows."""
    return RunSummary(
        **_facts(run),
        prompt_preview=clean_text(run.prompt, PROMPT_PREVIEW_CHARS),
        prompt_hash=run.prompt_hash,
        counts=Counts(tasks=run.task_count, replans=run.replan_count, failed_tasks=run.failed_task_count,
                      **(run.metrics or {}).get("counts", {})),
        tokens=Tokens(prompt=run.prompt_tokens, completion=run.completion_tokens),
    )


def task_record(task: Task) -> TaskRecord:
    arguments = task.arguments or {}
    truncated = bool(arguments.get("truncated"))
    return TaskRecord(
        id=task.task_id,
        tool=task.tool,
        args=[] if truncated else arguments.get("args") or [],
        kwargs={} if truncated else arguments.get("kwargs") or {},
        args_preview=str(arguments.get("preview") or "") if truncated else None,
        deps=task.deps or [],
        resources=task.resources or {},
        priority=task.priority,
        status=task.status,
        worker=task.worker,
        thread=task.thread,
        queued=to_epoch(task.queued),
        start=to_epoch(task.started),
        stop=to_epoch(task.finished),
        attempts=task.attempts,
        error=task.error,
        result=task.result_preview,
        unit=task.unit,
        source=task.source,
    )


def llm_call(call: LLMCallRow) -> LLMCall:
    return LLMCall(role=call.role, model=call.model, prompt_tokens=call.prompt_tokens,
                   completion_tokens=call.completion_tokens, latency_s=call.latency_s, ttft_s=call.ttft_s,
                   started=to_epoch(call.started), error=call.error, finish_reason=call.finish_reason,
                   queued_s=call.queued_s, retries=call.retries, rate_limited=call.rate_limited)


def run_result(run: Run, plans: list[Plan], tasks: list[Task], calls: list[LLMCallRow]) -> RunResult:
    """Everything stored about one run, as the run loop recorded it."""
    tasks_by_plan: dict[int, list[TaskRecord]] = {}
    for task in tasks:
        tasks_by_plan.setdefault(task.plan_iteration, []).append(task_record(task))
    return RunResult(
        **_facts(run),
        prompt=run.prompt,
        prompt_hash=run.prompt_hash,
        answer=run.answer,
        plans=[PlanIteration(iteration=p.iteration, text=p.text, thought=p.thought,
                             compile_errors=p.compile_errors or [], warnings=p.warnings or [],
                             tasks=tasks_by_plan.get(p.iteration, []))
               for p in plans],
        llm_calls=[llm_call(c) for c in calls],
        metrics_saved=True,
    )
