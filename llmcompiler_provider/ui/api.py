"""The JSON endpoints under ``/api``: the same data the pages show."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Request

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.ui import queries, schemas
from llmcompiler_provider.ui.access import Viewer, ViewerDependency
from llmcompiler_provider.ui.gantt import gantt_chart
from llmcompiler_provider.ui.rendering import run_link

DAG_ID = Query(None, description="only runs of this Airflow DAG")
STATUS = Query(None, description="only runs with this status: " + ", ".join(queries.RUN_STATUSES))
SINCE = Query(None, description="only runs started at or after this date (2025-06-15) or time (ISO 8601)")


def store_url(request: Request) -> str | None:
    return request.app.state.store_url


def api_router(viewer: ViewerDependency) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["LLMCompiler runs"])

    @router.get("/runs", response_model=schemas.RunList, summary="Recent runs, newest first")
    def list_recent_runs(
        request: Request,
        dag_id: str | None = DAG_ID,
        status: str | None = STATUS,
        since: str | None = SINCE,
        limit: int = Query(queries.DEFAULT_LIMIT, ge=1, le=queries.MAX_LIMIT),
        who: Viewer = Depends(viewer),
    ) -> dict:
        runs_filter = queries.RunFilter.parse(dag_id=dag_id, status=status, since=since, limit=limit)
        runs = queries.recent_runs(who, store_url(request), runs_filter)
        return {"runs": runs, "count": len(runs)}

    @router.get("/runs/{run_id}", response_model=RunResult, summary="Everything recorded about one run")
    def read_run(request: Request, run_id: str, who: Viewer = Depends(viewer)) -> RunResult:
        return queries.run_detail(who, store_url(request), run_id)

    @router.get("/runs/{run_id}/gantt", response_model=schemas.Gantt,
                summary="The run's tasks per worker slot and GPU slot, and its LLM calls, over time")
    def read_gantt(request: Request, run_id: str, who: Viewer = Depends(viewer)) -> dict:
        chart = gantt_chart(queries.run_detail(who, store_url(request), run_id))
        return {"run_id": run_id, "span_s": chart.span_s, "plan_starts": chart.plan_starts,
                "lanes": [asdict(lane) for lane in chart.lanes]}

    @router.get("/trends", response_model=schemas.Trend,
                summary="One point per run, oldest first, for trend plots")
    def read_trends(
        request: Request,
        dag_id: str | None = DAG_ID,
        status: str | None = STATUS,
        since: str | None = SINCE,
        who: Viewer = Depends(viewer),
    ) -> dict:
        runs_filter = queries.RunFilter.parse(dag_id=dag_id, status=status, since=since)
        points = queries.trend_points(who, store_url(request), runs_filter)
        return {"points": points, "count": len(points)}

    @router.get("/batches", response_model=schemas.BatchList, summary="Recent batches, newest first")
    def list_recent_batches(
        request: Request,
        dag_id: str | None = Query(None, description="only batches of this Airflow DAG"),
        limit: int = Query(queries.DEFAULT_LIMIT, ge=1, le=queries.MAX_LIMIT),
        who: Viewer = Depends(viewer),
    ) -> dict:
        batches = queries.recent_batches(who, store_url(request), dag_id=dag_id or None, limit=limit)
        return {"batches": batches, "count": len(batches)}

    @router.get("/batches/{batch_id}", response_model=BatchSummary,
                summary="One batch: its progress, tokens, cost and limits (a unique prefix of 4+ characters works)")
    def read_batch(request: Request, batch_id: str, who: Viewer = Depends(viewer)) -> BatchSummary:
        return queries.batch_detail(who, store_url(request), batch_id)

    @router.get("/batches/{batch_id}/runs", response_model=schemas.RunList,
                summary="The runs of one batch, newest first")
    def list_batch_runs(
        request: Request,
        batch_id: str,
        status: str | None = STATUS,
        limit: int | None = Query(None, ge=1, description="at most this many runs (all of them by default)"),
        who: Viewer = Depends(viewer),
    ) -> dict:
        runs = queries.runs_of_batch(who, store_url(request), batch_id, status=status or None, limit=limit)
        return {"runs": runs, "count": len(runs)}

    @router.get("/ti", response_model=schemas.TaskInstanceRun,
                summary="The run an Airflow task instance recorded (its latest try unless try_number is set)")
    def find_task_instance_run(
        request: Request,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: str | None = Query(None, description="-1 or empty for an unmapped task"),
        try_number: int | None = None,
        who: Viewer = Depends(viewer),
    ) -> dict:
        found = queries.run_of_task_instance(
            who, store_url(request), dag_id=dag_id, airflow_run_id=run_id, task_id=task_id,
            map_index=parse_map_index(map_index), try_number=try_number,
        )
        return {"run_id": found, "url": run_link(request, found)}

    return router


def parse_map_index(value: str | None) -> int:
    """Airflow's UI fills ``{MAP_INDEX}`` only for mapped tasks; anything else means unmapped (-1)."""
    try:
        return int(value) if value not in (None, "") else -1
    except ValueError:
        return -1
