"""Saving and reading runs against a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from llmcompiler_provider.store import StoreError, get_engine, get_run, list_runs, save_run, trend, upgrade
from llmcompiler_provider.results import PlanIteration, Timings
from llmcompiler_provider.store.engine import alembic_config

AIRFLOW_TRY = {"dag_id": "nightly", "run_id": "scheduled__2026-01-01", "task_id": "ask", "map_index": None,
               "try_number": 1}


def test_migrations_create_every_table_from_empty(store_url):
    engine = create_engine(store_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()

    revision = upgrade(store_url)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision == head
    inspector = inspect(get_engine(store_url))
    assert {"run", "plan", "task", "llm_call", "batch", "tool_cache", "alembic_version"} <= set(
        inspector.get_table_names())
    run_indexes = {index["name"] for index in inspector.get_indexes("run")}
    assert {"ix_run_started", "ix_run_dag_started", "ix_run_status_started", "ix_run_batch_prompt",
            "uq_run_airflow_try"} <= run_indexes


def test_upgrading_twice_changes_nothing(store_url):
    first = upgrade(store_url)
    with get_engine(store_url).connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (first,)
    assert upgrade(store_url) == first


def test_a_run_round_trips_with_its_plans_tasks_and_calls(store_url, make_result):
    result = make_result(airflow=AIRFLOW_TRY)
    assert save_run(result, store_url) == result.run_id

    stored = get_run(result.run_id, store_url)

    for key in ("run_id", "status", "error", "prompt", "prompt_hash", "answer", "toolset", "planner_model",
                "joiner_model", "counts", "tokens", "timings"):
        assert getattr(stored, key) == getattr(result, key), key
    assert stored.started == pytest.approx(result.started, abs=1e-5)
    assert stored.finished == pytest.approx(result.finished, abs=1e-5)
    assert stored.airflow.model_dump() == {**AIRFLOW_TRY, "map_index": -1}
    assert stored.cluster == result.cluster
    assert [p.text for p in stored.plans] == [p.text for p in result.plans]
    assert stored.plans[0].thought == "look both up"
    sent_tasks = result.plans[0].tasks
    assert [t.id for t in stored.all_tasks] == [t.id for t in sent_tasks]
    for got, sent in zip(stored.all_tasks, sent_tasks):
        assert got.start == pytest.approx(sent.start, abs=1e-5)
        assert got.stop == pytest.approx(sent.stop, abs=1e-5)
        assert got.duration == pytest.approx(1.0, abs=1e-5)
        assert (got.tool, got.worker, got.status, got.result) == (
            sent.tool, sent.worker, sent.status, sent.result)
        assert (got.args, got.kwargs, got.args_preview) == (sent.args, sent.kwargs, None)
    assert [(c.role, c.prompt_tokens, c.completion_tokens) for c in stored.llm_calls] == [
        ("planner", 120, 40), ("joiner", 200, 10)]
    assert stored.llm_calls[0].ttft_s == 0.1


def test_a_plans_warnings_and_compile_errors_round_trip(store_url, make_result):
    result = make_result()
    result.plans[0].warnings = ['<planner>:1:11: warning: unquoted argument text taken as one string: "a"']
    result.plans.insert(0, PlanIteration(iteration=0, text="1. serch(a)", compile_errors=["<planner>:1:4: error: x"],
                                         warnings=['<planner>:1:10: warning: unquoted argument text ...']))
    result.plans[1].iteration = 1
    save_run(result, store_url)

    stored = get_run(result.run_id, store_url)

    assert [(p.compile_errors, p.warnings) for p in stored.plans] == [(p.compile_errors, p.warnings) for p in result.plans]


def test_plans_stored_before_warnings_were_recorded_have_none(store_url):
    command.upgrade(alembic_config(store_url), "0001")
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO run (id, status, started, gpu_fallback, cluster_workers, gpu_slots, task_count, "
            "replan_count, failed_task_count, prompt_tokens, completion_tokens, saved_at) "
            "VALUES ('old', 'success', CURRENT_TIMESTAMP, false, 0, 0, 0, 0, 0, 0, 0, CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO plan (run_id, iteration, text, compile_errors) VALUES ('old', 0, 'join()', '[]')"))
    engine.dispose()

    assert upgrade(store_url) == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert [(p.text, p.warnings) for p in get_run("old", store_url).plans] == [("join()", [])]


def test_a_failed_run_keeps_its_cause_and_the_tasks_that_finished(store_url, make_result, make_task):
    tasks = [make_task(1, 0, 1), make_task(2, 0, 0.5, status="failed", error="TimeoutError: search took too long"),
             make_task(3, None, None, deps=[1, 2], status="cancelled")]
    result = make_result(tasks, status="failed", error="task 2 (search) failed: TimeoutError: search took too long")
    save_run(result, store_url)

    stored = get_run(result.run_id, store_url)

    assert stored.status == "failed"
    assert stored.error.startswith("task 2 (search) failed")
    assert stored.answer is None
    assert stored.counts.model_dump() == {"tasks": 3, "replans": 0, "failed_tasks": 1, "shared_calls": 0,
                                          "cache_hits": 0}
    assert [(t.id, t.status) for t in stored.all_tasks] == [(1, "success"), (2, "failed"), (3, "cancelled")]
    assert stored.all_tasks[1].error == "TimeoutError: search took too long"
    assert stored.all_tasks[2].start is None and stored.all_tasks[2].duration is None
    assert [r.run_id for r in list_runs(store_url, status="failed")] == [result.run_id]


def test_saving_the_same_run_again_replaces_it(store_url, make_result, make_task):
    result = make_result()
    save_run(result, store_url)
    result.status = "failed"
    result.plans[0].tasks = result.plans[0].tasks[:2]
    result.llm_calls = result.llm_calls[:1]
    save_run(result, store_url)

    assert len(list_runs(store_url)) == 1
    stored = get_run(result.run_id, store_url)
    assert stored.status == "failed"
    assert len(stored.all_tasks) == 2 and len(stored.llm_calls) == 1


def test_the_same_airflow_try_overwrites_instead_of_duplicating(store_url, make_result):
    first = make_result(airflow=AIRFLOW_TRY)
    again = make_result(airflow=AIRFLOW_TRY, status="failed", error="worker lost")  # a new run id
    next_try = make_result(airflow={**AIRFLOW_TRY, "try_number": 2})
    for result in (first, again, next_try):
        save_run(result, store_url)

    runs = list_runs(store_url, dag_id="nightly")
    assert sorted(r.run_id for r in runs) == sorted([again.run_id, next_try.run_id])
    assert get_run(first.run_id, store_url) is None
    assert get_run(again.run_id, store_url).error == "worker lost"


def test_runs_outside_airflow_never_replace_each_other(store_url, make_result):
    for _ in range(3):
        save_run(make_result(), store_url)
    assert len(list_runs(store_url)) == 3


def test_list_runs_filters_and_orders_newest_first(store_url, make_result):
    old = make_result(airflow={**AIRFLOW_TRY, "dag_id": "a"}, started_offset=0)
    new = make_result(airflow={**AIRFLOW_TRY, "dag_id": "a", "try_number": 2}, started_offset=100, status="failed")
    other = make_result(airflow={**AIRFLOW_TRY, "dag_id": "b"}, started_offset=50)
    for result in (old, new, other):
        save_run(result, store_url)

    assert [r.run_id for r in list_runs(store_url)] == [new.run_id, other.run_id, old.run_id]
    assert [r.run_id for r in list_runs(store_url, limit=1)] == [new.run_id]
    assert [r.run_id for r in list_runs(store_url, dag_id="a")] == [new.run_id, old.run_id]
    assert [r.run_id for r in list_runs(store_url, dag_id="a", status="success")] == [old.run_id]
    assert [r.run_id for r in list_runs(store_url, since=other.started)] == [new.run_id, other.run_id]


def test_trend_gives_one_point_per_run_oldest_first(store_url, make_result):
    runs = [make_result(started_offset=offset) for offset in (20, 0, 10)]
    for result in runs:
        save_run(result, store_url)

    points = trend(store_url)

    assert [p["started"] for p in points] == sorted(r.started for r in runs)
    assert points[0] == {
        "run_id": runs[1].run_id, "started": pytest.approx(runs[1].started), "dag_id": None,
        "status": "success", "wall_s": 3.0, "sum_task_s": 4.0, "critical_path_s": 1.0, "speedup": 2.0,
        "efficiency": 0.5, "tasks": 4, "prompt_tokens": 320, "completion_tokens": 50, "tokens": 370,
    }
    assert len(trend(store_url, since=runs[2].started)) == 2


def test_missing_figures_are_derived_from_the_task_intervals(store_url, make_result):
    result = make_result()
    result.timings = Timings()
    save_run(result, store_url)

    stored = get_run(result.run_id, store_url)

    timings = stored.timings
    assert (timings.sum_task_s, timings.critical_path_s, timings.speedup, timings.efficiency) == (4.0, 1.0, 2.0, 0.5)
    assert stored.timings.wall_s == pytest.approx(3.0)


def test_long_values_are_capped_and_odd_ones_kept_as_text(store_url, make_result, make_task):
    huge = "x" * 100_000
    result = make_result([make_task(1, 0, 1, args=[huge], result=huge, error="e\x00" * 10_000, status="failed")])
    result.plans[0].tasks[0].kwargs = {"when": object()}
    save_run(result, store_url)

    stored = get_run(result.run_id, store_url)
    task = stored.all_tasks[0]
    assert (task.args, task.kwargs) == ([], {}) and 0 < len(task.args_preview) <= 4000
    assert len(task.result or "") <= 2000
    assert len(task.error) <= 8000 and "\x00" not in task.error


def test_small_arguments_that_json_cannot_hold_are_stored_as_their_repr(store_url, make_result, make_task):
    result = make_result([make_task(1, 0, 1, args=[{1, 2}])])
    save_run(result, store_url)
    assert get_run(result.run_id, store_url).all_tasks[0].args == ["{1, 2}"]


def test_an_unknown_run_is_none(store_url):
    assert get_run("no-such-run", store_url) is None


def test_a_result_without_run_id_is_refused(store_url, make_result):
    result = make_result()
    result.run_id = ""
    with pytest.raises(ValueError, match="run_id"):
        save_run(result, store_url)


def test_a_store_from_a_newer_version_is_refused_clearly(store_url):
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('9999_from_the_future')"))
    engine.dispose()
    with pytest.raises(StoreError, match="has schema revision 9999_from_the_future, which this .* does not know"):
        list_runs(store_url)
