"""plan.warnings: the compiler's warnings for each plan (its repairs)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

One JSON list of ``FILE:LINE:COL: warning: MESSAGE`` lines a plan, next to its
``compile_errors``. Plans recorded before this revision get an empty list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan') as batch_op:
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('plan') as batch_op:
        batch_op.drop_column('warnings')
