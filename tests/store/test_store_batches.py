"""Batches in the store: their summaries, their runs sharing one Airflow try, the resume checkpoint,
and the upgrade from a store without them; against a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import IntegrityError

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import LLMCall, Tokens
from llmcompiler_provider.store import (
    batch_outcomes,
    batch_prompt_states,
    batch_runs,
    find_batch_ids,
    get_batch,
    get_engine,
    get_run,
    list_batches,
    list_runs,
    save_batch,
    save_run,
    upgrade,
)
from llmcompiler_provider.store import convert
from llmcompiler_provider.store.batches import batch_values
from llmcompiler_provider.store.engine import alembic_config
from llmcompiler_provider.store.models import Run

T0 = 1_750_000_000.0  # as in conftest.synthetic_result

AIRFLOW_TRY = {"dag_id": "nightly", "run_id": "scheduled__2026-01-01", "task_id": "ask", "map_index": None,
               "try_number": 1}


def batch_run(make_result, batch_id: str, prompt_id: str, *, status: str = "success", **extra):
    result = make_result(airflow=AIRFLOW_TRY, status=status, error=None if status == "success" else "boom", **extra)
    result.batch_id, result.prompt_id = batch_id, prompt_id
    return result


def summary(batch_id: str = "b-0001", **fields) -> BatchSummary:
    values = dict(
        name="nightly.ask", airflow=AIRFLOW_TRY, started=T0, finished=T0 + 120, status="success", total=10,
        succeeded=7, failed=2, skipped=1, resumed=3, wall_s=120.0, tokens=Tokens(prompt=1000, completion=200),
        cost=0.25, llm_requests=20, rate_limited=4, tool_calls=30, tool_calls_deduplicated=9,
        failed_ids=["p-3", "p-7"], options={"max_active_runs": 8, "max_total_tokens": None},
    )
    return BatchSummary(batch_id=batch_id, **{**values, **fields})


# -- runs of a batch ----------------------------------------------------------------------
def test_runs_of_one_batch_in_the_same_airflow_try_all_stay(store_url, make_result):
    runs = [batch_run(make_result, "b1", f"p-{i}") for i in range(3)]
    for result in runs:
        save_run(result, store_url)

    stored = list_runs(store_url, batch_id="b1")

    assert sorted(r.run_id for r in stored) == sorted(r.run_id for r in runs)
    assert {(r.batch_id, r.prompt_id) for r in stored} == {("b1", "p-0"), ("b1", "p-1"), ("b1", "p-2")}


def test_a_plain_run_of_the_same_try_still_replaces_the_earlier_plain_run_only(store_url, make_result):
    batch = batch_run(make_result, "b1", "p-0")
    first = make_result(airflow=AIRFLOW_TRY)
    again = make_result(airflow=AIRFLOW_TRY, status="failed", error="worker lost")
    for result in (batch, first, again):
        save_run(result, store_url)

    assert sorted(r.run_id for r in list_runs(store_url)) == sorted([batch.run_id, again.run_id])
    assert get_run(first.run_id, store_url) is None


def test_a_batch_run_is_replaced_only_by_its_own_run_id(store_url, make_result):
    result = batch_run(make_result, "b1", "p-0", status="failed")
    save_run(result, store_url)
    result.status, result.error = "success", None
    save_run(result, store_url)

    assert [(r.run_id, r.status) for r in batch_runs("b1", store_url)] == [(result.run_id, "success")]


def test_a_second_plain_run_of_one_try_is_refused_by_the_database(store_url, make_result):
    save_run(make_result(airflow=AIRFLOW_TRY), store_url)
    row = _plain_run_values(make_result)
    with get_engine(store_url).connect() as connection:
        with pytest.raises(IntegrityError):
            connection.execute(insert(Run).values(**row))
        connection.rollback()
        connection.execute(insert(Run).values(**{**row, "id": "in-a-batch", "batch_id": "b1"}))  # allowed


def _plain_run_values(make_result) -> dict:
    """The column values of a new run of ``AIRFLOW_TRY`` outside any batch, for inserting rows directly."""
    row = convert.run_row(make_result(airflow=AIRFLOW_TRY), saved_at=datetime.now(timezone.utc))
    return {column.name: getattr(row, column.key) for column in Run.__table__.columns}


def test_where_a_tool_call_came_from_and_the_calls_endpoint_figures_round_trip(store_url, make_result, make_task):
    tasks = [make_task(1, 0, 1), make_task(2, 0, 0, source="batch"), make_task(3, 0, 0, source="cache")]
    result = make_result(tasks)
    result.llm_calls = [LLMCall(role="planner", model="qwen", prompt_tokens=5, completion_tokens=2,
                                finish_reason="length", queued_s=2.5, retries=2, rate_limited=1)]
    save_run(result, store_url)

    stored = get_run(result.run_id, store_url)

    assert [t.source for t in stored.all_tasks] == [None, "batch", "cache"]
    call = stored.llm_calls[0]
    assert (call.finish_reason, call.queued_s, call.retries, call.rate_limited) == ("length", 2.5, 2, 1)
    counts = list_runs(store_url)[0].counts
    assert (counts.shared_calls, counts.cache_hits) == (1, 1)


def test_batch_runs_filter_by_status_newest_first(store_url, make_result):
    runs = [batch_run(make_result, "b1", f"p-{i}", status=status, started_offset=i * 10)
            for i, status in enumerate(["success", "failed", "success"])]
    for result in [*runs, batch_run(make_result, "other", "p-0")]:
        save_run(result, store_url)

    assert [r.run_id for r in batch_runs("b1", store_url)] == [r.run_id for r in reversed(runs)]
    assert [r.run_id for r in batch_runs("b1", store_url, status="failed")] == [runs[1].run_id]
    assert len(batch_runs("b1", store_url, limit=2)) == 2


# -- the resume checkpoint --------------------------------------------------------------
def test_a_prompts_success_wins_over_its_failures_whatever_their_order(store_url, make_result):
    failed_after = batch_run(make_result, "b1", "p-1", status="failed")
    success = batch_run(make_result, "b1", "p-1")
    failed_before = batch_run(make_result, "b1", "p-1", status="failed")
    for result in (failed_before, success, failed_after):
        save_run(result, store_url)

    assert batch_prompt_states("b1", store_url) == {"p-1": ("success", success.run_id)}


def test_a_prompt_without_success_has_its_latest_run(store_url, make_result):
    earlier = batch_run(make_result, "b1", "p-1", status="failed")
    later = batch_run(make_result, "b1", "p-1", status="cancelled")
    for result in (earlier, later):
        save_run(result, store_url)
    save_run(batch_run(make_result, "another-batch", "p-2"), store_url)

    assert batch_prompt_states("b1", store_url) == {"p-1": ("cancelled", later.run_id)}
    assert batch_prompt_states("no-such-batch", store_url) == {}


def test_the_checkpoint_of_ten_thousand_prompts_reads_each_once(store_url, make_result):
    template = _plain_run_values(make_result)
    saved = datetime.now(timezone.utc)
    rows = [{**template, "id": f"r{i}", "batch_id": "big", "prompt_id": f"p-{i // 2}",
             "status": "success" if i % 2 else "failed", "saved_at": saved + timedelta(microseconds=i)}
            for i in range(20_000)]
    with get_engine(store_url).begin() as connection:
        connection.execute(insert(Run), rows)

    states = batch_prompt_states("big", store_url)

    assert len(states) == 10_000
    assert states["p-0"] == ("success", "r1") and states["p-9999"] == ("success", "r19999")


def test_the_checkpoint_query_uses_the_batch_index(sqlite_url):
    with get_engine(sqlite_url).connect() as connection:
        plan = connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT prompt_id, status, id FROM run WHERE batch_id = 'b' "
            "AND prompt_id IS NOT NULL")).all()
    assert "ix_run_batch_prompt" in " ".join(str(row) for row in plan)


# -- batch summaries ----------------------------------------------------------------------
def test_a_batch_summary_round_trips(store_url):
    sent = summary()
    save_batch(sent, store_url)

    stored = get_batch("b-0001", store_url)

    assert stored.model_dump(exclude={"started", "finished", "airflow"}) == sent.model_dump(
        exclude={"started", "finished", "airflow"})
    assert (stored.started, stored.finished) == (pytest.approx(T0, abs=1e-5), pytest.approx(T0 + 120, abs=1e-5))
    assert stored.airflow.model_dump() == AIRFLOW_TRY
    assert stored.runs_per_minute == sent.runs_per_minute == 3.0


def test_saving_a_batch_again_updates_it(store_url):
    save_batch(summary(status="running", succeeded=1, finished=None), store_url)
    save_batch(summary(status="failed", succeeded=5, error="2 of 10 prompts failed"), store_url)

    stored = list_batches(store_url)

    assert [(b.batch_id, b.status, b.succeeded, b.error) for b in stored] == [
        ("b-0001", "failed", 5, "2 of 10 prompts failed")]


def test_a_batch_is_got_by_its_exact_id_and_found_by_a_prefix(store_url):
    for batch_id in ("abcd1111", "abcd2222", "xyz_9999"):
        save_batch(summary(batch_id), store_url)

    assert get_batch("abcd1111", store_url).batch_id == "abcd1111"
    assert get_batch("abcd1", store_url) is None  # a batch not saved yet is never another one
    assert find_batch_ids("abcd", store_url) == ["abcd1111", "abcd2222"]
    assert find_batch_ids("xyz_", store_url) == ["xyz_9999"]
    assert find_batch_ids("xyz%", store_url) == []  # a LIKE wildcard is a character like the others


def test_list_batches_orders_newest_first_and_filters_by_dag(store_url):
    old = summary("old", started=T0)
    new = summary("new", started=T0 + 100)
    cli = summary("cli", started=T0 + 50, airflow=None, name="prompts.jsonl")
    for batch in (old, new, cli):
        save_batch(batch, store_url)

    assert [b.batch_id for b in list_batches(store_url)] == ["new", "cli", "old"]
    assert [b.batch_id for b in list_batches(store_url, limit=1)] == ["new"]
    assert [b.batch_id for b in list_batches(store_url, dag_id="nightly")] == ["new", "old"]
    assert get_batch("cli", store_url).airflow is None


def test_a_batch_without_id_is_refused():
    with pytest.raises(ValueError, match="batch_id"):
        batch_values(BatchSummary(batch_id=""), saved_at=datetime.now(timezone.utc))


# -- upgrading -------------------------------------------------------------------------
def test_upgrading_a_store_with_runs_keeps_them_with_their_plans_tasks_and_calls(store_url):
    command.upgrade(alembic_config(store_url), "0002")
    engine = create_engine(store_url)
    with engine.begin() as connection:
        for run_id in ("old-1", "old-2"):
            connection.execute(text(
                "INSERT INTO run (id, dag_id, airflow_run_id, task_id, map_index, try_number, status, started, "
                "gpu_fallback, cluster_workers, gpu_slots, task_count, replan_count, failed_task_count, "
                "prompt_tokens, completion_tokens, saved_at) VALUES (:id, 'nightly', 'scheduled__2026-01-01', "
                ":task, -1, 1, 'success', CURRENT_TIMESTAMP, false, 0, 0, 1, 0, 0, 3, 4, CURRENT_TIMESTAMP)"),
                {"id": run_id, "task": f"ask-{run_id}"})
            connection.execute(text(
                "INSERT INTO plan (run_id, iteration, text, compile_errors, warnings) "
                "VALUES (:id, 0, 'join()', '[]', '[]')"), {"id": run_id})
            connection.execute(text(
                "INSERT INTO task (run_id, plan_iteration, task_id, tool, deps, resources, priority, attempts, "
                "status) VALUES (:id, 0, 1, 'search', '[]', '{}', 0, 1, 'success')"), {"id": run_id})
            connection.execute(text(
                "INSERT INTO llm_call (run_id, seq, role, prompt_tokens, completion_tokens, latency_s) "
                "VALUES (:id, 0, 'planner', 3, 4, 0.5)"), {"id": run_id})
    engine.dispose()

    upgrade(store_url)

    for run_id in ("old-1", "old-2"):
        stored = get_run(run_id, store_url)
        assert (stored.batch_id, stored.prompt_id) == (None, None)
        assert [p.text for p in stored.plans] == ["join()"]
        assert [(t.tool, t.source) for t in stored.all_tasks] == [("search", None)]
        assert [(c.role, c.queued_s, c.retries, c.rate_limited, c.finish_reason) for c in stored.llm_calls] == [
            ("planner", 0.0, 0, 0, None)]
    assert list_batches(store_url) == []


def test_foreign_keys_are_on_again_after_migrating_sqlite(sqlite_url, make_result):
    result = make_result()
    save_run(result, sqlite_url)
    with get_engine(sqlite_url).begin() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        connection.execute(text("DELETE FROM run"))
        assert connection.execute(text("SELECT count(*) FROM task")).scalar() == 0


def test_batch_outcomes_give_each_runs_status_times_and_error_oldest_first(store_url, make_result):
    ok = batch_run(make_result, "b1", "p-1", started_offset=0)
    bad = batch_run(make_result, "b1", "p-2", status="failed", started_offset=5)
    for result in (bad, ok, batch_run(make_result, "b2", "p-1")):
        save_run(result, store_url)

    outcomes = batch_outcomes("b1", store_url)

    assert [(o["run_id"], o["prompt_id"], o["status"], o["error"]) for o in outcomes] == [
        (ok.run_id, "p-1", "success", None), (bad.run_id, "p-2", "failed", "boom")]
    assert outcomes[1]["finished"] == pytest.approx(bad.finished, abs=1e-5)
