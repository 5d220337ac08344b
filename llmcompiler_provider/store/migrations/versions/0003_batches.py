"""batches: the batch table, runs tagged with their batch, the tool result cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

- ``batch``: one row per batch (``BatchSummary``).
- ``run.batch_id`` and ``run.prompt_id``: the batch a run belongs to and its prompt's id there.
  The runs of a batch share the batch task's Airflow try, so the one-run-per-try rule
  (``uq_run_airflow_try``) becomes a unique index over the runs without a batch only.
- ``task.source``: None, ``batch`` (shared with another run of the batch) or ``cache``.
- ``llm_call``: ``finish_reason``, ``queued_s``, ``retries``, ``rate_limited``.
- ``tool_cache``: results of the tools that opted into caching, until they expire.

Rows stored before this revision keep their values; the new columns are null or 0.
On SQLite, dropping the old constraint rebuilds the ``run`` table; ``store.engine.migrate``
turns foreign keys off meanwhile so that rebuilding it does not cascade to its plans and tasks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

AIRFLOW_TRY = ['dag_id', 'airflow_run_id', 'task_id', 'map_index', 'try_number']
RUNS_OF_THEIR_OWN = sa.text('batch_id IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('run') as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('prompt_id', sa.String(length=200), nullable=True))
        batch_op.drop_constraint('uq_run_airflow_try', type_='unique')
    op.create_index('uq_run_airflow_try', 'run', AIRFLOW_TRY, unique=True,
                    sqlite_where=RUNS_OF_THEIR_OWN, postgresql_where=RUNS_OF_THEIR_OWN)
    op.create_index('ix_run_batch_prompt', 'run', ['batch_id', 'prompt_id'])

    with op.batch_alter_table('task') as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))

    with op.batch_alter_table('llm_call') as batch_op:
        batch_op.add_column(sa.Column('finish_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('queued_s', sa.Float(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('retries', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('rate_limited', sa.Integer(), nullable=False, server_default=sa.text('0')))

    op.create_table('batch',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('dag_id', sa.String(length=250), nullable=True),
    sa.Column('airflow_run_id', sa.String(length=250), nullable=True),
    sa.Column('task_id', sa.String(length=250), nullable=True),
    sa.Column('map_index', sa.Integer(), nullable=True),
    sa.Column('try_number', sa.Integer(), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('resumed', sa.Integer(), nullable=False),
    sa.Column('in_flight', sa.Integer(), nullable=False),
    sa.Column('wall_s', sa.Float(), nullable=False),
    sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
    sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=True),
    sa.Column('llm_requests', sa.Integer(), nullable=False),
    sa.Column('rate_limited', sa.Integer(), nullable=False),
    sa.Column('tool_calls', sa.Integer(), nullable=False),
    sa.Column('tool_calls_deduplicated', sa.Integer(), nullable=False),
    sa.Column('failed_ids', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch'))
    )
    op.create_index('ix_batch_started', 'batch', ['started'])
    op.create_index('ix_batch_dag_id', 'batch', ['dag_id'])

    op.create_table('tool_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('tool', sa.String(length=200), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_tool_cache'))
    )
    op.create_index('ix_tool_cache_expires', 'tool_cache', ['expires'])


def downgrade() -> None:
    op.drop_index('ix_tool_cache_expires', table_name='tool_cache')
    op.drop_table('tool_cache')
    op.drop_index('ix_batch_dag_id', table_name='batch')
    op.drop_index('ix_batch_started', table_name='batch')
    op.drop_table('batch')
    with op.batch_alter_table('llm_call') as batch_op:
        for column in ('rate_limited', 'retries', 'queued_s', 'finish_reason'):
            batch_op.drop_column(column)
    with op.batch_alter_table('task') as batch_op:
        batch_op.drop_column('source')
    op.drop_index('ix_run_batch_prompt', table_name='run')
    op.drop_index('uq_run_airflow_try', table_name='run')
    op.execute(sa.text('DELETE FROM run WHERE batch_id IS NOT NULL'))  # their shared tries would collide
    with op.batch_alter_table('run') as batch_op:
        batch_op.drop_column('prompt_id')
        batch_op.drop_column('batch_id')
        batch_op.create_unique_constraint('uq_run_airflow_try', AIRFLOW_TRY)
