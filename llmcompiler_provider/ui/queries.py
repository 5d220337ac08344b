"""What the pages and the JSON endpoints read from the metrics store, limited to what the viewer may read.

Every value handed out has passed through ``redact``.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import RunResult, RunSummary
from llmcompiler_provider.store import (
    batch_outcomes,
    batch_runs,
    find_batch_ids,
    get_batch,
    get_engine,
    get_run,
    list_batches,
    list_runs,
    trend,
)
from llmcompiler_provider.store.models import Batch, Run
from llmcompiler_provider.ui.access import Viewer
from llmcompiler_provider.ui.redact import redact_model, redact_value

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
TREND_LIMIT = 1000
RUN_STATUSES = ("success", "failed", "cancelled", "running")
BATCH_PREFIX_CHARS = 4  # a batch id's shortest prefix that finds it
BATCH_RUNS_SHOWN = 500  # the batch page's table of runs; the JSON endpoint takes a limit


class BadFilter(ValueError):
    """A filter value that cannot be understood; the message is one sentence."""


class RunNotFound(LookupError):
    pass


class RunForbidden(PermissionError):
    pass


class BatchNotFound(LookupError):
    pass


@dataclass(frozen=True)
class RunFilter:
    dag_id: str | None = None
    status: str | None = None
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, *, dag_id: str | None = None, status: str | None = None, since: str | None = None,
              limit: int | None = None) -> RunFilter:
        """From query parameters (empty strings mean no filter)."""
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise BadFilter(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.")
        return cls(dag_id=dag_id or None, status=status or None, since=parse_since(since),
                   limit=limit or DEFAULT_LIMIT)


def parse_since(value: str | None) -> datetime | None:
    """``2025-06-15`` (midnight UTC) or an ISO time such as ``2025-06-15T12:00:00+00:00``."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(
            f"'since' must be a date like 2025-06-15 or a time like 2025-06-15T12:00:00Z, not {value!r}."
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _dags_to_ask(viewer: Viewer, dag_id: str | None) -> list[str | None]:
    """The DAG filters to run the store query with: ``[None]`` means one query over every run."""
    if dag_id is not None:
        if not viewer.can_read_dag(dag_id):
            raise RunForbidden(f"You are not allowed to read the runs of DAG {dag_id!r}.")
        return [dag_id]
    if viewer.readable_dag_ids is None:
        return [None]
    return sorted(viewer.readable_dag_ids)


def recent_runs(viewer: Viewer, url: str | None, runs_filter: RunFilter) -> list[RunSummary]:
    """The newest runs first; a viewer limited to some DAGs gets one store query per DAG, merged."""
    batches = [
        [run for run in list_runs(url, limit=runs_filter.limit, dag_id=dag, status=runs_filter.status,
                                  since=runs_filter.since) if viewer.can_read_dag(run.dag_id)]
        for dag in _dags_to_ask(viewer, runs_filter.dag_id)
    ]
    merged = heapq.merge(*batches, key=lambda run: -run.started)
    return [redact_model(run) for run in itertools.islice(merged, runs_filter.limit)]


def trend_points(viewer: Viewer, url: str | None, runs_filter: RunFilter) -> list[dict[str, Any]]:
    """One point per run, oldest first (the newest ``TREND_LIMIT`` runs the viewer may read)."""
    points = [
        point
        for dag in _dags_to_ask(viewer, runs_filter.dag_id)
        for point in trend(url, dag_id=dag, since=runs_filter.since, limit=TREND_LIMIT)
        if viewer.can_read_dag(point["dag_id"]) and (runs_filter.status is None or point["status"] == runs_filter.status)
    ]
    points.sort(key=lambda point: point["started"] or 0.0)
    return redact_value(points[-TREND_LIMIT:])


def run_detail(viewer: Viewer, url: str | None, run_id: str) -> RunResult:
    run = get_run(run_id, url)
    if run is None:
        raise RunNotFound(f"No run with id {run_id!r} is recorded in the metrics store.")
    if not viewer.can_read_dag(run.dag_id):
        raise RunForbidden("You are not allowed to read this run (it belongs to a DAG you cannot read).")
    return redact_model(run)


