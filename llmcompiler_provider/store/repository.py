"""Saving and reading runs.

``save_run`` is one transaction and idempotent: saving a run id again replaces
that run with its plans, tasks and LLM calls, and a run from the same Airflow try
(dag_id, run_id, task_id, map_index, try_number) replaces the one saved before,
whatever its run id. The runs of a batch share the batch task's try, so that rule
leaves them out: a run with a ``batch_id`` is replaced only by its own run id. Two writers saving the same run at once both succeed, one
after the other (PostgreSQL advisory locks, SQLite's write lock); the later wins.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, delete, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from llmcompiler_provider.results import AirflowIdentity, RunResult, RunSummary
from llmcompiler_provider.store import convert
from llmcompiler_provider.store.engine import for_writing, get_engine
from llmcompiler_provider.store.models import LLMCallRow, Plan, Run, Task

SAVE_ATTEMPTS = 3  # a concurrent save of the same run or Airflow try makes the first insert collide


def _since(value: float | datetime | None) -> datetime | None:
    if isinstance(value, (int, float)):
        return convert.to_timestamp(float(value))
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _replaced_try(result: RunResult) -> AirflowIdentity | None:
    """The Airflow try whose earlier run ``result`` replaces: its own, unless it is a run of a batch."""
    identity = convert.stored_airflow_try(result)
    return identity if identity and identity.try_number is not None and not result.batch_id else None


def _runs_replaced_by(result: RunResult):  # type: ignore[no-untyped-def]
    """A condition matching the stored runs that ``result`` replaces."""
    condition = Run.id == result.run_id
    identity = _replaced_try(result)
    if identity:
        same_try = and_(
            Run.batch_id.is_(None),
            Run.dag_id == identity.dag_id,
            Run.airflow_run_id == identity.run_id,
            Run.task_id == identity.task_id,
            Run.map_index == identity.map_index,
            Run.try_number == identity.try_number,
        )
        condition = or_(condition, same_try)
    return condition


def _lock_keys(result: RunResult) -> list[int]:
    """64-bit keys naming the run id and the Airflow try, for PostgreSQL advisory locks."""
    names = [f"run:{result.run_id}"]
    identity = _replaced_try(result)
    if identity:
        names.append("try:" + json.dumps(identity.model_dump(), sort_keys=True))
    digests = (hashlib.sha256(name.encode()).digest()[:8] for name in names)
    return sorted(int.from_bytes(d, "big", signed=True) for d in digests)


def _serialize_writers_of(session: Session, result: RunResult) -> None:
    """Make concurrent saves of the same run or Airflow try wait for each other (SQLite already does)."""
    if session.get_bind().dialect.name == "postgresql":
        for key in _lock_keys(result):  # sorted, so two writers never wait on each other crosswise
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _replace(session: Session, result: RunResult) -> None:
    _serialize_writers_of(session, result)
    stale = select(Run.id).where(_runs_replaced_by(result)).scalar_subquery()
    for table in (Task, Plan, LLMCallRow):
        session.execute(delete(table).where(table.run_id.in_(stale)))
    session.execute(delete(Run).where(_runs_replaced_by(result)))
    session.add(convert.run_row(result, saved_at=datetime.now(timezone.utc)))
    session.flush()  # the run row first: its children reference it
    session.add_all([*convert.plan_rows(result), *convert.task_rows(result), *convert.llm_call_rows(result)])


def save_run(result: RunResult, url: str | None = None) -> str:
    """Store ``result`` and return its run id; the figures derived from its tasks are filled in
    on ``result`` first (``RunResult.fill_figures``).

    Raises SQLAlchemy's errors when the store cannot be reached; ``save_run_safely``
    is the variant that never raises.
    """
    if not result.run_id:
        raise ValueError("a run result needs a run_id to be stored")
    engine = for_writing(get_engine(url))
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            with Session(engine) as session, session.begin():
                _replace(session, result)
            return result.run_id
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def list_runs(
    url: str | None = None,
    *,
    limit: int | None = 50,
    dag_id: str | None = None,
    status: str | None = None,
    since: float | datetime | None = None,
    airflow_run_id: str | None = None,
    task_id: str | None = None,
    batch_id: str | None = None,
) -> list[RunSummary]:
    """The most recent runs first, as summaries (no plans, tasks or calls); ``airflow_run_id`` and
    ``task_id`` select the runs of one DAG run (and task), ``batch_id`` those of one batch."""
    query = (
        select(Run)
        .options(defer(Run.answer))  # a summary does not show it
        .order_by(Run.started.desc(), Run.saved_at.desc())
        .limit(limit)
    )
    if dag_id is not None:
        query = query.where(Run.dag_id == dag_id)
    if status is not None:
        query = query.where(Run.status == status)
    if airflow_run_id is not None:
        query = query.where(Run.airflow_run_id == airflow_run_id)
    if task_id is not None:
        query = query.where(Run.task_id == task_id)
    if batch_id is not None:
        query = query.where(Run.batch_id == batch_id)
    if since is not None:
        query = query.where(Run.started >= _since(since))
    with Session(get_engine(url)) as session:
        return [convert.run_summary(run) for run in session.scalars(query)]


def get_run(run_id: str, url: str | None = None) -> RunResult | None:
    """Everything stored about ``run_id``, or None."""
    with Session(get_engine(url)) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        plans = session.scalars(select(Plan).where(Plan.run_id == run_id).order_by(Plan.iteration)).all()
        tasks = session.scalars(
            select(Task).where(Task.run_id == run_id).order_by(Task.plan_iteration, Task.task_id)
        ).all()
        calls = session.scalars(select(LLMCallRow).where(LLMCallRow.run_id == run_id).order_by(LLMCallRow.seq)).all()
        return convert.run_result(run, list(plans), list(tasks), list(calls))


def run_status(run_id: str, url: str | None = None) -> str | None:
    """The status of ``run_id``, or None when it is not stored (yet)."""
    with Session(get_engine(url)) as session:
        return session.scalar(select(Run.status).where(Run.id == run_id))


def tool_durations(url: str | None = None, *, recent: int = 5000) -> dict[str, list[float]]:
    """The durations (seconds) of the ``recent`` latest successful tool calls, by tool."""
    query = (
        select(Task.tool, Task.started, Task.finished)
        .where(Task.status == "success", Task.started.is_not(None), Task.finished.is_not(None))
        .order_by(Task.id.desc())
        .limit(recent)
    )
    durations: dict[str, list[float]] = {}
    with Session(get_engine(url)) as session:
        for tool, started, finished in session.execute(query):
            durations.setdefault(tool, []).append(max(0.0, (finished - started).total_seconds()))
    return durations


def ids_starting_with(id_column: Any, prefix: str, url: str | None = None, *, limit: int = 10) -> list[str]:
    """The values of ``id_column`` (``Run.id``, ``Batch.id``) starting with ``prefix``, in order."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = select(id_column).where(id_column.like(f"{escaped}%", escape="\\")).order_by(id_column).limit(limit)
    with Session(get_engine(url)) as session:
        return list(session.scalars(query))


