"""The JSON endpoints' response shapes, for FastAPI's OpenAPI document.

A run, a run's summary and a batch are ``results.RunResult``, ``results.RunSummary``
and ``batch_results.BatchSummary`` themselves; here are the shapes only the UI has (lists, charts, trend points).
"""

from __future__ import annotations


from pydantic import BaseModel, ConfigDict, Field

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import RunSummary


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RunList(BaseModel):
    runs: list[RunSummary]
    count: int


class BatchList(BaseModel):
    batches: list[BatchSummary]
    count: int


class GanttBar(BaseModel):
    start: float = Field(description="seconds from the run's start")
    stop: float = Field(description="seconds from the run's start")
    label: str
    detail: str
    kind: str = Field(description="task, planner or joiner")
    status: str
    gpu: bool
    plan_iteration: int | None = None
    task_id: int | None = None


class GanttLane(BaseModel):
    name: str
    group: str = Field(description="llm, worker or gpu")
    bars: list[GanttBar]


class Gantt(BaseModel):
    """The lanes the run page's Gantt chart draws: bars in one lane never overlap."""

    run_id: str
    span_s: float
    plan_starts: list[tuple[int, float]]
    lanes: list[GanttLane]


class TrendPoint(_Open):
    run_id: str
    started: float | None = None
    dag_id: str | None = None
    status: str
    wall_s: float | None = None
    speedup: float | None = None
    efficiency: float | None = None
    tasks: int = 0
    tokens: int = 0


class Trend(BaseModel):
    points: list[TrendPoint]
    count: int


class TaskInstanceRun(BaseModel):
    run_id: str
    url: str = Field(description="the run's page")
