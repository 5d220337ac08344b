"""The JSON endpoints' response shapes, for FastAPI's OpenAPI document.

They describe the dicts ``store.list_runs`` / ``store.get_run`` / ``store.trend``
return; fields the store adds later pass through (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AirflowIdentity(_Open):
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None


class Counts(_Open):
    tasks: int = 0
    replans: int = 0
    failed_tasks: int = 0


class Tokens(_Open):
    prompt: int = 0
    completion: int = 0


class RunSummary(_Open):
    """One run as the runs list shows it. Times are epoch seconds, durations seconds."""

    run_id: str
    status: str
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    dag_id: str | None = None
    airflow: AirflowIdentity | None = None
    prompt_preview: str | None = None
    toolset: str | None = None
    planner_model: str | None = None
    joiner_model: str | None = None
    counts: Counts
    tokens: Tokens
    wall_s: float | None = None
    sum_task_s: float | None = None
    critical_path_s: float | None = None
    speedup: float | None = Field(None, description="sum of task times / execution wall")
    efficiency: float | None = Field(None, description="speedup / ideal speedup (sum / critical path)")
    first_dispatch_s: float | None = None
    gpu_slot_utilization: float | None = None


class RunList(BaseModel):
    runs: list[RunSummary]
    count: int


class TaskOut(_Open):
    plan_iteration: int
    id: int
    tool: str
    arguments: dict[str, Any] | None = None
    deps: list[int] = []
    resources: dict[str, float] = {}
    priority: int = 0
    queued: float | None = None
    started: float | None = None
    finished: float | None = None
    duration_s: float | None = None
    worker: str | None = None
    thread: int | None = None
    attempts: int = 0
    status: str
    error: str | None = None
    result: str | None = None


class PlanOut(_Open):
    iteration: int
    text: str
    thought: str | None = None
    compile_errors: list[str] = []


class LLMCallOut(_Open):
    role: str
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    ttft_s: float | None = None
    started: float | None = None
    error: str | None = None


class RunDetail(RunSummary):
    """Everything recorded about one run: its prompt, plans, tasks, LLM calls and answer."""

    prompt: str | None = None
    answer: str | None = None
    cluster: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    plans: list[PlanOut] = []
    tasks: list[TaskOut] = []
    llm_calls: list[LLMCallOut] = []


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
