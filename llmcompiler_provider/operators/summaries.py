"""What the operators push to XCom about runs: one run's metrics summary, and a batch's
outcome per prompt (pure functions, no Airflow imports)."""

from __future__ import annotations

from statistics import mean
from typing import Any

from llmcompiler_provider.results import AirflowIdentity, RunResult, RunSummary, one_line

SUMMARY_TIMINGS = ("wall_s", "planning_s", "execution_s", "joining_s", "sum_task_s", "critical_path_s",
                   "speedup", "efficiency", "first_dispatch_s", "gpu_slot_utilization")


def metrics_summary(result: RunResult) -> dict[str, Any]:
    """A small, flat summary of a run for XCom (no prompt, no answer, no secrets)."""
    counts, tokens, cluster = result.counts, result.tokens, result.cluster
    summary: dict[str, Any] = {
        "status": result.status,
        "tasks": counts.tasks,
        "replans": counts.replans,
        "failed_tasks": counts.failed_tasks,
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "cluster": cluster.kind,
        "workers": cluster.workers,
        "gpu_fallback": cluster.gpu_fallback,
        "metrics_saved": result.metrics_saved,
    }
    for key in SUMMARY_TIMINGS:
        value = getattr(result.timings, key)
        summary[key] = round(float(value), 4) if value is not None else None
    return summary


def latest_per_task(runs: list[RunSummary]) -> list[RunSummary]:
    """One run per (task id, map index): the latest try."""
    chosen: dict[tuple[str | None, int | None], RunSummary] = {}
    for run in runs:
        airflow = run.airflow or AirflowIdentity()
        key = (airflow.task_id, airflow.map_index)
        best = chosen.get(key)
        if best is None or _try_number(run) > _try_number(best):
            chosen[key] = run
    return sorted(chosen.values(), key=lambda r: _map_index_of(r) or 0)


def _try_number(run: RunSummary) -> int:
    return (run.airflow.try_number if run.airflow else None) or 0


def _map_index_of(run: RunSummary) -> int | None:
    return run.airflow.map_index if run.airflow else None


def batch_summary(runs: list[RunSummary]) -> dict[str, Any]:
    """Runs, failures, mean wall and speedup, and tokens of a batch (one summary per run)."""
    walls = [r.timings.wall_s for r in runs if r.timings.wall_s]
    speedups = [r.timings.speedup for r in runs if r.timings.speedup]
    return {
        "runs": len(runs),
        "succeeded": sum(1 for r in runs if r.status == "success"),
        "failed": sum(1 for r in runs if r.status != "success"),
        "mean_wall_s": round(mean(walls), 3) if walls else None,
        "mean_speedup": round(mean(speedups), 3) if speedups else None,
        "tasks": sum(r.counts.tasks for r in runs),
        "prompt_tokens": sum(r.tokens.prompt for r in runs),
        "completion_tokens": sum(r.tokens.completion for r in runs),
        "run_ids": [r.run_id for r in runs],
    }


def _map_index(state_key: str, task_id: str) -> int | None:
    """``get_task_states`` names a mapped task instance ``<task_id>_<map_index>``, an unmapped one
    ``<task_id>``; None for another task's key."""
    if state_key == task_id:
        return -1
    prefix, _, index = state_key.rpartition("_")
    return int(index) if prefix == task_id and index.isdigit() else None


def prompt_outcomes(task_id: str, states: dict[str, Any], runs: list[RunSummary]) -> list[dict[str, Any]]:
    """One row per task instance of ``task_id`` (``states``: Airflow's task states of one DAG run)
    with its latest recorded run: ``map_index``, ``state``, ``status``, ``run_id``, ``error``.

    A task instance that recorded no run (killed before it could, or never started) is still a
    row, failed with its task state as the cause."""
    by_index = {_map_index_of(r): r for r in latest_per_task(runs)}
    rows = []
    for key, state in states.items():
        index = _map_index(key, task_id)
        if index is None:
            continue
        run = by_index.get(index)
        state = str(state) if state is not None else "none"
        if run is None:
            status, error = ("failed", f"no run recorded (task state {state})")
        elif state != "success" and run.status == "success":
            status, error = "failed", f"the task ended {state} after its run succeeded"
        else:
            status, error = run.status, run.error
        rows.append({"map_index": index, "state": state, "status": status,
                     "run_id": run.run_id if run else None, "error": error})
    return sorted(rows, key=lambda row: row["map_index"])


def summarize_outcomes(outcomes: list[dict[str, Any]], runs: list[RunSummary]) -> dict[str, Any]:
    """``batch_summary`` of the recorded runs, counted over every prompt, with each prompt's row."""
    summary = batch_summary(latest_per_task(runs))
    failed = [row for row in outcomes if row["status"] != "success"]
    summary.update(
        runs=len(outcomes),
        succeeded=len(outcomes) - len(failed),
        failed=len(failed),
        failed_map_indexes=[row["map_index"] for row in failed],
        prompts=outcomes,
    )
    return summary


def batch_verdict(outcomes: list[dict[str, Any]], max_failed_fraction: float) -> str | None:
    """None when few enough prompts failed; otherwise one line naming each failed prompt."""
    failed = [row for row in outcomes if row["status"] != "success"]
    if not failed or len(failed) <= max_failed_fraction * len(outcomes):
        return None
    named = "; ".join(
        f"map index {row['map_index']} (run {row['run_id'] or '-'}: {one_line(row['error'] or row['status'], 160)})"
        for row in failed
    )
    return (f"{len(failed)} of {len(outcomes)} prompts failed, more than max_failed_fraction="
            f"{max_failed_fraction:g} allows: {named}")
