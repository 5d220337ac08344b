"""Alembic revisions of the metrics store; alembic skips this file."""
