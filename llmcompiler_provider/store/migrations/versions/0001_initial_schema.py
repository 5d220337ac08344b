"""initial schema: run, plan, task, llm_call

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The tables of the metrics store. Written out in full (not imported from models.py),
so this revision keeps creating the schema it created the day it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=True),
    sa.Column('airflow_run_id', sa.String(length=250), nullable=True),
    sa.Column('task_id', sa.String(length=250), nullable=True),
    sa.Column('map_index', sa.Integer(), nullable=True),
    sa.Column('try_number', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('prompt_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished', sa.DateTime(timezone=True), nullable=True),
    sa.Column('planner_model', sa.Text(), nullable=True),
    sa.Column('joiner_model', sa.Text(), nullable=True),
    sa.Column('toolset', sa.String(length=200), nullable=True),
    sa.Column('cluster_kind', sa.String(length=32), nullable=True),
    sa.Column('cluster_address', sa.Text(), nullable=True),
    sa.Column('gpu_fallback', sa.Boolean(), nullable=False),
    sa.Column('cluster_workers', sa.Integer(), nullable=False),
    sa.Column('gpu_slots', sa.Integer(), nullable=False),
    sa.Column('task_count', sa.Integer(), nullable=False),
    sa.Column('replan_count', sa.Integer(), nullable=False),
    sa.Column('failed_task_count', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('wall_s', sa.Float(), nullable=True),
    sa.Column('sum_task_s', sa.Float(), nullable=True),
    sa.Column('critical_path_s', sa.Float(), nullable=True),
    sa.Column('speedup', sa.Float(), nullable=True),
    sa.Column('efficiency', sa.Float(), nullable=True),
    sa.Column('first_dispatch_s', sa.Float(), nullable=True),
    sa.Column('gpu_slot_utilization', sa.Float(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run')),
    sa.UniqueConstraint('dag_id', 'airflow_run_id', 'task_id', 'map_index', 'try_number', name='uq_run_airflow_try')
    )
    op.create_index('ix_run_dag_started', 'run', ['dag_id', 'started'])
    op.create_index(op.f('ix_run_prompt_hash'), 'run', ['prompt_hash'])
    op.create_index('ix_run_started', 'run', ['started'])
    op.create_index('ix_run_status_started', 'run', ['status', 'started'])

    op.create_table('llm_call',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('latency_s', sa.Float(), nullable=False),
    sa.Column('ttft_s', sa.Float(), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_llm_call_run_id_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_call'))
    )
    op.create_index('ix_llm_call_run_id', 'llm_call', ['run_id'])

    op.create_table('plan',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('iteration', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('thought', sa.Text(), nullable=True),
    sa.Column('compile_errors', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_plan_run_id_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan')),
    sa.UniqueConstraint('run_id', 'iteration', name='uq_plan_run_iteration')
    )
    op.create_table('task',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('plan_iteration', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('tool', sa.String(length=200), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=True),
    sa.Column('deps', sa.JSON(), nullable=False),
    sa.Column('resources', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('queued', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.Text(), nullable=True),
    sa.Column('thread', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result_preview', sa.Text(), nullable=True),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_task_run_id_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task')),
    sa.UniqueConstraint('run_id', 'plan_iteration', 'task_id', name='uq_task_run_iteration_task')
    )


def downgrade() -> None:
    op.drop_table('task')
    op.drop_table('plan')
    op.drop_index('ix_llm_call_run_id', table_name='llm_call')

    op.drop_table('llm_call')
    op.drop_index('ix_run_status_started', table_name='run')
    op.drop_index('ix_run_started', table_name='run')
    op.drop_index(op.f('ix_run_prompt_hash'), table_name='run')
    op.drop_index('ix_run_dag_started', table_name='run')

    op.drop_table('run')
