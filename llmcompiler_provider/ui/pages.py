"""The HTML pages: Runs, Run, Trends, Batches, Batch, and the task-instance redirect."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from llmcompiler_provider.ui import queries
from llmcompiler_provider.ui.access import Viewer, ViewerDependency
from llmcompiler_provider.ui.api import parse_map_index, store_url
from llmcompiler_provider.ui.batch_view import batch_view
from llmcompiler_provider.ui.rendering import batch_link, link, page, run_link
from llmcompiler_provider.ui.run_view import run_view
from llmcompiler_provider.ui.trend_charts import NO_DAG, TREND_METRICS, render_trend_chart

ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#4a86c5" '
    'stroke-width="2">'
    '<rect x="2" y="4" width="7" height="5" rx="1"/><rect x="15" y="2" width="7" height="5" rx="1"/>'
    '<rect x="15" y="11" width="7" height="5" rx="1"/><rect x="8" y="18" width="7" height="5" rx="1"/>'
    '<path d="M9 6.5h6M9 6.5l6 7M18.5 16v2.5h-3.5"/></svg>'
)


def page_router(viewer: ViewerDependency) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request) -> RedirectResponse:
        return RedirectResponse(link(request, "/runs"))

    @router.get("/icon.svg")
    def icon() -> Response:
        return Response(ICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @router.get("/runs", response_class=HTMLResponse)
    def runs_page(
        request: Request,
        dag_id: str | None = None,
        status: str | None = None,
        since: str | None = None,
        limit: int | None = Query(None, ge=1, le=queries.MAX_LIMIT),
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        runs_filter = queries.RunFilter.parse(dag_id=dag_id, status=status, since=since, limit=limit)
        runs = queries.recent_runs(who, store_url(request), runs_filter)
        return page(request, "runs.html", title="LLMCompiler runs", runs=runs, statuses=queries.RUN_STATUSES,
                    form={"dag_id": dag_id or "", "status": status or "", "since": since or "",
                          "limit": runs_filter.limit},
                    filtered=any((dag_id, status, since)),
                    dag_ids=sorted({r.dag_id for r in runs if r.dag_id}))

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, who: Viewer = Depends(viewer)) -> HTMLResponse:
        view = run_view(queries.run_detail(who, store_url(request), run_id))
        return page(request, "run.html", title=f"LLMCompiler run {run_id[:12]}", view=view, run=view.run)

    @router.get("/trends", response_class=HTMLResponse)
    def trends_page(
        request: Request,
        dag_id: str | None = None,
        since: str | None = None,
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        runs_filter = queries.RunFilter.parse(dag_id=dag_id, since=since)
        points = queries.trend_points(who, store_url(request), runs_filter)
        charts = [(metric, render_trend_chart(points, metric, chart_id=f"trend-{metric.key}"))
                  for metric in TREND_METRICS]
        return page(request, "trends.html", title="LLMCompiler trends", charts=charts, points=points,
                    summary=_trend_summary(points), form={"dag_id": dag_id or "", "since": since or ""})

    @router.get("/batches", response_class=HTMLResponse)
    def batches_page(
        request: Request,
        dag_id: str | None = None,
        limit: int | None = Query(None, ge=1, le=queries.MAX_LIMIT),
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        shown = limit or queries.DEFAULT_LIMIT
        batches = queries.recent_batches(who, store_url(request), dag_id=dag_id or None, limit=shown)
        return page(request, "batches.html", title="LLMCompiler batches", batches=batches,
                    form={"dag_id": dag_id or "", "limit": shown})

    @router.get("/batches/{batch_id}", response_class=HTMLResponse)
    def batch_page(request: Request, batch_id: str, status: str | None = None,
                   who: Viewer = Depends(viewer)) -> HTMLResponse:
        url = store_url(request)
        batch = queries.batch_detail(who, url, batch_id)
        runs = queries.runs_of_batch(who, url, batch.batch_id, status=status or None)
        view = batch_view(batch, queries.outcomes_of_batch(who, url, batch), runs)
        return page(request, "batch.html", title=f"LLMCompiler batch {batch.batch_id[:16]}", view=view,
                    batch=batch, status=status or "", statuses=queries.RUN_STATUSES,
                    runs_shown_max=queries.BATCH_RUNS_SHOWN)

    @router.get("/ti")
    def task_instance_run(
        request: Request,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: str | None = None,
        try_number: int | None = None,
        who: Viewer = Depends(viewer),
    ) -> RedirectResponse:
        """The run the task instance recorded; the batch page when it ran a batch."""
        task_instance = dict(dag_id=dag_id, airflow_run_id=run_id, task_id=task_id,
                             map_index=parse_map_index(map_index), try_number=try_number)
        batch_id = queries.batch_of_task_instance(who, store_url(request), **task_instance)
        if batch_id is not None:
            return RedirectResponse(batch_link(request, batch_id), status_code=303)
        found = queries.run_of_task_instance(who, store_url(request), **task_instance)
        return RedirectResponse(run_link(request, found), status_code=303)

    return router


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _trend_summary(points: list[dict]) -> list[dict]:
    """Per DAG: how many runs, the median latency and speedup, the tokens used."""
    by_dag: dict[str, list[dict]] = {}
    for point in points:
        by_dag.setdefault(point.get("dag_id") or NO_DAG, []).append(point)
    return [
        {
            "dag": dag,
            "runs": len(of_dag),
            "failed": sum(1 for p in of_dag if p["status"] == "failed"),
            "median_wall_s": _median([p["wall_s"] for p in of_dag if p.get("wall_s") is not None]),
            "median_speedup": _median([p["speedup"] for p in of_dag if p.get("speedup") is not None]),
            "tokens": sum(p.get("tokens") or 0 for p in of_dag),
        }
        for dag, of_dag in sorted(by_dag.items())
    ]
