"""What the run page shows, prepared from a stored run so the template only lays it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from llmcompiler_provider.results import PlanIteration, RunResult, TaskRecord
from llmcompiler_provider.ui import formatting
from llmcompiler_provider.ui.gantt import gantt_chart, render_gantt
from llmcompiler_provider.ui.task_facts import uses_gpu, worker_name
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


@dataclass(frozen=True)
class TaskRow:
    """A task as the run page's table shows it."""

    task: TaskRecord
    call: str
    offset_s: float | None
    resources_text: str
    deps_text: str
    gpu: bool
    worker_name: str


@dataclass
class PlanView:
    iteration: int
    title: str
    text: str
    thought: str | None
    compile_errors: list[str]
    warnings: list[str]  # the compiler's repairs of the plan's text
    graph_svg: str
    tasks: list[TaskRow]


@dataclass
class RunView:
    run: RunResult
    figures: list[Figure]
    problems: list[Problem]
    plans: list[PlanView]
    gantt_svg: str
    gantt_bars: int


#: the run page's figures that are a duration: label, ``Timings`` field, hint
SECONDS_FIGURES = (
    ("Wall time", "wall_s", "from the prompt to the answer"),
    ("Planning", "planning_s", "LLM planner"),
    ("Execution", "execution_s", "first task start to last task stop"),
    ("Joining", "joining_s", "LLM joiner"),
    ("First task dispatched", "first_dispatch_s", "after the run started"),
    ("Planning overlapped", "overlap_s", "tasks ran while the plan streamed"),
    ("Sum of task times", "sum_task_s", "one after another"),
    ("Critical path", "critical_path_s", "longest dependency chain"),
)


def _figures(run: RunResult) -> list[Figure]:
    seconds, ratio, percent, count = (formatting.seconds, formatting.ratio, formatting.percent,
                                      formatting.count)
    timings, counts, tokens, cluster = run.timings, run.counts, run.tokens, run.cluster
    fallback = "GPU slots declared by CPU workers" if cluster.gpu_fallback else ""
    cluster_facts = [cluster.kind or "unknown", fallback, cluster.address]
    return [
        *(Figure(label, seconds(getattr(timings, name)), hint) for label, name, hint in SECONDS_FIGURES),
        Figure("Speedup", ratio(timings.speedup), "sum of task times / execution wall"),
        Figure("Ideal speedup", ratio(timings.ideal_speedup), "sum of task times / critical path"),
        Figure("Efficiency", percent(timings.efficiency), "speedup / ideal speedup"),
        Figure("GPU-slot utilization", percent(timings.gpu_slot_utilization), "busy GPU-slot time"),
        Figure("Tasks", count(counts.tasks), f"{counts.failed_tasks} failed, {counts.replans} replans"),
        Figure("Tokens", count(tokens.total), f"{count(tokens.prompt)} prompt + {count(tokens.completion)} completion"),
        Figure("Cost", formatting.money(run.cost), "from the model's prices"),
        Figure("Cluster", f"{cluster.workers} workers · {cluster.gpu_slots} GPU slots",
               ", ".join(filter(None, cluster_facts))),
        Figure("Models", run.planner_model or formatting.MISSING, f"joiner: {run.joiner_model or formatting.MISSING}"),
    ]


def _task_problems(plan: PlanIteration, several_plans: bool) -> list[Problem]:
    problems = []
    in_plan = {t.id: t for t in plan.tasks}
    for task in plan.tasks:
        if task.status != "failed" and not task.error:
            continue
        where = (f"plan {plan.iteration + 1}, " if several_plans else "") + f"task ${task.id} {task.tool}"
        failed_deps = [in_plan[d] for d in task.deps if d in in_plan and in_plan[d].status == "failed"]
        causes = [f"depends on ${d.id} {d.tool}, which failed: {d.error or 'no error recorded'}" for d in failed_deps]
        if task.attempts > 1:
            causes.append(f"failed after {task.attempts} attempts on {worker_name(task.worker)}")
        problems.append(Problem(where, task.error or "failed without an error message", causes))
    return problems


def _problems(run: RunResult) -> list[Problem]:
    several_plans = len(run.plans) > 1
    problems = []
    if run.error:
        failed = run.counts.failed_tasks
        causes = [f"{failed} task(s) failed, listed below"] if failed else []
        problems.append(Problem("run", run.error, causes))
    for plan in run.plans:
        for message in plan.compile_errors:
            problems.append(Problem(f"plan {plan.iteration + 1} (compiling)", message,
                                    ["the planner's text did not compile; the lines that did ran"]))
    for plan in run.plans:
        problems += _task_problems(plan, several_plans)
    for call in run.llm_calls:
        if call.error:
            problems.append(Problem(f"LLM {call.role} call ({call.model or 'model'})", call.error))
    return problems


def _task_row(task: TaskRecord, origin: float) -> TaskRow:
    return TaskRow(
        task=task,
        call=f"{task.tool}({task.call_text()})",
        offset_s=task.start - origin if task.start is not None else None,
        resources_text=", ".join(f"{k}={v:g}" for k, v in task.resources.items()),
        deps_text=", ".join(f"${d}" for d in task.deps),
        gpu=uses_gpu(task),
        worker_name=worker_name(task.worker) if task.worker else "",
    )


def _plans(run: RunResult) -> list[PlanView]:
    views = []
    for plan in run.plans:
        title = f"Plan {plan.iteration + 1}" + (" (replan)" if plan.iteration > 0 else "")
        views.append(PlanView(
            iteration=plan.iteration,
            title=title,
            text=plan.text,
            thought=plan.thought,
            compile_errors=plan.compile_errors,
            warnings=plan.warnings,
            graph_svg=render_task_graph(plan.tasks, graph_id=f"plan{plan.iteration}", label=f"{title}: task graph"),
            tasks=[_task_row(task, run.started) for task in plan.tasks],
        ))
    return views


def run_view(run: RunResult) -> RunView:
    chart = gantt_chart(run)
    return RunView(
        run=run,
        figures=_figures(run),
        problems=_problems(run),
        plans=_plans(run),
        gantt_svg=render_gantt(chart),
        gantt_bars=chart.bar_count,
    )
