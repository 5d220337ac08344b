"""Realistic runs for the UI tests, and saving them into a real store.

``sample_runs`` builds ``RunResult``s the way the run loop records them: three
workers, GPU tasks holding ``{"GPU": 1}``, a task that failed (and one that
failed because of it), a replan, LLM calls, an answer; plus a history of runs of
two DAGs and the CLI over a few days, for the trends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmcompiler_provider.results import (
    AirflowIdentity,
    ClusterInfo,
    LLMCall,
    PlanIteration,
    RunResult,
    TaskRecord,
    Timings,
)
from llmcompiler_provider.store import save_run

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
DAY = 86400.0
WORKERS = ("tcp://10.0.0.11:40101", "tcp://10.0.0.12:40102", "tcp://10.0.0.13:40103")
HOSTILE_PROMPT = 'Compare <b>heights</b> </pre><script>alert("owned")</script> & "quotes" of the two towers'
LEAKED_SECRET = "s3cr3t-Value-42"
MODEL = "SmolLM2-360M-Instruct"
FIRST_PLAN_TEXT = """1. search("Eiffel Tower height")
2. search("Statue of Liberty height")
3. caption_image("eiffel.jpg")
4. embed($1, $2)
5. fetch("https://example.com/h")
6. math("compare", $1, $5)
7. search("Eiffel Tower opening year")
join()"""
REPLAN_TEXT = """1. search("Statue of Liberty height in metres")
2. math("compare", 330, $1)
join()"""
DAG_PACE = {"llm_research": 1.0, "nightly_batch": 1.4, None: 0.7}  # how slow each DAG's history runs are
MAIN_AIRFLOW = {"dag_id": "llm_research", "run_id": "manual__2025-06-15T15:06:40+00:00", "task_id": "ask",
                "map_index": None, "try_number": 2}


@dataclass(frozen=True)
class SeededStore:
    url: str
    main_run_id: str
    run_ids: list[str]
    results: list[RunResult]


def ran(task_id: int, tool: str, start: float, stop: float, worker: int, *, origin: float = T0, deps=(),
        gpu: bool = False, status: str = "success", error: str | None = None, attempts: int = 1,
        args: list[Any] | None = None) -> TaskRecord:
    """A task that ran on ``WORKERS[worker]`` from ``start`` to ``stop`` seconds after ``origin``."""
    return TaskRecord(
        id=task_id, tool=tool, args=args if args is not None else [f"{tool} input {task_id}"],
        deps=list(deps), resources={"GPU": 1.0} if gpu else {}, status=status, worker=WORKERS[worker],
        thread=140000 + task_id, queued=origin + start - 0.05, start=origin + start, stop=origin + stop,
        attempts=attempts, error=error,
        result=None if error else f"result of ${task_id}: {tool} done", unit=f"{tool}-{task_id}",
    )


def main_run() -> RunResult:
    """One run with everything a page shows: GPU tasks, a failure and its dependent, a replan, an answer."""
    first_plan = [
        ran(1, "search", 0.20, 1.40, 0, args=["Eiffel Tower height"]),
        ran(2, "search", 0.30, 1.10, 1, args=["Statue of Liberty height"]),
        ran(3, "caption_image", 0.40, 2.00, 2, gpu=True, args=["eiffel.jpg"]),
        ran(4, "embed", 1.50, 2.60, 2, deps=[1, 2], gpu=True, args=["$1", "$2"]),
        ran(5, "fetch", 0.50, 0.90, 0, status="failed", attempts=3,
            args=[f"https://example.com/h?api_key={LEAKED_SECRET}"],
            error=f"ConnectionError: cannot reach https://bot:{LEAKED_SECRET}@example.com/h "
                  "(connection refused)"),
        TaskRecord(id=6, tool="math", args=["compare", "$1", "$5"], deps=[1, 5], status="failed",
                   error="not run: its dependency $5 failed"),
        ran(7, "search", 1.15, 1.90, 1, args=["Eiffel Tower opening year"]),
    ]
    replan = [
        ran(1, "search", 3.40, 4.20, 1, args=["Statue of Liberty height in metres"]),
        ran(2, "math", 4.30, 4.50, 0, deps=[1], args=["compare", 330, "$1"]),
    ]
    return RunResult(
        run_id="a1b2c3d4e5f60718293a4b5c6d7e8f90",
        status="success",
        prompt=HOSTILE_PROMPT,
        answer="The Eiffel Tower (330 m) is taller than the Statue of Liberty (93 m) by <237 m>.",
        toolset="demo",
        planner_model=MODEL,
        joiner_model=MODEL,
        cluster=ClusterInfo(kind="local", address="tcp://10.0.0.10:8786", gpu_fallback=True, workers=3,
                            gpu_slots=2),
        airflow=AirflowIdentity(**MAIN_AIRFLOW),
        started=T0,
        finished=T0 + 5.0,
        cost=0.0123,
        plans=[
            PlanIteration(iteration=0, text=FIRST_PLAN_TEXT, tasks=first_plan,
                          thought="look both heights up at once"),
            PlanIteration(iteration=1, text=REPLAN_TEXT, tasks=replan,
                          thought="the fetch failed; search again"),
        ],
        llm_calls=[
            LLMCall(role="planner", model=MODEL, prompt_tokens=412, completion_tokens=96, latency_s=0.90,
                    ttft_s=0.12, started=T0),
            LLMCall(role="joiner", model=MODEL, prompt_tokens=655, completion_tokens=31, latency_s=0.40,
                    started=T0 + 2.70),
            LLMCall(role="planner", model=MODEL, prompt_tokens=702, completion_tokens=40, latency_s=0.30,
                    ttft_s=0.08, started=T0 + 3.10),
            LLMCall(role="joiner", model=MODEL, prompt_tokens=560, completion_tokens=28, latency_s=0.40,
                    started=T0 + 4.60),
        ],
        timings=Timings(planning_s=1.2, execution_s=3.4, joining_s=0.8, first_dispatch_s=0.2, overlap_s=0.7),
    )


def history_run(index: int, dag_id: str | None, *, map_index: int | None = None) -> RunResult:
    """A small two-worker run ``index`` half-days after T0 - 3 days, getting a little faster each time."""
    origin = T0 - 3 * DAY + index * DAY / 2 + DAG_PACE[dag_id] * 600
    speed = DAG_PACE[dag_id] * (1.0 - 0.08 * index)
    tasks = [ran(1, "search", 0.1, 0.1 + 1.2 * speed, 0, origin=origin),
             ran(2, "search", 0.1, 0.1 + 1.0 * speed, 1, origin=origin),
             ran(3, "math", 0.2 + 1.2 * speed, 0.4 + 1.2 * speed, 0, deps=[1, 2], origin=origin)]
    failed = index % 4 == 3
    if failed:
        tasks[2].status, tasks[2].result = "failed", None
        tasks[2].error = "ZeroDivisionError: division by zero"
    airflow = None
    if dag_id:
        airflow = AirflowIdentity(dag_id=dag_id, run_id=f"scheduled__{index:02d}", task_id="answer",
                                  map_index=map_index, try_number=1)
    return RunResult(
        run_id=f"{(dag_id or 'cli')[:8]}{index:02d}{map_index or 0:02d}".ljust(32, "0"),
        status="failed" if failed else "success",
        error="task $3 math failed: ZeroDivisionError: division by zero" if failed else None,
        prompt=f"Question number {index} for {dag_id or 'the command line'}",
        answer=None if failed else f"Answer {index}",
        toolset="demo", planner_model=MODEL, joiner_model=MODEL,
        cluster=ClusterInfo(kind="local", workers=2),
        airflow=airflow,
        started=origin,
        finished=origin + 0.6 + 1.5 * speed,
        plans=[PlanIteration(iteration=0, text='1. search("a")\n2. search("b")\n3. math("+", $1, $2)\njoin()',
                             tasks=tasks)],
        llm_calls=[
            LLMCall(role="planner", model=MODEL, prompt_tokens=int(300 * DAG_PACE[dag_id]) + 10 * index,
                    completion_tokens=50, latency_s=0.3, started=origin),
            LLMCall(role="joiner", model=MODEL, prompt_tokens=400, completion_tokens=20 + index,
                    latency_s=0.2, started=origin + 0.4 + 1.2 * speed),
        ],
    )


def sample_runs() -> list[RunResult]:
    history = [history_run(i, "llm_research") for i in range(6)]
    history += [history_run(i, "nightly_batch", map_index=i % 2) for i in range(6)]
    history += [history_run(i, None) for i in range(0, 6, 2)]
    return [main_run(), *history]


def seed(url: str) -> SeededStore:
    results = sample_runs()
    run_ids = [save_run(result, url) for result in results]
    return SeededStore(url=url, main_run_id=run_ids[0], run_ids=run_ids, results=results)
