"""Saving and reading batches, and the checkpoint a batch resumes from.

A batch is one row (``BatchSummary``), saved again as it progresses (an upsert by its
id); its runs are ordinary runs tagged with ``batch_id`` and ``prompt_id``.
``batch_prompt_states`` reads every prompt's best run in one indexed query, so that a
rerun with the same batch id skips what already finished.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import AirflowIdentity, RunSummary, Tokens
from llmcompiler_provider.store import convert
from llmcompiler_provider.store.engine import for_writing, get_engine
from llmcompiler_provider.store.models import Batch, Run
from llmcompiler_provider.store.repository import ids_starting_with, list_runs
from llmcompiler_provider.store.upsert import upsert

SHORT_TEXT_CHARS = 250


def batch_values(summary: BatchSummary, saved_at: datetime) -> dict[str, Any]:
    """The ``batch`` row of ``summary``, as column values."""
    if not summary.batch_id:
        raise ValueError("a batch summary needs a batch_id to be stored")
    airflow = summary.airflow or AirflowIdentity()
    return {
        "id": convert.clean_text(summary.batch_id, 64),
        "status": convert.clean_text(summary.status or "unknown", 16),
        "error": convert.clean_text(summary.error, convert.ERROR_CHARS),
        "name": convert.clean_text(summary.name),
        "dag_id": convert.clean_text(airflow.dag_id, SHORT_TEXT_CHARS),
        "airflow_run_id": convert.clean_text(airflow.run_id, SHORT_TEXT_CHARS),
        "task_id": convert.clean_text(airflow.task_id, SHORT_TEXT_CHARS),
        "map_index": airflow.map_index,
        "try_number": airflow.try_number,
        "started": convert.to_timestamp(summary.started),
        "finished": convert.to_timestamp(summary.finished),
        **{name: getattr(summary, name) for name in (
            "total", "succeeded", "failed", "skipped", "resumed", "in_flight", "wall_s", "cost", "llm_requests",
            "rate_limited", "tool_calls", "tool_calls_deduplicated")},
        "prompt_tokens": summary.tokens.prompt,
        "completion_tokens": summary.tokens.completion,
        "failed_ids": convert.json_safe(summary.failed_ids),
        "options": convert.json_safe(summary.options),
        "saved_at": saved_at,
    }


def batch_summary(row: Batch) -> BatchSummary:
    airflow = (
        AirflowIdentity(dag_id=row.dag_id, run_id=row.airflow_run_id, task_id=row.task_id,
                        map_index=row.map_index, try_number=row.try_number)
        if row.dag_id is not None else None
    )
    return BatchSummary(
        batch_id=row.id, status=row.status, error=row.error, name=row.name, airflow=airflow,
        started=convert.to_epoch(row.started), finished=convert.to_epoch(row.finished),
        total=row.total, succeeded=row.succeeded, failed=row.failed, skipped=row.skipped, resumed=row.resumed,
        in_flight=row.in_flight, wall_s=row.wall_s, tokens=Tokens(prompt=row.prompt_tokens,
                                                                  completion=row.completion_tokens),
        cost=row.cost, llm_requests=row.llm_requests, rate_limited=row.rate_limited, tool_calls=row.tool_calls,
        tool_calls_deduplicated=row.tool_calls_deduplicated, failed_ids=row.failed_ids or [],
        options=row.options or {},
    )


def save_batch(summary: BatchSummary, url: str | None = None) -> None:
    """Store ``summary``, replacing what was stored under its batch id."""
    values = batch_values(summary, saved_at=datetime.now(timezone.utc))
    with Session(for_writing(get_engine(url))) as session, session.begin():
        upsert(session, Batch, values)


def get_batch(batch_id: str, url: str | None = None) -> BatchSummary | None:
    """The batch ``batch_id`` (exactly: a batch not saved yet is None, never another batch), or None."""
    with Session(get_engine(url)) as session:
        row = session.get(Batch, batch_id)
        return batch_summary(row) if row is not None else None


def find_batch_ids(prefix: str, url: str | None = None, *, limit: int = 10) -> list[str]:
    """Batch ids starting with ``prefix`` (so people can type the first few characters)."""
    return ids_starting_with(Batch.id, prefix, url, limit=limit)


def list_batches(url: str | None = None, *, limit: int | None = 100, dag_id: str | None = None) -> list[BatchSummary]:
    """The most recent batches first."""
    query = select(Batch).order_by(Batch.started.desc(), Batch.saved_at.desc()).limit(limit)
    if dag_id is not None:
        query = query.where(Batch.dag_id == dag_id)
    with Session(get_engine(url)) as session:
        return [batch_summary(row) for row in session.scalars(query)]


def batch_prompt_states(batch_id: str, url: str | None = None) -> dict[str, tuple[str, str]]:
    """prompt_id -> (status, run_id) of each prompt's best run in the batch: a successful run if there
    is one, else the latest. The checkpoint a batch resumes from."""
    query = (
        select(Run.prompt_id, Run.status, Run.id)
        .where(Run.batch_id == batch_id, Run.prompt_id.is_not(None))
        .order_by(Run.saved_at, Run.started)  # later rows overwrite earlier ones below
    )
    states: dict[str, tuple[str, str]] = {}
    with Session(get_engine(url)) as session:
        for prompt_id, status, run_id in session.execute(query):
            if states.get(prompt_id, ("",))[0] != "success":
                states[prompt_id] = (status, run_id)
    return states


def batch_runs(
    batch_id: str, url: str | None = None, *, status: str | None = None, limit: int | None = None
) -> list[RunSummary]:
    """The runs of a batch, the most recent first."""
    return list_runs(url, limit=limit, status=status, batch_id=batch_id)


def batch_outcomes(batch_id: str, url: str | None = None) -> list[dict[str, Any]]:
    """One small record per run of the batch, oldest first: ``run_id``, ``prompt_id``, ``status``,
    ``started``, ``finished`` (epoch seconds) and ``error``; for the batch page's throughput and
    failure causes, without loading whole runs."""
    query = (
        select(Run.id, Run.prompt_id, Run.status, Run.started, Run.finished, Run.error)
        .where(Run.batch_id == batch_id)
        .order_by(Run.started, Run.saved_at)
    )
    with Session(get_engine(url)) as session:
        rows = session.execute(query).all()
    return [
        {"run_id": row.id, "prompt_id": row.prompt_id, "status": row.status, "started": convert.to_epoch(row.started),
         "finished": convert.to_epoch(row.finished), "error": row.error}
        for row in rows
    ]
