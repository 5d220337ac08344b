"""The pictures, computed from recorded runs (``RunResult``, as ``store.get_run`` returns them):
lanes, layout, escaping."""

from __future__ import annotations

import re

from llmcompiler_provider.results import ClusterInfo, LLMCall, PlanIteration, RunResult, TaskRecord
from llmcompiler_provider.ui.gantt import Bar, gantt_chart, pack, render_gantt
from llmcompiler_provider.ui.redact import redact_text, redact_value
from llmcompiler_provider.ui.svg import ticks
from llmcompiler_provider.ui.task_graph import depths, render_task_graph
from llmcompiler_provider.ui.trend_charts import TREND_METRICS, render_trend_chart

ORIGIN = 1_000.0


def stored_task(task_id: int, start: float | None, stop: float | None, *, worker: str = "tcp://w1:1",
                deps=(), gpu: float = 0, tool: str = "search", iteration: int = 0) -> tuple[int, TaskRecord]:
    """A task of plan ``iteration`` that ran from ``start`` to ``stop`` seconds after ``ORIGIN``."""
    return iteration, TaskRecord(
        id=task_id, tool=tool, args=["q"], kwargs={},
        deps=list(deps), resources={"GPU": gpu} if gpu else {}, status="success", error=None,
        start=ORIGIN + start if start is not None else None,
        stop=ORIGIN + stop if stop is not None else None,
        worker=worker, attempts=1, result="r",
    )


def records(tasks: list[tuple[int, TaskRecord]]) -> list[TaskRecord]:
    return [task for _iteration, task in tasks]


def stored_run(tasks: list[tuple[int, TaskRecord]], *, gpu_slots: int = 0,
               calls: list[LLMCall] | None = None) -> RunResult:
    iterations = sorted({iteration for iteration, _task in tasks})
    plans = [PlanIteration(iteration=i, text="", tasks=[t for it, t in tasks if it == i]) for i in iterations]
    return RunResult(run_id="r1", started=ORIGIN, finished=ORIGIN + 10, plans=plans, llm_calls=calls or [],
                     cluster=ClusterInfo(gpu_slots=gpu_slots))


def bar(start: float, stop: float) -> Bar:
    return Bar(start=start, stop=stop, label="x", detail="x", kind="task", status="success")


def test_packing_puts_overlapping_bars_on_separate_rows_and_touching_bars_on_one():
    rows = pack([bar(0, 2), bar(1, 3), bar(2, 4), bar(3, 5)])
    assert [[(b.start, b.stop) for b in row] for row in rows] == [[(0, 2), (2, 4)], [(1, 3), (3, 5)]]


def test_a_worker_gets_one_lane_per_task_it_ran_at_the_same_time():
    run = stored_run([stored_task(1, 0, 2), stored_task(2, 1, 3), stored_task(3, 0, 1, worker="tcp://w2:2")])
    lanes = [(lane.name, len(lane.bars)) for lane in gantt_chart(run).lanes]
    assert lanes == [("w1:1 · slot 1", 1), ("w1:1 · slot 2", 1), ("w2:2", 1)]


def test_gpu_tasks_fill_the_gpu_slot_lanes_and_idle_declared_slots_still_show():
    run = stored_run([stored_task(1, 0, 2, gpu=1), stored_task(2, 0, 2, gpu=1, worker="tcp://w2:2"),
                      stored_task(3, 0, 1)], gpu_slots=3)
    gpu_lanes = [lane for lane in gantt_chart(run).lanes if lane.group == "gpu"]
    assert [lane.name for lane in gpu_lanes] == ["GPU slot 1", "GPU slot 2", "GPU slot 3"]
    assert [len(lane.bars) for lane in gpu_lanes] == [1, 1, 0]


def test_tasks_that_never_ran_are_not_drawn_and_llm_calls_get_their_own_lane():
    calls = [LLMCall(role="planner", model="m", started=ORIGIN, latency_s=1.0, prompt_tokens=1,
                     completion_tokens=1, error=None)]
    chart = gantt_chart(stored_run([stored_task(1, 1, 2), stored_task(2, None, None)], calls=calls))
    assert [(lane.group, [b.label for b in lane.bars]) for lane in chart.lanes] == [
        ("llm", ["planner"]), ("worker", ["$1 search"])]
    assert chart.span_s == 10


