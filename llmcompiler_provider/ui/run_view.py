"""What the run page shows, prepared from a stored run so the template only lays it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmcompiler_provider.ui import formatting
from llmcompiler_provider.ui.gantt import gantt_chart, render_gantt, run_origin
from llmcompiler_provider.ui.task_facts import arguments_text, uses_gpu, worker_name
from llmcompiler_provider.ui.task_graph import render_task_graph


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    hint: str = ""


@dataclass(frozen=True)
class Problem:
    """An error and where it came from."""

    where: str
    message: str
    causes: list[str] = field(default_factory=list)


@dataclass
class PlanView:
    iteration: int
    title: str
    text: str
    thought: str | None
    compile_errors: list[str]
    graph_svg: str
    tasks: list[dict[str, Any]]


@dataclass
class RunView:
    run: dict[str, Any]
    figures: list[Figure]
    problems: list[Problem]
    plans: list[PlanView]
    gantt_svg: str
    gantt_bars: int


def _figures(run: dict[str, Any]) -> list[Figure]:
    seconds, ratio, percent, count = (formatting.seconds, formatting.ratio, formatting.percent,
                                      formatting.count)
    timings = run.get("timings") or {}
    counts, tokens, cluster = run.get("counts") or {}, run.get("tokens") or {}, run.get("cluster") or {}
    sum_s, path_s = run.get("sum_task_s"), run.get("critical_path_s")
    ideal = sum_s / path_s if sum_s and path_s else None
    workers, slots = cluster.get("workers") or 0, cluster.get("gpu_slots") or 0
    prompt_tokens, completion_tokens = tokens.get("prompt") or 0, tokens.get("completion") or 0
    fallback = "GPU slots declared by CPU workers" if cluster.get("gpu_fallback") else ""
    cluster_facts = [cluster.get("kind") or "unknown", fallback, cluster.get("address")]
    return [
        Figure("Wall time", seconds(run.get("wall_s")), "from the prompt to the answer"),
        Figure("Planning", seconds(timings.get("planning_s")), "LLM planner"),
        Figure("Execution", seconds(timings.get("execution_s")), "first task start to last task stop"),
        Figure("Joining", seconds(timings.get("joining_s")), "LLM joiner"),
        Figure("First task dispatched", seconds(run.get("first_dispatch_s")), "after the run started"),
        Figure("Planning overlapped", seconds(timings.get("overlap_s")), "tasks ran while the plan streamed"),
        Figure("Sum of task times", seconds(sum_s), "one after another"),
        Figure("Critical path", seconds(path_s), "longest dependency chain"),
        Figure("Speedup", ratio(run.get("speedup")), "sum of task times / execution wall"),
        Figure("Ideal speedup", ratio(ideal), "sum of task times / critical path"),
        Figure("Efficiency", percent(run.get("efficiency")), "speedup / ideal speedup"),
        Figure("GPU-slot utilization", percent(run.get("gpu_slot_utilization")), "busy GPU-slot time"),
        Figure("Tasks", count(counts.get("tasks")),
               f"{counts.get('failed_tasks') or 0} failed, {counts.get('replans') or 0} replans"),
        Figure("Tokens", count(prompt_tokens + completion_tokens),
               f"{count(prompt_tokens)} prompt + {count(completion_tokens)} completion"),
        Figure("Cluster", f"{workers} workers · {slots} GPU slots", ", ".join(filter(None, cluster_facts))),
        Figure("Models", run.get("planner_model") or formatting.MISSING,
               f"joiner: {run.get('joiner_model') or formatting.MISSING}"),
    ]


def _task_problems(tasks: list[dict[str, Any]], several_plans: bool) -> list[Problem]:
    problems = []
    for iteration in sorted({t["plan_iteration"] for t in tasks}):
        in_plan = {t["id"]: t for t in tasks if t["plan_iteration"] == iteration}
        for task in in_plan.values():
            if task.get("status") != "failed" and not task.get("error"):
                continue
            plan = f"plan {iteration + 1}, " if several_plans else ""
            where = f"{plan}task ${task['id']} {task['tool']}"
            failed_deps = [in_plan[d] for d in task.get("deps") or []
                           if in_plan.get(d, {}).get("status") == "failed"]
            causes = [
                f"depends on ${d['id']} {d['tool']}, which failed: {d.get('error') or 'no error recorded'}"
                for d in failed_deps
            ]
            if (task.get("attempts") or 0) > 1:
                where_ran = worker_name(task.get("worker"))
                causes.append(f"failed after {task['attempts']} attempts on {where_ran}")
            problems.append(Problem(where, task.get("error") or "failed without an error message", causes))
    return problems


def _problems(run: dict[str, Any]) -> list[Problem]:
    tasks = run.get("tasks") or []
    several_plans = len(run.get("plans") or []) > 1
    problems = []
    if run.get("error"):
        failed = sum(1 for t in tasks if t.get("status") == "failed")
        causes = [f"{failed} task(s) failed, listed below"] if failed else []
        problems.append(Problem("run", run["error"], causes))
    for plan in run.get("plans") or []:
        for message in plan.get("compile_errors") or []:
            problems.append(Problem(f"plan {plan['iteration'] + 1} (compiling)", message,
                                    ["the planner's text did not compile; the lines that did ran"]))
    problems += _task_problems(tasks, several_plans)
    for call in run.get("llm_calls") or []:
        if call.get("error"):
            where = f"LLM {call['role']} call ({call.get('model') or 'model'})"
            problems.append(Problem(where, call["error"]))
    return problems


def _task_rows(tasks: list[dict[str, Any]], origin: float | None) -> list[dict[str, Any]]:
    rows = []
    for task in tasks:
        offset = task["started"] - origin if task.get("started") is not None and origin is not None else None
        rows.append({
            **task,
            "call": f"{task['tool']}({arguments_text(task)})",
            "offset_s": offset,
            "resources_text": ", ".join(f"{k}={v:g}" for k, v in (task.get("resources") or {}).items()),
            "deps_text": ", ".join(f"${d}" for d in task.get("deps") or []),
            "gpu": uses_gpu(task),
            "worker_name": worker_name(task.get("worker")) if task.get("worker") else "",
        })
    return rows


def _plans(run: dict[str, Any], origin: float | None) -> list[PlanView]:
    tasks = run.get("tasks") or []
    views = []
    for plan in run.get("plans") or []:
        iteration = plan["iteration"]
        in_plan = [t for t in tasks if t["plan_iteration"] == iteration]
        title = f"Plan {iteration + 1}" + (" (replan)" if iteration > 0 else "")
        views.append(PlanView(
            iteration=iteration,
            title=title,
            text=plan.get("text") or "",
            thought=plan.get("thought"),
            compile_errors=plan.get("compile_errors") or [],
            graph_svg=render_task_graph(in_plan, graph_id=f"plan{iteration}", label=f"{title}: task graph"),
            tasks=_task_rows(in_plan, origin),
        ))
    return views


def run_view(run: dict[str, Any]) -> RunView:
    chart = gantt_chart(run)
    return RunView(
        run=run,
        figures=_figures(run),
        problems=_problems(run),
        plans=_plans(run, run_origin(run)),
        gantt_svg=render_gantt(chart),
        gantt_bars=chart.bar_count,
    )