def find_run_ids(prefix: str, url: str | None = None, *, limit: int = 10) -> list[str]:
    """Run ids starting with ``prefix`` (so people can type the first few characters)."""
    return ids_starting_with(Run.id, prefix, url, limit=limit)


def trend(
    url: str | None = None,
    *,
    dag_id: str | None = None,
    since: float | datetime | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """One point per run, oldest first, for the UI's trend plots (the newest ``limit`` runs)."""
    columns = (Run.id, Run.started, Run.dag_id, Run.status, Run.wall_s, Run.sum_task_s, Run.critical_path_s,
               Run.speedup, Run.efficiency, Run.task_count, Run.prompt_tokens, Run.completion_tokens)
    query = select(*columns).order_by(Run.started.desc()).limit(limit)
    if dag_id is not None:
        query = query.where(Run.dag_id == dag_id)
    if since is not None:
        query = query.where(Run.started >= _since(since))
    with Session(get_engine(url)) as session:
        rows = session.execute(query).all()
    return [
        {
            "run_id": row.id,
            "started": convert.to_epoch(row.started),
            "dag_id": row.dag_id,
            "status": row.status,
            "wall_s": row.wall_s,
            "sum_task_s": row.sum_task_s,
            "critical_path_s": row.critical_path_s,
            "speedup": row.speedup,
            "efficiency": row.efficiency,
            "tasks": row.task_count,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "tokens": row.prompt_tokens + row.completion_tokens,
        }
        for row in reversed(rows)
    ]
