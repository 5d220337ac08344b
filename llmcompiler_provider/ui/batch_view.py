"""What the batch page shows, prepared from a stored batch and its runs so the template only lays it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import RunSummary, one_line
from llmcompiler_provider.ui import formatting, svg
from llmcompiler_provider.ui.run_view import Figure
from llmcompiler_provider.ui.throughput_chart import render_throughput_chart

CAUSE_CHARS = 300
EXAMPLE_PROMPTS = 5
NO_ERROR = "(no error recorded)"
#: the progress bar's parts: BatchSummary field, the run status whose color it takes, label
PROGRESS_PARTS = (("succeeded", "success", "succeeded"), ("failed", "failed", "failed"),
                  ("skipped", "skipped", "skipped"), ("in_flight", "running", "in flight"))


@dataclass(frozen=True)
class FailureCause:
    """Failed runs with the same error: how many, and a few of their prompts."""

    cause: str
    count: int
    prompt_ids: list[str]
    run_ids: list[str]  # the example prompts' runs, in the same order


@dataclass(frozen=True)
class ProgressPart:
    status: str  # the runs' status it stands for, naming its color
    label: str
    count: int
    percent: float  # of the batch's total

    @property
    def color(self) -> str:
        return svg.status_color(self.status)


@dataclass
class BatchView:
    batch: BatchSummary
    figures: list[Figure]
    progress: list[ProgressPart]
    throughput_svg: str
    causes: list[FailureCause]
    runs: list[RunSummary]


def failure_causes(outcomes: list[dict[str, Any]]) -> list[FailureCause]:
    """The failed runs grouped by their error's text (on one line), the most frequent first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        if outcome["status"] in ("failed", "cancelled"):
            cause = one_line(outcome["error"], CAUSE_CHARS) if outcome.get("error") else NO_ERROR
            groups.setdefault(cause, []).append(outcome)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        FailureCause(cause=cause, count=len(runs),
                     prompt_ids=[r["prompt_id"] or r["run_id"] for r in runs[:EXAMPLE_PROMPTS]],
                     run_ids=[r["run_id"] for r in runs[:EXAMPLE_PROMPTS]])
        for cause, runs in ordered
    ]


def progress(batch: BatchSummary) -> list[ProgressPart]:
    whole = max(batch.total, batch.done + batch.in_flight, 1)
    return [ProgressPart(status, label, getattr(batch, name), 100.0 * getattr(batch, name) / whole)
            for name, status, label in PROGRESS_PARTS]


def batch_figures(batch: BatchSummary) -> list[Figure]:
    count, seconds = formatting.count, formatting.seconds
    return [
        Figure("Done", f"{count(batch.done)} of {count(batch.total)}",
               f"{count(batch.in_flight)} in flight" if batch.in_flight else ""),
        Figure("Succeeded", count(batch.succeeded),
               f"{count(batch.resumed)} from an earlier attempt" if batch.resumed else ""),
        Figure("Failed", count(batch.failed)),
        Figure("Skipped", count(batch.skipped), "a budget was reached" if batch.skipped else ""),
        Figure("Wall time", seconds(batch.wall_s)),
        Figure("Runs per minute", formatting.axis_number(batch.runs_per_minute), "this attempt's runs"),
        Figure("Tokens", count(batch.tokens.total),
               f"{count(batch.tokens.prompt)} prompt · {count(batch.tokens.completion)} completion"),
        Figure("Cost", formatting.money(batch.cost), "from the LLM connection's prices"),
        Figure("LLM requests", count(batch.llm_requests),
               f"{count(batch.rate_limited)} rate-limited (429/503, retried)"),
        Figure("Tool calls", count(batch.tool_calls),
               f"{count(batch.tool_calls_deduplicated)} shared or cached"),
    ]


def batch_view(batch: BatchSummary, outcomes: list[dict[str, Any]], runs: list[RunSummary]) -> BatchView:
    """``outcomes`` are every run's small record (``store.batch_outcomes``); ``runs`` the ones to list."""
    return BatchView(batch=batch, figures=batch_figures(batch), progress=progress(batch),
                     throughput_svg=render_throughput_chart(outcomes), causes=failure_causes(outcomes), runs=runs)
