"""What the operator logs and pushes about a run: plans, a timing table, a metrics summary.

Pure functions over a run as ``RunResult.to_dict()`` shapes it (no Airflow imports).
A run read back from the store (``store.get_run``) is first reshaped by
:func:`result_from_stored`, so the deferred path reports exactly like the direct one.
"""

from __future__ import annotations

from statistics import mean

from llmcompiler_provider.results import one_line
from typing import Any

SUMMARY_TIMINGS = ("wall_s", "planning_s", "execution_s", "joining_s", "sum_task_s", "critical_path_s",
                   "speedup", "efficiency", "first_dispatch_s", "gpu_slot_utilization")


def result_from_stored(detail: dict[str, Any]) -> dict[str, Any]:
    """A stored run (``store.get_run``) in the shape of ``RunResult.to_dict()``."""
    tasks_by_plan: dict[int, list[dict[str, Any]]] = {}
    for task in detail.get("tasks") or []:
        arguments = task.get("arguments") or {}
        tasks_by_plan.setdefault(int(task.get("plan_iteration") or 0), []).append({
            "id": task["id"],
            "tool": task.get("tool"),
            "args": arguments.get("args", []),
            "kwargs": arguments.get("kwargs", {}),
            "deps": task.get("deps") or [],
            "resources": task.get("resources") or {},
            "priority": task.get("priority") or 0,
            "status": task.get("status"),
            "worker": task.get("worker"),
            "queued": task.get("queued"),
            "start": task.get("started"),
            "stop": task.get("finished"),
            "attempts": task.get("attempts") or 0,
            "error": task.get("error"),
            "result": task.get("result"),
        })
    plans = [
        {**plan, "tasks": tasks_by_plan.get(int(plan.get("iteration") or 0), [])}
        for plan in detail.get("plans") or []
    ]
    keys = ("run_id", "status", "error", "prompt", "answer", "toolset", "planner_model", "joiner_model",
            "cluster", "airflow", "started", "finished", "llm_calls", "timings", "counts", "tokens")
    result = {key: detail.get(key) for key in keys}
    result.update(plans=plans, metrics_saved=True, metrics_error=None)
    return result


def metrics_summary(result: dict[str, Any]) -> dict[str, Any]:
    """A small, flat summary of a run for XCom (no prompt, no answer, no secrets)."""
    counts = result.get("counts") or {}
    tokens = result.get("tokens") or {}
    timings = result.get("timings") or {}
    cluster = result.get("cluster") or {}
    summary: dict[str, Any] = {
        "status": result.get("status"),
        "tasks": int(counts.get("tasks") or 0),
        "replans": int(counts.get("replans") or 0),
        "failed_tasks": int(counts.get("failed_tasks") or 0),
        "prompt_tokens": int(tokens.get("prompt") or 0),
        "completion_tokens": int(tokens.get("completion") or 0),
        "cluster": cluster.get("kind"),
        "workers": cluster.get("workers"),
        "gpu_fallback": bool(cluster.get("gpu_fallback")),
        "metrics_saved": result.get("metrics_saved"),
    }
    for key in SUMMARY_TIMINGS:
        value = timings.get(key)
        summary[key] = round(float(value), 4) if value is not None else None
    return summary


def plans_text(result: dict[str, Any]) -> str:
    """Every plan iteration's text, with its compile errors."""
    parts = []
    for plan in result.get("plans") or []:
        thought = f" (thought: {plan['thought']})" if plan.get("thought") else ""
        header = f"plan {plan.get('iteration', 0)}{thought}"
        parts.append(f"--- {header}\n{(plan.get('text') or '').rstrip()}")
        parts.extend(f"  error: {line}" for line in plan.get("compile_errors") or [])
    return "\n".join(parts) if parts else "(no plan)"


def _seconds(value: float | None) -> str:
    return f"{value:8.3f}" if value is not None else "       -"


