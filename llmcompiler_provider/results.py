"""One run, one shape: what the run loop returns, the store saves and loads, the UI serves and
the CLI and the operator print.

:class:`RunResult` (with its :class:`PlanIteration`, :class:`TaskRecord` and :class:`LLMCall`
records) is the run; :class:`RunSummary` is the row a list of runs shows. ``--json`` prints
``RunResult.to_dict()``; the UI's JSON endpoints return these models (their OpenAPI schemas
come from here). Times are epoch seconds (floats); durations are seconds.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from llmcompiler_provider.figures import figures_for_plans, replans

RESULT_PREVIEW_CHARS = 2000


def preview(value: Any, limit: int = RESULT_PREVIEW_CHARS) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: Any, limit: int | None = None) -> str:
    """``text`` on one line (runs of white space folded to one space), cut to ``limit`` characters."""
    folded = " ".join(str(text).split())
    return folded if limit is None else preview(folded, limit)


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a dump's computed fields (counts, tokens, ...) load back


class TaskRecord(_Record):
    """One tool call as it ran (or did not)."""

    id: int
    tool: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    args_preview: str | None = Field(None, description="the arguments' JSON, cut short, when the store capped them "
                                                       "(args and kwargs are then empty)")
    deps: list[int] = Field(default_factory=list)
    resources: dict[str, float] = Field(default_factory=dict)
    priority: int = 0
    status: str = "pending"  # pending | success | failed | skipped | cancelled
    worker: str | None = None
    thread: int | None = None
    queued: float | None = None
    start: float | None = None
    stop: float | None = None
    attempts: int = 0
    error: str | None = None
    result: str | None = Field(None, description="a preview of the result's text")
    unit: str | None = Field(None, description="the Dask key that ran it")
    source: str | None = Field(None, description="None: it ran for this run; 'batch': another run of the batch "
                                                 "ran the identical call and shared its result; 'cache': the "
                                                 "store's tool result cache answered it (cache_ttl)")

    @property
    def ran(self) -> bool:
        return self.start is not None and self.stop is not None

    @property
    def duration(self) -> float | None:
        return self.stop - self.start if self.start is not None and self.stop is not None else None

    def call_text(self) -> str:
        """The call's arguments as written in Python: ``'a', 2, key='v'`` (or the stored preview)."""
        if self.args_preview is not None:
            return self.args_preview
        return ", ".join([repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()])


class PlanIteration(_Record):
    """One plan the planner wrote, in order; a plan that did not compile has ``compile_errors``
    and no tasks (the planner was then asked again)."""

    iteration: int
    text: str
    tasks: list[TaskRecord] = Field(default_factory=list)
    thought: str | None = None
    compile_errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="the compiler's warnings: each repair of the "
                                                                  "planner's text, each string read as a number; "
                                                                  "one FILE:LINE:COL: warning: MESSAGE line each")


class LLMCall(_Record):
    role: str  # planner | joiner
    model: str | None = None
    provider: str | None = Field(None, exclude=True, description="gen_ai.provider.name (tracing only, not stored)")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    ttft_s: float | None = None
    started: float | None = None
    error: str | None = None
    finish_reason: str | None = Field(None, description="why the model stopped: stop, length, ... "
                                                        "(gen_ai.response.finish_reasons)")
    queued_s: float = Field(0.0, description="time the request waited for the endpoint's admission control "
                                             "and retries (not counted against its timeout)")
    retries: int = Field(0, description="times the request was tried again (429, 503, a stream cut short)")
    rate_limited: int = Field(0, description="HTTP 429/503 answers the request received")


class ClusterInfo(_Record):
    kind: str | None = "local"  # local | local-cuda | address
    address: str | None = None
    gpu_fallback: bool = False  # GPU slots declared by CPU workers
    workers: int = 0
    gpu_slots: int = 0


