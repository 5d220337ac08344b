"""Where a run's time went: its tasks per worker slot and GPU slot, and its LLM calls, over time.

:func:`gantt_chart` lays a recorded run out in lanes; a lane
holds bars that never overlap. Each worker gets as many lanes as it ran tasks at
once; GPU tasks also appear on the GPU slot lanes; the planner and joiner calls
get a lane of their own. :func:`render_gantt` draws it as SVG.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llmcompiler_provider.results import RunResult, TaskRecord
from llmcompiler_provider.ui import formatting, svg
from llmcompiler_provider.ui.task_facts import gpu_slots, uses_gpu, worker_name

LABEL_WIDTH = 210.0
CHART_WIDTH = 960.0
RIGHT_MARGIN = 20.0
AXIS_HEIGHT = 34.0
LANE_HEIGHT = 26.0
BAR_HEIGHT = 18.0
MIN_BAR_PX = 2.0
MIN_LABEL_PX = 46.0
CHARS_PER_PX = 1 / 6.6  # average glyph width of the 11px label font
GPU_OUTLINE = "#1d4f8f"
TOUCHING_S = 1e-3  # bars closer than this do not overlap (epoch floats lose microseconds)


@dataclass(frozen=True)
class Bar:
    """One task (or LLM call) as it ran; times are seconds from the run's start."""

    start: float
    stop: float
    label: str
    detail: str
    kind: str  # task | planner | joiner
    status: str
    gpu: bool = False
    plan_iteration: int | None = None
    task_id: int | None = None


@dataclass
class Lane:
    name: str
    group: str  # llm | worker | gpu
    bars: list[Bar] = field(default_factory=list)


@dataclass
class GanttChart:
    lanes: list[Lane]
    span_s: float  # from the run's start to its last bar's end (or the run's end)
    plan_starts: list[tuple[int, float]]  # (iteration, seconds) where each plan's first task started

    @property
    def bar_count(self) -> int:
        return sum(len(lane.bars) for lane in self.lanes)


def pack(bars: Iterable[Bar]) -> list[list[Bar]]:
    """Greedy interval partitioning: the fewest rows such that no two bars in a row overlap."""
    rows: list[list[Bar]] = []
    for bar in sorted(bars, key=lambda b: (b.start, b.stop)):
        row = next((r for r in rows if r[-1].stop <= bar.start + TOUCHING_S), None)
        if row is None:
            rows.append([bar])
        else:
            row.append(bar)
    return rows


def _task_label(task: TaskRecord, iteration: int, several_plans: bool) -> str:
    prefix = f"P{iteration + 1} " if several_plans else ""
    return f"{prefix}${task.id} {task.tool}"


def _task_detail(task: TaskRecord, label: str) -> str:
    parts = [f"{label}: {task.status}, {formatting.seconds(task.duration)}", f"on {worker_name(task.worker)}"]
    if uses_gpu(task):
        parts.append(f"GPU {gpu_slots(task):g}")
    if task.attempts > 1:
        parts.append(f"{task.attempts} attempts")
    if task.error:
        parts.append(f"error: {svg.shorten(task.error, 300)}")
    return "; ".join(parts)


def _task_bars(run: RunResult, origin: float) -> list[tuple[TaskRecord, Bar]]:
    several_plans = sum(1 for plan in run.plans if plan.tasks) > 1
    bars = []
    for plan in run.plans:
        for task in plan.tasks:
            if task.start is None or task.stop is None:
                continue
            label = _task_label(task, plan.iteration, several_plans)
            bars.append((task, Bar(
                start=task.start - origin,
                stop=max(task.stop, task.start) - origin,
                label=label,
                detail=_task_detail(task, label),
                kind="task",
                status=task.status or "pending",
                gpu=uses_gpu(task),
                plan_iteration=plan.iteration,
                task_id=task.id,
            )))
    return bars


def _llm_bars(run: RunResult, origin: float) -> list[Bar]:
    bars = []
    for call in run.llm_calls:
        if call.started is None:
            continue
        start = call.started - origin
        tokens = f"{call.prompt_tokens} + {call.completion_tokens} tokens"
        detail = f"{call.role} ({call.model or 'model'}): {formatting.seconds(call.latency_s)}, {tokens}"
        if call.error:
            detail += f"; error: {svg.shorten(call.error, 300)}"
        stop = start + max(0.0, call.latency_s)
        status = "failed" if call.error else "success"
        bars.append(Bar(start=start, stop=stop, label=call.role, detail=detail, kind=call.role, status=status))
    return bars


def _lanes_named(name: str, group: str, rows: list[list[Bar]], numbered: bool) -> list[Lane]:
    return [Lane(f"{name} · slot {i + 1}" if numbered else name, group, row) for i, row in enumerate(rows)]


