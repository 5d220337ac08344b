"""The result of one run, as the run loop returns it and as ``--json`` prints it.

``RunResult.to_dict()`` is the project's interchange format: the CLI prints it,
the metrics store saves it (``store.save_run``), the Airflow operator pushes a
summary of it. Times are epoch seconds (floats); durations are seconds.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from llmcompiler_provider.metrics import replans

RESULT_PREVIEW_CHARS = 2000


def preview(value: Any, limit: int = RESULT_PREVIEW_CHARS) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: Any, limit: int | None = None) -> str:
    """``text`` on one line (runs of white space folded to one space), cut to ``limit`` characters."""
    folded = " ".join(str(text).split())
    return folded if limit is None else preview(folded, limit)


@dataclass
class TaskRecord:
    """One tool call as it ran (or did not)."""

    id: int
    tool: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    deps: list[int] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)
    priority: int = 0
    status: str = "pending"  # pending | success | failed | skipped | cancelled
    worker: str | None = None
    thread: int | None = None
    queued: float | None = None
    start: float | None = None
    stop: float | None = None
    attempts: int = 0
    error: str | None = None
    result: str | None = None  # preview of the result's text
    unit: str | None = None  # the Dask key that ran it

    @property
    def duration(self) -> float:
        return (self.stop - self.start) if self.start is not None and self.stop is not None else 0.0


@dataclass
class PlanIteration:
    """One plan the planner wrote, in order; a plan that did not compile has ``compile_errors``
    and no tasks (the planner was then asked again)."""

    iteration: int
    text: str
    tasks: list[TaskRecord] = field(default_factory=list)
    thought: str | None = None
    compile_errors: list[str] = field(default_factory=list)


@dataclass
class LLMCall:
    role: str  # planner | joiner
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    ttft_s: float | None = None
    started: float | None = None
    error: str | None = None


@dataclass
class ClusterInfo:
    kind: str = "local"  # local | local-cuda | address
    address: str | None = None
    gpu_fallback: bool = False  # GPU slots declared by CPU workers
    workers: int = 0
    gpu_slots: int = 0


@dataclass
class Timings:
    wall_s: float = 0.0
    sum_task_s: float = 0.0
    critical_path_s: float = 0.0
    speedup: float = 0.0  # sum of task times / execution wall
    efficiency: float = 0.0  # speedup / ideal speedup (sum / critical path)
    first_dispatch_s: float | None = None  # from run start to the first task submitted
    planning_s: float = 0.0
    execution_s: float = 0.0
    joining_s: float = 0.0
    overlap_s: float = 0.0  # planning time during which tasks were already running
    gpu_slot_utilization: float | None = None


@dataclass
class RunResult:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"  # running | success | failed | cancelled
    error: str | None = None
    prompt: str | None = None
    answer: str | None = None
    toolset: str | None = None
    planner_model: str | None = None
    joiner_model: str | None = None
    cluster: ClusterInfo = field(default_factory=ClusterInfo)
    airflow: dict[str, Any] | None = None  # dag_id, run_id, task_id, map_index, try_number
    started: float = field(default_factory=time.time)
    finished: float | None = None
    plans: list[PlanIteration] = field(default_factory=list)
    llm_calls: list[LLMCall] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    metrics_saved: bool | None = None  # None: no store configured
    metrics_error: str | None = None

    @property
    def all_tasks(self) -> list[TaskRecord]:
        return [t for p in self.plans for t in p.tasks]

    @property
    def prompt_hash(self) -> str | None:
        return hashlib.sha256(self.prompt.encode()).hexdigest() if self.prompt is not None else None

    def counts(self) -> dict[str, int]:
        tasks = self.all_tasks
        return {
            "tasks": len(tasks),
            "replans": replans(self.plans),
            "failed_tasks": sum(1 for t in tasks if t.status == "failed"),
        }

    def tokens(self) -> dict[str, int]:
        return {
            "prompt": sum(c.prompt_tokens for c in self.llm_calls),
            "completion": sum(c.completion_tokens for c in self.llm_calls),
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompt_hash"] = self.prompt_hash
        data["counts"] = self.counts()
        data["tokens"] = self.tokens()
        return data
