"""A run as text: its plans, one table of its tasks, a line of its timings.

The operator's task log, ``llmcompiler run`` and ``llmcompiler runs show`` all print a run
with these, so a run reads the same wherever it is shown.
"""

from __future__ import annotations

from llmcompiler_provider.results import RunResult, one_line

DETAIL_COLUMN_CHARS = 50
TASK_HEADERS = ["IT", "ID", "TOOL", "STATUS", "DEPS", "WORKER", "START", "DURATION", "TRIES", "RESULT / ERROR"]


def format_number(value: float | None, unit: str = "", digits: int = 2) -> str:
    return f"{value:.{digits}f}{unit}" if value is not None else "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def plans_text(result: RunResult) -> str:
    """Every plan iteration's text, with its repairs (warnings) and compile errors."""
    parts = []
    for plan in result.plans:
        thought = f" (thought: {plan.thought})" if plan.thought else ""
        parts.append(f"--- plan {plan.iteration}{thought}\n{plan.text.rstrip()}")
        parts.extend(f"  {line}" for line in plan.warnings)
        parts.extend(f"  error: {line}" for line in plan.compile_errors)
    return "\n".join(parts) if parts else "(no plan)"


def task_table(result: RunResult) -> str:
    """One row per task: plan iteration, id, tool, status, dependencies, worker, start (seconds
    from the run's start), duration, attempts, and its result or error."""
    rows = []
    for plan in result.plans:
        for task in plan.tasks:
            offset = task.start - result.started if task.start is not None else None
            detail = task.error if task.status == "failed" else task.result
            rows.append([
                str(plan.iteration), str(task.id), task.tool, task.status,
                ",".join(f"${d}" for d in task.deps) or "-",
                task.worker or "-",
                format_number(offset, "s", 3),
                format_number(task.duration, "s", 3),
                str(task.attempts),
                one_line(detail or "", DETAIL_COLUMN_CHARS),
            ])
    return table(TASK_HEADERS, rows) if rows else "no tasks"


def timings_line(result: RunResult) -> str:
    t = result.timings
    return (f"wall {t.wall_s:.3f} s | planning {t.planning_s:.3f} s | execution {t.execution_s:.3f} s "
            f"| joining {t.joining_s:.3f} s | critical path {t.critical_path_s:.3f} s "
            f"| sum of tasks {t.sum_task_s:.3f} s | speedup {t.speedup:.2f}x")