def gantt_chart(run: RunResult) -> GanttChart:
    """The lanes of a recorded run."""
    origin = run.started
    task_bars = _task_bars(run, origin)
    lanes: list[Lane] = []
    llm_rows = pack(_llm_bars(run, origin))
    lanes += _lanes_named("LLM planner / joiner", "llm", llm_rows, numbered=len(llm_rows) > 1)
    by_worker: dict[str, list[Bar]] = {}
    for task, bar in task_bars:
        by_worker.setdefault(worker_name(task.worker), []).append(bar)
    for worker in sorted(by_worker):
        rows = pack(by_worker[worker])
        lanes += _lanes_named(worker, "worker", rows, numbered=len(rows) > 1)
    gpu_rows = pack(bar for _task, bar in task_bars if bar.gpu)
    declared_slots = run.cluster.gpu_slots
    gpu_rows += [[] for _ in range(max(0, declared_slots - len(gpu_rows)))]
    lanes += [Lane(f"GPU slot {i + 1}", "gpu", row) for i, row in enumerate(gpu_rows)]

    ends = [bar.stop for lane in lanes for bar in lane.bars]
    if run.finished is not None:
        ends.append(run.finished - origin)
    first_starts: dict[int, float] = {}
    for _task, bar in task_bars:
        iteration = bar.plan_iteration or 0
        first_starts[iteration] = min(first_starts.get(iteration, bar.start), bar.start)
    return GanttChart(lanes=lanes, span_s=max(ends, default=0.0), plan_starts=sorted(first_starts.items()))


def _bar_element(bar: Bar, x: float, y: float, width: float) -> str:
    classes = ["bar", f"bar-{bar.kind}", f"status-{bar.status}"] + (["gpu"] if bar.gpu else [])
    fill = svg.LLM_COLOR if bar.kind != "task" else svg.status_color(bar.status)
    outline = {"stroke": GPU_OUTLINE, "stroke_width": 2} if bar.gpu else {}
    parts = [svg.titled("rect", bar.detail, class_=" ".join(classes), x=x, y=y, width=width,
                        height=BAR_HEIGHT, rx=3, fill=fill, **outline)]
    if width >= MIN_LABEL_PX:
        label = svg.shorten(bar.label, int((width - 8) * CHARS_PER_PX))
        parts.append(svg.element("text", svg.text_of(label), x=x + 4, y=y + BAR_HEIGHT - 5, font_size=11,
                                 fill="#ffffff", pointer_events="none"))
    return "".join(parts)


def render_gantt(chart: GanttChart, *, label: str = "Tasks per worker and GPU slot over time") -> str:
    """The chart as an SVG document; an empty string when nothing has recorded times."""
    if not chart.lanes:
        return ""
    span = chart.span_s if chart.span_s > 0 else 1.0
    scale = CHART_WIDTH / span
    height = AXIS_HEIGHT + LANE_HEIGHT * len(chart.lanes) + 10
    width = LABEL_WIDTH + CHART_WIDTH + RIGHT_MARGIN
    body: list[str] = []
    for index, lane in enumerate(chart.lanes):  # lane backgrounds and names
        y = AXIS_HEIGHT + index * LANE_HEIGHT
        shade = {"llm": "#f3effa", "gpu": "#edf3fb"}.get(lane.group, "#f7f7f7" if index % 2 else "#ffffff")
        body.append(svg.element("rect", class_=f"lane lane-{lane.group}", x=0, y=y, width=width,
                                height=LANE_HEIGHT, fill=shade))
        body.append(svg.titled("text", lane.name, svg.text_of(svg.shorten(lane.name, 32)), class_="lane-name",
                               x=8, y=y + LANE_HEIGHT - 9, fill="#333333"))
    for tick in svg.ticks(0, span):  # time axis and grid
        x = LABEL_WIDTH + tick * scale
        if x > LABEL_WIDTH + CHART_WIDTH + 0.5:
            continue
        body.append(svg.element("line", x1=x, y1=AXIS_HEIGHT - 4, x2=x, y2=height - 10, stroke="#d6d6d6"))
        label = svg.text_of(f"{formatting.axis_number(tick)} s")
        body.append(svg.element("text", label, x=x, y=AXIS_HEIGHT - 10, text_anchor="middle", fill="#555555",
                                font_size=11))
    for iteration, start in chart.plan_starts:  # where each plan iteration's tasks began
        x = LABEL_WIDTH + start * scale
        body.append(svg.element("line", class_="plan-start", x1=x, y1=AXIS_HEIGHT, x2=x, y2=height - 10,
                                stroke="#444444", stroke_dasharray="4 3"))
        body.append(svg.element("text", svg.text_of(f"plan {iteration + 1}"), x=x + 3, y=AXIS_HEIGHT - 22,
                                fill="#444444", font_size=10))
    for index, lane in enumerate(chart.lanes):
        y = AXIS_HEIGHT + index * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2
        for bar in lane.bars:
            x = LABEL_WIDTH + bar.start * scale
            bar_width = max(MIN_BAR_PX, (bar.stop - bar.start) * scale)
            body.append(_bar_element(bar, x, y, bar_width))
    return svg.document(width, height, body, label=label, class_="gantt")
