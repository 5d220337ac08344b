"""What every executor of the comparison is given and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmarks.workloads import Workload
from llmcompiler_provider.execution.dataflow import resolve_arguments
from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.plan.ir import Task, TaskGraph
from llmcompiler_provider.tools.registry import Toolset


@dataclass(frozen=True)
class CallInterval:
    """When one tool call ran (epoch seconds), where, and the text of its result."""

    task_id: int
    start: float
    stop: float
    worker: str | None = None
    result: str | None = None
    ok: bool = True


@dataclass
class Outcome:
    """One run of one workload: wall time from handing over the plan to having every result."""

    wall_s: float
    calls: list[CallInterval]
    started: float  # epoch seconds the run (or the plan's stream) began
    phases: dict[str, float] = field(default_factory=dict)  # seconds after ``started``
    units: int | None = None  # Dask tasks, for the executors that use Dask

    @property
    def failures(self) -> int:
        return sum(1 for c in self.calls if not c.ok)


@dataclass(frozen=True)
class Prepared:
    """A workload ready to run: its plan compiled without optimization, for the baselines."""

    workload: Workload
    graph: TaskGraph
    toolset: Toolset
    tokens_per_s: float

    @property
    def tasks(self) -> list[Task]:
        return list(self.graph.tasks.values())


class Executor(Protocol):
    name: str
    description: str

    def applies_to(self, workload: Workload) -> bool: ...

    def run(self, prepared: Prepared) -> Outcome: ...


def arguments(task: Task, known: dict[int, Observation]) -> tuple[tuple, dict]:
    """A task's arguments with every reference replaced by the upstream result."""
    return resolve_arguments(task.args, known), resolve_arguments(task.kwargs, known)


def known_result(value: Any) -> Observation:
    """An upstream result in the form ``arguments`` looks references up in."""
    return Observation(value=value)


def result_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:200]
