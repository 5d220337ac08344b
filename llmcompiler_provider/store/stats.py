"""A run's figures as metrics (Airflow's ``Stats`` or anything with the same three methods).

Names, all under ``llmcompiler.``:

* counters: ``runs``, ``runs.<status>``;
* gauges: ``run.tasks``, ``run.failed_tasks``, ``run.replans``, ``run.tokens.prompt``,
  ``run.tokens.completion``, ``run.speedup``, ``run.efficiency``, ``run.gpu_slot_utilization``;
* timings (sent as ``timedelta``): ``run.wall``, ``run.sum_task``, ``run.critical_path``,
  ``run.first_dispatch``, ``run.planning``, ``run.execution``, ``run.joining``,
  ``llm.<role>.latency`` (one per LLM call).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Protocol

from llmcompiler_provider.metrics import result_counts

PREFIX = "llmcompiler"
TIMINGS = {
    "wall_s": "run.wall",
    "sum_task_s": "run.sum_task",
    "critical_path_s": "run.critical_path",
    "first_dispatch_s": "run.first_dispatch",
    "planning_s": "run.planning",
    "execution_s": "run.execution",
    "joining_s": "run.joining",
}
COUNT_GAUGES = {
    "tasks": "run.tasks",
    "failed_tasks": "run.failed_tasks",
    "replans": "run.replans",
    "prompt_tokens": "run.tokens.prompt",
    "completion_tokens": "run.tokens.completion",
}
GAUGES = {"speedup": "run.speedup", "efficiency": "run.efficiency", "gpu_slot_utilization": "run.gpu_slot_utilization"}


class StatsLike(Protocol):
    def gauge(self, stat: str, value: float) -> Any: ...
    def incr(self, stat: str) -> Any: ...
    def timing(self, stat: str, dt: float | timedelta) -> Any: ...


def metric_name(*parts: str) -> str:
    """``llmcompiler.<parts>``, with characters statsd names cannot hold replaced by ``_``."""
    return ".".join([PREFIX, *(re.sub(r"[^A-Za-z0-9_\-.]", "_", p) for p in parts)])


def emit_stats(result: dict[str, Any], stats: StatsLike) -> None:
    """Send the figures of ``result`` (``RunResult.to_dict()``) to ``stats``."""
    timings = result.get("timings") or {}
    counts = result_counts(result)
    stats.incr(metric_name("runs"))
    stats.incr(metric_name("runs", str(result.get("status") or "unknown")))
    for key, name in COUNT_GAUGES.items():
        stats.gauge(metric_name(name), counts[key])
    for key, name in GAUGES.items():
        if timings.get(key) is not None:
            stats.gauge(metric_name(name), float(timings[key]))
    for key, name in TIMINGS.items():
        if timings.get(key) is not None:
            stats.timing(metric_name(name), timedelta(seconds=float(timings[key])))
    for call in result.get("llm_calls") or []:
        stats.timing(metric_name("llm", str(call.get("role") or "unknown"), "latency"),
                     timedelta(seconds=float(call.get("latency_s") or 0.0)))