def timing_table(result: dict[str, Any]) -> str:
    """One line per task: plan, id, tool, status, worker, start offset and duration (seconds)."""
    started = result.get("started") or 0.0
    header = f"{'plan':>4} {'task':>4}  {'tool':<16} {'status':<10} {'start':>8} {'duration':>8}  worker"
    lines = [header, "-" * len(header)]
    for plan in result.get("plans") or []:
        for task in plan.get("tasks") or []:
            start, stop = task.get("start"), task.get("stop")
            offset = start - started if start is not None else None
            duration = stop - start if start is not None and stop is not None else None
            lines.append(
                f"{plan.get('iteration', 0):>4} {task['id']:>4}  {str(task.get('tool'))[:16]:<16} "
                f"{str(task.get('status'))[:10]:<10} {_seconds(offset)} {_seconds(duration)}  "
                f"{task.get('worker') or '-'}"
            )
    timings = result.get("timings") or {}
    lines.append(
        "wall {:.3f} s | planning {:.3f} s | execution {:.3f} s | joining {:.3f} s | critical path {:.3f} s "
        "| speedup {:.2f}x".format(*(float(timings.get(k) or 0.0) for k in (
            "wall_s", "planning_s", "execution_s", "joining_s", "critical_path_s", "speedup")))
    )
    return "\n".join(lines)


def latest_per_task(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One run per (task id, map index): the latest try (``runs`` are store summaries)."""
    chosen: dict[tuple[Any, Any], dict[str, Any]] = {}
    for run in runs:
        airflow = run.get("airflow") or {}
        key = (airflow.get("task_id"), airflow.get("map_index"))
        best = chosen.get(key)
        if best is None or _try_number(run) > _try_number(best):
            chosen[key] = run
    return sorted(chosen.values(), key=lambda r: ((r.get("airflow") or {}).get("map_index") or 0))


def _try_number(run: dict[str, Any]) -> int:
    return int((run.get("airflow") or {}).get("try_number") or 0)


def batch_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs, failures, mean wall and speedup, and tokens of a batch (store summaries, one per run)."""
    walls = [r["wall_s"] for r in runs if r.get("wall_s") is not None]
    speedups = [r["speedup"] for r in runs if r.get("speedup")]
    return {
        "runs": len(runs),
        "succeeded": sum(1 for r in runs if r.get("status") == "success"),
        "failed": sum(1 for r in runs if r.get("status") != "success"),
        "mean_wall_s": round(mean(walls), 3) if walls else None,
        "mean_speedup": round(mean(speedups), 3) if speedups else None,
        "tasks": sum(int((r.get("counts") or {}).get("tasks") or 0) for r in runs),
        "prompt_tokens": sum(int((r.get("tokens") or {}).get("prompt") or 0) for r in runs),
        "completion_tokens": sum(int((r.get("tokens") or {}).get("completion") or 0) for r in runs),
        "run_ids": [r["run_id"] for r in runs],
    }


def _map_index(state_key: str, task_id: str) -> int | None:
    """``get_task_states`` names a mapped task instance ``<task_id>_<map_index>``, an unmapped one
    ``<task_id>``; None for another task's key."""
    if state_key == task_id:
        return -1
    prefix, _, index = state_key.rpartition("_")
    return int(index) if prefix == task_id and index.isdigit() else None


def prompt_outcomes(task_id: str, states: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per task instance of ``task_id`` (``states``: Airflow's task states of one DAG run)
    with its latest recorded run: ``map_index``, ``state``, ``status``, ``run_id``, ``error``.

    A task instance that recorded no run (killed before it could, or never started) is still a
    row, failed with its task state as the cause."""
    by_index = {(r.get("airflow") or {}).get("map_index"): r for r in latest_per_task(runs)}
    rows = []
    for key, state in states.items():
        index = _map_index(key, task_id)
        if index is None:
            continue
        run = by_index.get(index)
        state = str(state) if state is not None else "none"
        if run is None:
            status, error = ("failed", f"no run recorded (task state {state})")
        elif state != "success" and run.get("status") == "success":
            status, error = "failed", f"the task ended {state} after its run succeeded"
        else:
            status, error = run.get("status"), run.get("error")
        rows.append({"map_index": index, "state": state, "status": status,
                     "run_id": run.get("run_id") if run else None, "error": error})
    return sorted(rows, key=lambda row: row["map_index"])


def summarize_outcomes(outcomes: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, Any]:
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
