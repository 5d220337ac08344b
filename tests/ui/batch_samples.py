"""A realistic batch for the UI tests, saved into a real store: 14 prompts of one nightly DAG task over
four minutes, 8 succeeded (2 of them by an earlier attempt, whose runs are not here), 3 failed with two
causes, 1 cancelled, 2 skipped by the token budget; and a batch of the CLI, outside Airflow."""

from __future__ import annotations

from dataclasses import dataclass

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import AirflowIdentity, LLMCall, PlanIteration, RunResult, TaskRecord, Tokens
from llmcompiler_provider.store import save_batch, save_run

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
BATCH_ID = "nightly-2025-06-15-4f1c"
CLI_BATCH_ID = "cli-prompts-7d2e"
BATCH_AIRFLOW = {"dag_id": "nightly_batch", "run_id": "scheduled__2025-06-15T00:00:00+00:00",
                 "task_id": "answer_prompts", "map_index": None, "try_number": 2}
RATE_LIMIT_CAUSE = "the LLM endpoint kept rate-limiting the requests (HTTP 429) after 4 attempts"
SECRET = "s3cr3t-Batch-99"
TOOL_CAUSE = f"task 1 (fetch) failed: ConnectionError: cannot reach https://bot:{SECRET}@example.com/x"
#: prompt id -> (status, error, seconds after T0 it finished)
OUTCOMES = {
    "q-001": ("success", None, 20), "q-002": ("success", None, 35), "q-003": ("failed", RATE_LIMIT_CAUSE, 50),
    "q-004": ("success", None, 70), "q-005": ("success", None, 95), "q-006": ("failed", TOOL_CAUSE, 110),
    "q-007": ("success", None, 130), "q-008": ("failed", RATE_LIMIT_CAUSE, 150),
    "q-009": ("cancelled", "cancelled: the batch was stopped", 170), "q-010": ("success", None, 200),
}


@dataclass(frozen=True)
class SeededBatch:
    url: str
    summary: BatchSummary
    runs: dict[str, RunResult]  # by prompt id


def batch_run(prompt_id: str, status: str, error: str | None, finished_after: float) -> RunResult:
    started = T0 + finished_after - 12
    task = TaskRecord(id=1, tool="search", args=[f"question {prompt_id}"], status="success", start=started + 2,
                      stop=started + 3, worker="tcp://10.0.0.11:40101", attempts=1, source="cache")
    result = RunResult(
        status=status, error=error, prompt=f"Question {prompt_id}: how tall is tower {prompt_id[-1]}?",
        answer="about 300 m" if status == "success" else None, toolset="demo", airflow=BATCH_AIRFLOW,
        started=started, finished=T0 + finished_after,
        plans=[PlanIteration(iteration=0, text='1. search("x")\njoin()', tasks=[task])],
        llm_calls=[LLMCall(role="planner", model="qwen", prompt_tokens=100, completion_tokens=20,
                           latency_s=2.0, started=started, queued_s=1.5, retries=1, rate_limited=1)],
    )
    result.batch_id, result.prompt_id = BATCH_ID, prompt_id
    return result


def seed_batches(url: str) -> SeededBatch:
    runs = {prompt_id: batch_run(prompt_id, *outcome) for prompt_id, outcome in OUTCOMES.items()}
    for result in runs.values():
        save_run(result, url)
    summary = BatchSummary(
        batch_id=BATCH_ID, status="failed", name="nightly_batch.answer_prompts",
        error="4 of 14 prompts failed (more than max_failed_fraction 0): q-003, q-006, q-008, q-009",
        airflow=AirflowIdentity(**BATCH_AIRFLOW), started=T0, finished=T0 + 240, total=14, succeeded=8,
        failed=4, skipped=2, resumed=2, wall_s=240.0, tokens=Tokens(prompt=1000, completion=200), cost=0.0123,
        llm_requests=14, rate_limited=9, tool_calls=10, tool_calls_deduplicated=10,
        failed_ids=["q-003", "q-006", "q-008", "q-009"], options={"max_active_runs": 4},
    )
    save_batch(summary, url)
    save_batch(BatchSummary(batch_id=CLI_BATCH_ID, status="success", name="prompts.jsonl", started=T0 - 3600,
                            finished=T0 - 3000, total=3, succeeded=3, wall_s=600.0), url)
    return SeededBatch(url=url, summary=summary, runs=runs)
