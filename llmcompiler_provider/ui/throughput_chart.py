"""A batch's throughput over time: runs finished per minute, succeeded and failed stacked, as SVG."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmcompiler_provider.ui import formatting, svg
from llmcompiler_provider.ui.trend_charts import HEIGHT, WIDTH, plot_scales, time_axes, time_ticks

MINUTE = 60.0
MAX_BARS = 120  # a longer batch gets buckets of several minutes


@dataclass(frozen=True)
class Bucket:
    start: float  # epoch seconds
    succeeded: int = 0
    failed: int = 0  # every other finished status: failed, cancelled

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


def buckets(outcomes: list[dict[str, Any]]) -> tuple[float, list[Bucket]]:
    """The bucket width (whole minutes, at most ``MAX_BARS`` buckets) and the runs finished in each,
    from the first finish's minute to the last's (no buckets when no run finished)."""
    finished = sorted((o["finished"], o["status"] == "success") for o in outcomes if o.get("finished") is not None)
    if not finished:
        return MINUTE, []
    first = math.floor(finished[0][0] / MINUTE) * MINUTE
    span_minutes = (finished[-1][0] - first) / MINUTE + 1
    width = MINUTE * max(1, math.ceil(span_minutes / MAX_BARS))
    counts = [[0, 0] for _ in range(int((finished[-1][0] - first) // width) + 1)]
    for moment, succeeded in finished:
        counts[int((moment - first) // width)][0 if succeeded else 1] += 1
    return width, [Bucket(first + i * width, ok, bad) for i, (ok, bad) in enumerate(counts)]


def render_throughput_chart(outcomes: list[dict[str, Any]]) -> str:
    """Bars of runs finished per minute over the batch's time; an empty string when none finished."""
    width, bars = buckets(outcomes)
    if not bars:
        return ""
    per_minute = MINUTE / width
    t_low, t_high = bars[0].start, bars[-1].start + width
    y_ticks = svg.ticks(0.0, max(b.finished for b in bars) * per_minute or 1.0, 5)
    y_high = y_ticks[-1] or 1.0
    x_of, y_of = plot_scales(t_low, t_high, y_high)

    body = time_axes(y_ticks, y_of, time_ticks(t_low, t_high), x_of, unit="runs/min")
    bar_width = max(1.0, x_of(t_low + width) - x_of(t_low) - 1.0)
    for bar in bars:
        rate_ok, rate_bad = bar.succeeded * per_minute, bar.failed * per_minute
        minutes = f"{width / MINUTE:g} min"
        tooltip = (f"{formatting.clock(bar.start)} UTC, {minutes}: {bar.finished} runs finished "
                   f"({bar.succeeded} succeeded, {bar.failed} failed) · "
                   f"{formatting.axis_number(round(bar.finished * per_minute, 2))} runs/min")
        top_ok = y_of(rate_ok)
        parts = []
        if bar.succeeded:
            parts.append(svg.element("rect", x=x_of(bar.start), y=top_ok, width=bar_width,
                                     height=y_of(0) - top_ok, fill=svg.status_color("success")))
        if bar.failed:
            top_bad = y_of(rate_ok + rate_bad)
            parts.append(svg.element("rect", x=x_of(bar.start), y=top_bad, width=bar_width,
                                     height=top_ok - top_bad, fill=svg.status_color("failed")))
        body.append(svg.titled("g", tooltip, "".join(parts), class_="bar", data_finished=bar.finished))
    label = "Runs of the batch finished per minute"
    return svg.document(WIDTH, HEIGHT, body, label=label, class_="throughput")
