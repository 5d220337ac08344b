"""Fixtures for the metrics store tests (the database fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmcompiler_provider.results import ClusterInfo, LLMCall, PlanIteration, RunResult, TaskRecord, Timings

T0 = 1_750_000_000.0  # a fixed epoch so timings are known exactly


@pytest.fixture(autouse=True)
def private_home(private_home) -> None:
    """Each test gets its own home folder and no store URL from the environment (tests/conftest.py)."""


def task(task_id: int, start: float | None, stop: float | None, *, deps=(), status="success", **extra: Any) -> TaskRecord:
    """A finished tool call whose times are offsets in seconds from ``T0``."""
    return TaskRecord(
        id=task_id,
        tool=extra.pop("tool", "search"),
        args=extra.pop("args", [f"query {task_id}"]),
        deps=list(deps),
        status=status,
        worker=extra.pop("worker", f"tcp://127.0.0.1:{40000 + task_id % 2}"),
        queued=T0 + start if start is not None else None,
        start=T0 + start if start is not None else None,
        stop=T0 + stop if stop is not None else None,
        attempts=1 if start is not None else 0,
        result=extra.pop("result", f"result {task_id}" if status == "success" else None),
        **extra,
    )


def synthetic_result(
    tasks: list[TaskRecord] | None = None,
    *,
    run_id: str | None = None,
    status: str = "success",
    error: str | None = None,
    airflow: dict[str, Any] | None = None,
    started_offset: float = 0.0,
    prompt: str = "How tall are the Eiffel Tower and the Statue of Liberty?",
) -> RunResult:
    """A finished run with a fan-out of 4 tasks of 1 s on 2 workers unless ``tasks`` is given."""
    if tasks is None:
        tasks = [task(1, 0, 1), task(2, 0, 1), task(3, 1, 2), task(4, 1, 2)]
    result = RunResult(
        status=status,
        error=error,
        prompt=prompt,
        answer="324 m and 93 m" if status == "success" else None,
        toolset="demo",
        planner_model="qwen2.5-0.5b-instruct",
        joiner_model="qwen2.5-0.5b-instruct",
        cluster=ClusterInfo(kind="local", address="tcp://127.0.0.1:8786", workers=2, gpu_slots=0),
        airflow=airflow,
        started=T0 + started_offset - 0.5,
        finished=T0 + started_offset + 2.5,
        plans=[PlanIteration(iteration=0, text="1. search(\"a\")\njoin()", tasks=tasks, thought="look both up")],
        llm_calls=[
            LLMCall(role="planner", model="qwen", prompt_tokens=120, completion_tokens=40, latency_s=0.8,
                    ttft_s=0.1, started=T0 - 0.5),
            LLMCall(role="joiner", model="qwen", prompt_tokens=200, completion_tokens=10, latency_s=0.3,
                    started=T0 + 2.1),
        ],
        timings=Timings(wall_s=3.0, sum_task_s=4.0, critical_path_s=1.0, speedup=2.0, efficiency=0.5,
                        first_dispatch_s=0.5, planning_s=0.5, execution_s=2.0, joining_s=0.3),
    )
    if run_id:
        result.run_id = run_id
    return result


@pytest.fixture
def make_result() -> Callable[..., RunResult]:
    return synthetic_result


@pytest.fixture
def make_task() -> Callable[..., TaskRecord]:
    return task