def run_of_task_instance(
    viewer: Viewer,
    url: str | None,
    *,
    dag_id: str,
    airflow_run_id: str,
    task_id: str,
    map_index: int = -1,
    try_number: int | None = None,
) -> str:
    """The run id recorded for an Airflow task instance: the given try, else its latest one."""
    if not viewer.can_read_dag(dag_id):
        raise RunForbidden(f"You are not allowed to read the runs of DAG {dag_id!r}.")
    query = (
        select(Run.id)
        .where(Run.dag_id == dag_id, Run.airflow_run_id == airflow_run_id, Run.task_id == task_id,
               Run.map_index == map_index)
        .order_by(Run.try_number.desc(), Run.started.desc())
        .limit(1)
    )
    if try_number is not None:
        query = query.where(Run.try_number == try_number)
    with Session(get_engine(url)) as session:
        found = session.scalars(query).first()
    if found is None:
        mapped = f" (map index {map_index})" if map_index >= 0 else ""
        tried = f", try {try_number}" if try_number is not None else ""
        raise RunNotFound(
            f"No LLMCompiler run is recorded for task {task_id!r}{mapped}{tried} of DAG {dag_id!r}, "
            f"run {airflow_run_id!r}."
        )
    return found


def recent_batches(viewer: Viewer, url: str | None, *, dag_id: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> list[BatchSummary]:
    """The newest batches first that the viewer may read; one store query per DAG for a viewer limited
    to some DAGs, as for runs."""
    per_dag = [
        [batch for batch in list_batches(url, limit=limit, dag_id=dag) if viewer.can_read_dag(_dag_of(batch))]
        for dag in _dags_to_ask(viewer, dag_id)
    ]
    merged = heapq.merge(*per_dag, key=lambda batch: -batch.started)
    return [redact_model(batch) for batch in itertools.islice(merged, limit)]


def _dag_of(batch: BatchSummary) -> str | None:
    return batch.airflow.dag_id if batch.airflow is not None else None


def batch_detail(viewer: Viewer, url: str | None, batch_id: str) -> BatchSummary:
    """The batch ``batch_id``, or the one batch whose id starts with it (``BATCH_PREFIX_CHARS`` or more)."""
    batch = get_batch(batch_id, url)
    if batch is None and len(batch_id) >= BATCH_PREFIX_CHARS:
        found = find_batch_ids(batch_id, url, limit=2)
        batch = get_batch(found[0], url) if len(found) == 1 else None
    if batch is None:
        raise BatchNotFound(f"No batch with id {batch_id!r} is recorded in the metrics store.")
    if not viewer.can_read_dag(_dag_of(batch)):
        raise RunForbidden("You are not allowed to read this batch (it belongs to a DAG you cannot read).")
    return redact_model(batch)


def runs_of_batch(viewer: Viewer, url: str | None, batch_id: str, *, status: str | None = None,
                  limit: int | None = BATCH_RUNS_SHOWN) -> list[RunSummary]:
    """The batch's runs, newest first (after checking the viewer may read the batch)."""
    batch = batch_detail(viewer, url, batch_id)
    return [redact_model(run) for run in batch_runs(batch.batch_id, url, status=status, limit=limit)
            if viewer.can_read_dag(run.dag_id)]


def outcomes_of_batch(viewer: Viewer, url: str | None, batch: BatchSummary) -> list[dict[str, Any]]:
    """Every run's small record (``store.batch_outcomes``) of a batch the viewer may read, redacted."""
    if not viewer.can_read_dag(_dag_of(batch)):
        raise RunForbidden("You are not allowed to read this batch (it belongs to a DAG you cannot read).")
    return redact_value(batch_outcomes(batch.batch_id, url))


def batch_of_task_instance(
    viewer: Viewer,
    url: str | None,
    *,
    dag_id: str,
    airflow_run_id: str,
    task_id: str,
    map_index: int = -1,
    try_number: int | None = None,
) -> str | None:
    """The batch id an Airflow task instance recorded (the given try, else its latest one), or None
    when that task ran no batch."""
    if not viewer.can_read_dag(dag_id):
        raise RunForbidden(f"You are not allowed to read the runs of DAG {dag_id!r}.")
    unmapped = map_index < 0
    query = (
        select(Batch.id)
        .where(Batch.dag_id == dag_id, Batch.airflow_run_id == airflow_run_id, Batch.task_id == task_id,
               or_(Batch.map_index.is_(None), Batch.map_index < 0) if unmapped else Batch.map_index == map_index)
        .order_by(Batch.try_number.desc(), Batch.started.desc())
        .limit(1)
    )
    if try_number is not None:
        query = query.where(Batch.try_number == try_number)
    with Session(get_engine(url)) as session:
        return session.scalars(query).first()
