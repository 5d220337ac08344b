"""A plan iteration's task graph as an SVG picture: tasks left to right by dependency depth."""

from __future__ import annotations

from llmcompiler_provider.results import TaskRecord
from llmcompiler_provider.ui import formatting, svg
from llmcompiler_provider.ui.task_facts import uses_gpu

NODE_WIDTH = 170.0
NODE_HEIGHT = 46.0
COLUMN_GAP = 56.0
ROW_GAP = 14.0
MARGIN = 12.0
MAX_LABEL_CHARS = 24


def depths(tasks: list[TaskRecord]) -> dict[int, int]:
    """Each task's column: 0 without dependencies, else one more than its deepest dependency.

    Dependencies on tasks not in ``tasks`` are ignored; a cycle (which the plan
    compiler never lets through) is cut where it closes.
    """
    deps = {t.id: [d for d in t.deps if d != t.id] for t in tasks}
    known = set(deps)
    depth: dict[int, int] = {}

    def visit(task_id: int, path: frozenset[int]) -> int:
        if task_id in depth:
            return depth[task_id]
        parents = [d for d in deps[task_id] if d in known and d not in path]
        depth[task_id] = max((visit(d, path | {task_id}) + 1 for d in parents), default=0)
        return depth[task_id]

    for task_id in deps:
        visit(task_id, frozenset())
    return depth


def layout(tasks: list[TaskRecord]) -> dict[int, tuple[float, float]]:
    """Top-left corner of each task's box."""
    depth = depths(tasks)
    columns: dict[int, list[int]] = {}
    for task_id in sorted(depth):
        columns.setdefault(depth[task_id], []).append(task_id)
    return {
        task_id: (MARGIN + column * (NODE_WIDTH + COLUMN_GAP), MARGIN + row * (NODE_HEIGHT + ROW_GAP))
        for column, ids in columns.items()
        for row, task_id in enumerate(ids)
    }


def _node(task: TaskRecord, x: float, y: float) -> str:
    status = task.status or "pending"
    name = svg.shorten(f"${task.id} {task.tool}", MAX_LABEL_CHARS)
    facts = [status]
    if task.duration is not None:
        facts.append(formatting.seconds(task.duration))
    if uses_gpu(task):
        facts.append("GPU")
    tooltip = f"${task.id} {task.tool}({svg.shorten(task.call_text(), 200)}) — {status}"
    if task.error:
        tooltip += f": {task.error}"
    gpu = uses_gpu(task)
    return "".join([
        svg.titled("rect", tooltip, class_=f"node status-{status}" + (" gpu" if gpu else ""), x=x, y=y,
                   width=NODE_WIDTH, height=NODE_HEIGHT, rx=6, fill="#ffffff",
                   stroke=svg.status_color(status), stroke_width=3 if gpu else 2),
        svg.element("rect", x=x, y=y, width=6, height=NODE_HEIGHT, rx=2, fill=svg.status_color(status)),
        svg.element("text", svg.text_of(name), x=x + 12, y=y + 19, font_weight="600", fill="#222222"),
        svg.element("text", svg.text_of(" · ".join(facts)), x=x + 12, y=y + 36, font_size=11, fill="#555555"),
    ])


def _edge(start: tuple[float, float], end: tuple[float, float], marker_id: str) -> str:
    (x1, y1), (x2, y2) = start, end
    bend = max(20.0, (x2 - x1) / 2)
    path = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    return svg.element("path", class_="edge", d=path, fill="none", stroke="#8a8a8a", stroke_width=1.5,
                       marker_end=f"url(#{marker_id})")


def render_task_graph(tasks: list[TaskRecord], *, graph_id: str, label: str) -> str:
    """One plan iteration's tasks and their dependencies; ``graph_id`` keeps marker ids unique in a page."""
    if not tasks:
        return ""
    positions = layout(tasks)
    marker_id = f"arrow-{graph_id}"
    width = max(x for x, _ in positions.values()) + NODE_WIDTH + MARGIN
    height = max(y for _, y in positions.values()) + NODE_HEIGHT + MARGIN
    body = [
        "<defs>" + svg.element(
            "marker", svg.element("path", d="M0,0 L10,5 L0,10 z", fill="#8a8a8a"),
            id=marker_id, viewBox="0 0 10 10", refX=10, refY=5, markerWidth=7, markerHeight=7,
            orient="auto-start-reverse",
        ) + "</defs>"
    ]
    for task in tasks:
        x2, y2 = positions[task.id]
        for dep in task.deps:
            if dep in positions and dep != task.id:
                x1, y1 = positions[dep]
                start, end = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2), (x2, y2 + NODE_HEIGHT / 2)
                body.append(_edge(start, end, marker_id))
    body += [_node(task, *positions[task.id]) for task in tasks]
    return svg.document(max(width, 240.0), height, body, label=label, class_="task-graph")
