"""Graphs back to text: plan text (re-parseable), an annotated listing, Graphviz dot."""

from __future__ import annotations

import json
import math
from typing import Any

from llmcompiler_provider.plan.ir import Interp, Ref, Task, TaskGraph


def render_value(value: Any) -> str:
    """A value in plan syntax: ``compile_plan`` reads it back as the same value."""
    if isinstance(value, Ref):
        return f"${value.id}"
    if isinstance(value, Interp):
        return '"' + "".join(
            f"${{{part.id}}}" if isinstance(part, Ref) else _string_body(part) for part in value.parts
        ) + '"'
    if isinstance(value, str):
        return '"' + _string_body(value) + '"'
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else '"' + repr(value) + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k)}: {render_value(v)}" for k, v in value.items()) + "}"
    return render_value(str(value))


def _string_body(text: str) -> str:
    """Escaped like JSON (which the lexer reads), plus ``\\$`` so no ``$N`` is read as a reference."""
    return json.dumps(text, ensure_ascii=False)[1:-1].replace("$", "\\$")


def render_call(task: Task) -> str:
    arguments = [render_value(a) for a in task.args]
    arguments += [f"{name}={render_value(v)}" for name, v in task.kwargs.items()]
    return f"{task.id}. {task.tool}({', '.join(arguments)})"


def render_plan(graph: TaskGraph, *, annotate: bool = False) -> str:
    """The graph as plan text; with ``annotate``, each line ends with a comment on what
    the optimizer decided (dependencies, priority, resources, batches, aliases)."""
    lines: list[str] = []
    for task in graph.tasks.values():
        if task.thought:
            lines.extend(f"Thought: {line}" for line in task.thought.split("\n"))
        line = render_call(task)
        if annotate:
            line += "  # " + _annotation(task)
        lines.append(line)
    if annotate:
        lines.extend(f"# ${alias} is computed by task {graph.resolve(alias)}" for alias in graph.aliases)
    if graph.has_join:
        lines.append("join()")
        lines.append("<END_OF_PLAN>")
    return "\n".join(lines) + "\n"


def _annotation(task: Task) -> str:
    notes = [f"priority {task.priority}"]
    if task.deps:
        notes.append("after " + ", ".join(f"${d}" for d in sorted(task.deps)))
    if task.resources:
        notes.append(", ".join(f"{k}={v:g}" for k, v in task.resources.items()))
    if not task.pure:
        notes.append("side effects")
    if task.batch_of:
        notes.append("batch of " + ", ".join(map(str, task.batch_of)))
    return "; ".join(notes)


def render_dot(graph: TaskGraph) -> str:
    """A Graphviz digraph: one box per task, an edge per reference."""
    lines = ["digraph plan {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for task in graph.tasks.values():
        label = f"{task.id}. {task.tool}\\npriority {task.priority}"
        if task.batch_of:
            label += "\\nbatch " + ",".join(map(str, task.batch_of))
        if task.resources:
            label += "\\n" + " ".join(f"{k}={v:g}" for k, v in task.resources.items())
        style = "" if task.pure else ", style=bold"
        lines.append(f'  t{task.id} [label="{_dot_escape(label)}"{style}];')
    for task in graph.tasks.values():
        sources = {graph.resolve(dep) for dep in task.deps}
        for source in sorted(sources):
            if source in graph.tasks and source != task.id:
                lines.append(f"  t{source} -> t{task.id};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(label: str) -> str:
    return label.replace('"', '\\"')
