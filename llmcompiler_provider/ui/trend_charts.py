"""Trend plots: one line per DAG of a run figure (latency, speedup, tokens) over time, as SVG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmcompiler_provider.ui import formatting, svg

WIDTH = 1100.0
HEIGHT = 300.0
LEFT = 64.0
RIGHT = 20.0
TOP = 26.0
BOTTOM = 40.0
LEGEND_ROW = 18.0
NO_DAG = "(outside Airflow)"


@dataclass(frozen=True)
class TrendMetric:
    key: str  # a key of store.trend()'s points
    title: str
    unit: str


TREND_METRICS = (
    TrendMetric("wall_s", "Latency (wall time)", "s"),
    TrendMetric("speedup", "Speedup (sum of task times / execution wall)", "×"),
    TrendMetric("tokens", "Token use (prompt + completion)", "tokens"),
)


def series_by_dag(points: list[dict[str, Any]], key: str) -> dict[str, list[tuple[float, float, str]]]:
    """``{dag: [(started, value, run_id), ...]}`` oldest first, skipping runs without the value."""
    series: dict[str, list[tuple[float, float, str]]] = {}
    for point in points:
        value = point.get(key)
        if value is None or point.get("started") is None:
            continue
        dag = point.get("dag_id") or NO_DAG
        series.setdefault(dag, []).append((point["started"], float(value), point["run_id"]))
    for values in series.values():
        values.sort()
    return dict(sorted(series.items()))


def time_ticks(low: float, high: float) -> list[tuple[float, str]]:
    span = high - low
    steps = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400, 365 * 86400]
    step = next((s for s in steps if span / s <= 7), steps[-1])
    first = (int(low) // step + 1) * step
    label = formatting.day if step >= 86400 else formatting.clock
    return [(t, label(t)) for t in range(int(first), int(high) + 1, step)]


def plot_scales(t_low: float, t_high: float, y_high: float) -> tuple[Callable[[float], float],
                                                                   Callable[[float], float]]:
    """Epoch seconds -> x, and a value from 0 to ``y_high`` -> y, in the plot area of a ``WIDTH`` by
    ``HEIGHT`` chart (margins included)."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(t: float) -> float:
        return LEFT + (t - t_low) / (t_high - t_low) * plot_width

    def y_of(v: float) -> float:
        return TOP + plot_height - v / y_high * plot_height

    return x_of, y_of


def time_axes(
    y_ticks: list[float],
    y_of: Callable[[float], float],
    x_ticks: list[tuple[float, str]],
    x_of: Callable[[float], float],
    *,
    unit: str,
) -> list[str]:
    """The plot area (``WIDTH`` by ``HEIGHT``, margins included) with its grid, tick labels and unit."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body = [svg.element("rect", x=LEFT, y=TOP, width=plot_width, height=plot_height, fill="#ffffff",
                        stroke="#cccccc")]
    for tick in y_ticks:
        y = y_of(tick)
        body.append(svg.element("line", x1=LEFT, y1=y, x2=LEFT + plot_width, y2=y, stroke="#ececec"))
        body.append(svg.element("text", svg.text_of(formatting.axis_number(tick)), x=LEFT - 6, y=y + 4,
                                text_anchor="end", fill="#555555", font_size=11))
    for t, text in x_ticks:
        x, bottom = x_of(t), TOP + plot_height
        body.append(svg.element("line", x1=x, y1=bottom, x2=x, y2=bottom + 5, stroke="#888888"))
        body.append(svg.element("text", svg.text_of(text), x=x, y=bottom + 18, text_anchor="middle",
                                fill="#555555", font_size=11))
    body.append(svg.element("text", svg.text_of(unit), x=LEFT - 6, y=TOP - 10, text_anchor="end",
                            fill="#555555", font_size=11))
    return body


def render_trend_chart(points: list[dict[str, Any]], metric: TrendMetric, *, chart_id: str) -> str:
    """The chart for ``metric``; an empty string when no run has the value."""
    series = series_by_dag(points, metric.key)
    values = [p for s in series.values() for p in s]
    if not values:
        return ""
    t_low, t_high = min(p[0] for p in values), max(p[0] for p in values)
    if t_high - t_low < 60:
        t_low, t_high = t_low - 30, t_high + 30
    y_ticks = svg.ticks(0.0, max(p[1] for p in values) or 1.0, 5)
    y_high = y_ticks[-1] or 1.0
    x_of, y_of = plot_scales(t_low, t_high, y_high)

    body = time_axes(y_ticks, y_of, time_ticks(t_low, t_high), x_of, unit=metric.unit)
    legend_y = HEIGHT + 4
    for index, (dag, dag_points) in enumerate(series.items()):
        color = svg.SERIES_COLORS[index % len(svg.SERIES_COLORS)]
        coordinates = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v, _run in dag_points)
        body.append(svg.element("polyline", class_="series", points=coordinates, fill="none", stroke=color,
                                stroke_width=2, data_dag=dag))
        for t, v, run_id in dag_points:
            shown = f"{formatting.axis_number(round(v, 3))} {metric.unit}"
            tooltip = f"{dag} · {formatting.when(t)} · {shown} · run {run_id}"
            body.append(svg.titled("circle", tooltip, class_="point", cx=x_of(t), cy=y_of(v), r=3.5,
                                   fill=color))
        row_y = legend_y + index * LEGEND_ROW
        body.append(svg.element("rect", x=LEFT, y=row_y, width=12, height=12, fill=color))
        legend = svg.text_of(f"{dag} ({len(dag_points)} runs)")
        body.append(svg.element("text", legend, x=LEFT + 18, y=row_y + 10, fill="#333333", font_size=12))
    height = legend_y + len(series) * LEGEND_ROW + 4
    label = f"{metric.title} per DAG over time"
    return svg.document(WIDTH, height, body, label=label, class_=f"trend {chart_id}")
