"""The metrics store's tables (SQLAlchemy 2.x ORM, portable across SQLite and PostgreSQL).

Changing a table here needs a new migration in ``store/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def run_fk() -> Mapped[str]:
    return mapped_column(String(64), ForeignKey("run.id", ondelete="CASCADE"), nullable=False)


class Run(Base):
    __tablename__ = "run"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Airflow identity (all null outside Airflow)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    airflow_run_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))
    map_index: Mapped[int | None] = mapped_column(Integer)
    try_number: Mapped[int | None] = mapped_column(Integer)

    prompt: Mapped[str | None] = mapped_column(Text)
    prompt_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    started: Mapped[datetime | None] = mapped_column(Timestamp)
    finished: Mapped[datetime | None] = mapped_column(Timestamp)
    planner_model: Mapped[str | None] = mapped_column(Text)
    joiner_model: Mapped[str | None] = mapped_column(Text)
    toolset: Mapped[str | None] = mapped_column(String(200))

    cluster_kind: Mapped[str | None] = mapped_column(String(32))
    cluster_address: Mapped[str | None] = mapped_column(Text)
    gpu_fallback: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cluster_workers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    gpu_slots: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    task_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    replan_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed_task_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    wall_s: Mapped[float | None] = mapped_column(Float)
    sum_task_s: Mapped[float | None] = mapped_column(Float)
    critical_path_s: Mapped[float | None] = mapped_column(Float)
    speedup: Mapped[float | None] = mapped_column(Float)
    efficiency: Mapped[float | None] = mapped_column(Float)
    first_dispatch_s: Mapped[float | None] = mapped_column(Float)
    gpu_slot_utilization: Mapped[float | None] = mapped_column(Float)

    answer: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the full Timings and anything extra
    saved_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    # the batch the run belongs to and its prompt's id there (0003); null for a run of its own
    batch_id: Mapped[str | None] = mapped_column(String(64))
    prompt_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # one run per Airflow try, except for the runs of a batch (they share the batch task's try)
        Index("uq_run_airflow_try", "dag_id", "airflow_run_id", "task_id", "map_index", "try_number", unique=True,
              sqlite_where=sql_text("batch_id IS NULL"), postgresql_where=sql_text("batch_id IS NULL")),
        Index("ix_run_batch_prompt", "batch_id", "prompt_id"),
        Index("ix_run_started", "started"),
        Index("ix_run_dag_started", "dag_id", "started"),
        Index("ix_run_status_started", "status", "started"),
    )


class Plan(Base):
    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = run_fk()
    iteration: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    thought: Mapped[str | None] = mapped_column(Text)
    compile_errors: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # '[]' for older plans (0002)

    __table_args__ = (UniqueConstraint("run_id", "iteration", name="uq_plan_run_iteration"),)


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = run_fk()
    plan_iteration: Mapped[int] = mapped_column(Integer, nullable=False)
    task_id: Mapped[int] = mapped_column(Integer, nullable=False)
    tool: Mapped[str] = mapped_column(String(200), nullable=False)
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"args", "kwargs"} or a truncated preview
    deps: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    resources: Mapped[dict[str, float]] = mapped_column(JSON, nullable=False, default=dict)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    queued: Mapped[datetime | None] = mapped_column(Timestamp)
    started: Mapped[datetime | None] = mapped_column(Timestamp)
    finished: Mapped[datetime | None] = mapped_column(Timestamp)
    worker: Mapped[str | None] = mapped_column(Text)
    thread: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    result_preview: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(16))  # None | batch | cache (0003)

    __table_args__ = (
        UniqueConstraint("run_id", "plan_iteration", "task_id", name="uq_task_run_iteration_task"),
    )


class LLMCallRow(Base):
    __tablename__ = "llm_call"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = run_fk()
    seq: Mapped[int] = mapped_column(Integer, nullable=False)  # order within the run
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    latency_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    ttft_s: Mapped[float | None] = mapped_column(Float)
    started: Mapped[datetime | None] = mapped_column(Timestamp)
    error: Mapped[str | None] = mapped_column(Text)
    # the endpoint's side of the call (0003)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    queued_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_llm_call_run_id", "run_id"),)


class Batch(Base):
    """One batch (``batch_results.BatchSummary``), saved as it goes and when it ends."""

    __tablename__ = "batch"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    airflow_run_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))
    map_index: Mapped[int | None] = mapped_column(Integer)
    try_number: Mapped[int | None] = mapped_column(Integer)
    started: Mapped[datetime | None] = mapped_column(Timestamp)
    finished: Mapped[datetime | None] = mapped_column(Timestamp)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    resumed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    in_flight: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    wall_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cost: Mapped[float | None] = mapped_column(Float)
    llm_requests: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tool_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tool_calls_deduplicated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    saved_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)

    __table_args__ = (
        Index("ix_batch_started", "started"),
        Index("ix_batch_dag_id", "dag_id"),
    )


class ToolCacheRow(Base):
    """A tool's result kept for ``cache_ttl`` seconds, under a key naming the tool and its arguments."""

    __tablename__ = "tool_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool: Mapped[str] = mapped_column(String(200), nullable=False)
    result: Mapped[Any] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    expires: Mapped[datetime] = mapped_column(Timestamp, nullable=False)

    __table_args__ = (Index("ix_tool_cache_expires", "expires"),)