class AirflowIdentity(_Record):
    """The Airflow task try a run belongs to (``map_index`` -1 when the task is not mapped)."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None


class Timings(_Record):
    wall_s: float = 0.0
    sum_task_s: float = 0.0
    critical_path_s: float = 0.0
    speedup: float = Field(0.0, description="sum of task times / execution wall")
    efficiency: float = Field(0.0, description="speedup / ideal speedup (sum of task times / critical path)")
    first_dispatch_s: float | None = Field(None, description="from the run's start to its first task submitted")
    planning_s: float = 0.0
    execution_s: float = 0.0
    joining_s: float = 0.0
    overlap_s: float = Field(0.0, description="planning time during which tasks were already running")
    gpu_slot_utilization: float | None = None

    @property
    def ideal_speedup(self) -> float | None:
        return self.sum_task_s / self.critical_path_s if self.sum_task_s and self.critical_path_s else None


class Counts(_Record):
    tasks: int = 0
    replans: int = 0
    failed_tasks: int = 0
    shared_calls: int = Field(0, description="tool calls answered by an identical call of another run of the batch")
    cache_hits: int = Field(0, description="tool calls answered by the store's tool result cache")


class Tokens(_Record):
    prompt: int = 0
    completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


class _RunFacts(_Record):
    """What a run and its summary have in common."""

    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"  # running | success | failed | cancelled
    error: str | None = None
    toolset: str | None = None
    planner_model: str | None = None
    joiner_model: str | None = None
    cluster: ClusterInfo = Field(default_factory=ClusterInfo)
    airflow: AirflowIdentity | None = None
    started: float = Field(default_factory=time.time)
    finished: float | None = None
    timings: Timings = Field(default_factory=Timings)
    batch_id: str | None = Field(None, description="the batch the run belongs to")
    prompt_id: str | None = Field(None, description="the prompt's id within its batch")
    cost: float | None = Field(None, description="what the run's tokens cost at the model's prices (None: no "
                                                 "prices given: RunConfig.prices, the LLM connection's extra)")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dag_id(self) -> str | None:
        return self.airflow.dag_id if self.airflow is not None else None


class RunResult(_RunFacts):
    """Everything recorded about one run: its prompt, plans, tasks, LLM calls and answer."""

    prompt: str | None = None
    answer: str | None = None
    plans: list[PlanIteration] = Field(default_factory=list)
    llm_calls: list[LLMCall] = Field(default_factory=list)
    prompt_hash: str | None = Field(None, description="SHA-256 of the prompt as given (set from it when the run "
                                                      "is made; a masked copy keeps it)")
    metrics_saved: bool | None = Field(None, description="None: no metrics store was configured")
    metrics_error: str | None = None

    @model_validator(mode="after")
    def _hash_the_prompt(self) -> RunResult:
        if self.prompt_hash is None and self.prompt is not None:
            self.prompt_hash = hashlib.sha256(self.prompt.encode()).hexdigest()
        return self

    @property
    def all_tasks(self) -> list[TaskRecord]:
        return [t for p in self.plans for t in p.tasks]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> Counts:
        tasks = self.all_tasks
        return Counts(tasks=len(tasks), replans=replans(self.plans),
                      failed_tasks=sum(1 for t in tasks if t.status == "failed"),
                      shared_calls=sum(1 for t in tasks if t.source == "batch"),
                      cache_hits=sum(1 for t in tasks if t.source == "cache"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens(self) -> Tokens:
        return Tokens(prompt=sum(c.prompt_tokens for c in self.llm_calls),
                      completion=sum(c.completion_tokens for c in self.llm_calls))

    def fill_figures(self) -> None:
        """Derive the task figures (sum, critical path, speedup, efficiency, GPU-slot utilization)
        from the recorded tasks, and the wall time from start and finish when it is missing."""
        timings = self.timings
        if any(task.ran for task in self.all_tasks):
            figures = figures_for_plans(self.plans, self.cluster.gpu_slots)
            timings.sum_task_s = figures.sum_task_s
            timings.critical_path_s = figures.critical_path_s
            timings.speedup = figures.speedup
            timings.efficiency = figures.efficiency
            timings.gpu_slot_utilization = figures.gpu_slot_utilization
            if not timings.execution_s:
                timings.execution_s = figures.execution_wall_s
        if not timings.wall_s and self.finished is not None:
            timings.wall_s = self.finished - self.started

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON data (what ``--json`` prints); values JSON cannot hold become their repr."""
        return self.model_dump(mode="json", fallback=repr)


class RunSummary(_RunFacts):
    """One run as a list of runs shows it (no plans, tasks or calls)."""

    prompt_preview: str | None = None
    prompt_hash: str | None = None
    counts: Counts = Field(default_factory=Counts)
    tokens: Tokens = Field(default_factory=Tokens)
