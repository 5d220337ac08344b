"""Alembic migrations of the metrics store (a package so that it ships in the wheel)."""