def test_the_gantt_svg_draws_one_rect_per_bar_and_escapes_labels():
    run = stored_run([stored_task(1, 0, 4, tool="<img onerror=x>"), stored_task(2, 0, 1, gpu=1)], gpu_slots=1)
    chart = gantt_chart(run)
    drawn = render_gantt(chart)
    assert len(re.findall(r'<rect [^>]*class="bar ', drawn)) == chart.bar_count == 3
    assert "<img" not in drawn and "&lt;img onerror=x&gt;" in drawn


def test_replanned_tasks_are_labelled_with_their_plan():
    run = stored_run([stored_task(1, 0, 1), stored_task(1, 2, 3, iteration=1)])
    labels = [b.label for lane in gantt_chart(run).lanes for b in lane.bars]
    assert labels == ["P1 $1 search", "P2 $1 search"]
    assert [start for _iteration, start in gantt_chart(run).plan_starts] == [0, 2]


def test_task_graph_columns_follow_dependency_depth():
    tasks = [stored_task(1, 0, 1), stored_task(2, 0, 1), stored_task(3, 1, 2, deps=[1, 2]),
             stored_task(4, 2, 3, deps=[3, 99])]
    assert depths(records(tasks)) == {1: 0, 2: 0, 3: 1, 4: 2}


def test_task_graph_survives_a_cycle():
    cycle = [stored_task(1, 0, 1, deps=[2]), stored_task(2, 0, 1, deps=[1])]
    assert depths(records(cycle)) in ({1: 1, 2: 0}, {1: 0, 2: 1})


def test_task_graph_svg_has_a_node_per_task_and_an_edge_per_dependency():
    tasks = [stored_task(1, 0, 1), stored_task(2, 0, 1, tool='"quoted" & <b>'),
             stored_task(3, 1, 2, deps=[1, 2])]
    drawn = render_task_graph(records(tasks), graph_id="g", label="plan")
    assert len(re.findall(r'class="node ', drawn)) == 3
    assert len(re.findall(r'class="edge"', drawn)) == 2
    assert "<b>" not in drawn and "&lt;b&gt;" in drawn


def test_ticks_cover_the_whole_range_with_round_steps():
    assert ticks(0, 1.96, 5) == [0, 0.5, 1.0, 1.5, 2.0]
    assert ticks(0, 5.0) == [0, 1, 2, 3, 4, 5]


def test_trend_charts_draw_a_line_per_dag_and_nothing_without_values():
    points = [{"run_id": f"r{i}", "started": ORIGIN + i * 3600, "dag_id": dag, "status": "success",
               "wall_s": i + 1.0, "speedup": None, "tokens": 10}
              for i, dag in enumerate(["a", "b", "a", None])]
    wall = render_trend_chart(points, TREND_METRICS[0], chart_id="w")
    assert len(re.findall(r'class="series"', wall)) == 3
    assert len(re.findall(r'class="point"', wall)) == 4
    assert render_trend_chart(points, TREND_METRICS[1], chart_id="s") == ""


def test_secrets_in_urls_keys_and_headers_are_masked():
    assert redact_text("postgresql://bob:hunter2@db/x") == "postgresql://bob:***@db/x"
    assert redact_text("GET /h?api_key=abc123&x=1") == "GET /h?api_key=***&x=1"
    assert redact_text('{"password": "pw1"}') == '{"password": "***"}'
    assert redact_text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y") == "Authorization: Bearer ***"
    assert redact_text("key sk-abcdefghijklmnopqrstu") == "key sk-***"
    assert redact_value({"a": ["token=zzz"], "n": 3}) == {"a": ["token=***"], "n": 3}
    assert redact_text("How tall is the Eiffel Tower?") == "How tall is the Eiffel Tower?"
