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

from llmcompiler_provider.results import RunResult

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


def emit_stats(result: RunResult, stats: StatsLike) -> None:
    """Send the figures of ``result`` to ``stats``."""
    timings, counts, tokens = result.timings, result.counts, result.tokens
    stats.incr(metric_name("runs"))
    stats.incr(metric_name("runs", result.status or "unknown"))
    gauges = {"tasks": counts.tasks, "failed_tasks": counts.failed_tasks, "replans": counts.replans,
              "prompt_tokens": tokens.prompt, "completion_tokens": tokens.completion}
    for key, name in COUNT_GAUGES.items():
        stats.gauge(metric_name(name), gauges[key])
    for key, name in GAUGES.items():
        if getattr(timings, key) is not None:
            stats.gauge(metric_name(name), float(getattr(timings, key)))
    for key, name in TIMINGS.items():
        if getattr(timings, key) is not None:
            stats.timing(metric_name(name), timedelta(seconds=float(getattr(timings, key))))
    for call in result.llm_calls:
        stats.timing(metric_name("llm", call.role or "unknown", "latency"), timedelta(seconds=call.latency_s))
