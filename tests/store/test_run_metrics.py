"""emit_stats sends a run's figures under llmcompiler.* names to any Stats-like object."""

from __future__ import annotations

from datetime import timedelta

from llmcompiler_provider.run_metrics import emit_stats


class RecordingStats:
    """A real, minimal Stats backend: it keeps what it was sent."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.gauges: dict[str, float] = {}
        self.timings: dict[str, list[timedelta]] = {}

    def incr(self, stat: str) -> None:
        self.counters[stat] = self.counters.get(stat, 0) + 1

    def gauge(self, stat: str, value: float) -> None:
        self.gauges[stat] = value

    def timing(self, stat: str, dt: float | timedelta) -> None:
        self.timings.setdefault(stat, []).append(dt if isinstance(dt, timedelta) else timedelta(seconds=dt))


def test_a_run_sends_its_counts_figures_and_timings(make_result):
    stats = RecordingStats()
    emit_stats(make_result(), stats)

    assert stats.counters == {"llmcompiler.runs": 1, "llmcompiler.runs.success": 1}
    assert stats.gauges == {
        "llmcompiler.run.tasks": 4,
        "llmcompiler.run.failed_tasks": 0,
        "llmcompiler.run.replans": 0,
        "llmcompiler.run.tokens.prompt": 320,
        "llmcompiler.run.tokens.completion": 50,
        "llmcompiler.run.speedup": 2.0,
        "llmcompiler.run.efficiency": 0.5,
    }
    assert stats.timings["llmcompiler.run.wall"] == [timedelta(seconds=3)]
    assert stats.timings["llmcompiler.run.critical_path"] == [timedelta(seconds=1)]
    assert stats.timings["llmcompiler.run.sum_task"] == [timedelta(seconds=4)]
    assert stats.timings["llmcompiler.run.first_dispatch"] == [timedelta(seconds=0.5)]
    assert stats.timings["llmcompiler.llm.planner.latency"] == [timedelta(seconds=0.8)]
    assert stats.timings["llmcompiler.llm.joiner.latency"] == [timedelta(seconds=0.3)]


def test_a_failed_run_counts_as_failed_with_its_failed_tasks(make_result, make_task):
    stats = RecordingStats()
    tasks = [make_task(1, 0, 1), make_task(2, 0, 1, status="failed", error="boom")]
    emit_stats(make_result(tasks, status="failed", error="task 2 failed"), stats)
    assert stats.counters["llmcompiler.runs.failed"] == 1
    assert stats.gauges["llmcompiler.run.failed_tasks"] == 1


def test_gpu_slot_utilization_is_sent_only_when_known(make_result):
    result = make_result()
    result.timings.gpu_slot_utilization = 0.75
    stats = RecordingStats()
    emit_stats(result, stats)
    assert stats.gauges["llmcompiler.run.gpu_slot_utilization"] == 0.75


def test_names_hold_only_characters_statsd_accepts(make_result):
    result = make_result(status="weird status/1")
    result.llm_calls[0].role = "plan ner"
    stats = RecordingStats()
    emit_stats(result, stats)
    assert "llmcompiler.runs.weird_status_1" in stats.counters
    assert "llmcompiler.llm.plan_ner.latency" in stats.timings
