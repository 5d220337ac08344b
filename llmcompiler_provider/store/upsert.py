"""Insert a row, or update the row with its primary key, in one statement where the dialect has one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from llmcompiler_provider.store.models import Base

ON_CONFLICT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def upsert(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Store ``values`` as the row with their primary key, new or replacing: ``INSERT ... ON CONFLICT DO
    UPDATE`` (SQLite, PostgreSQL), ``ON DUPLICATE KEY UPDATE`` (MySQL), else an update, then an insert if
    no row was there."""
    table = model.__table__
    key = [column.name for column in table.primary_key.columns]
    changed = {name: value for name, value in values.items() if name not in key}
    dialect = session.get_bind().dialect.name
    if dialect in ON_CONFLICT_INSERTS:
        statement = ON_CONFLICT_INSERTS[dialect](table).values(**values)
        session.execute(statement.on_conflict_do_update(
            index_elements=key, set_={name: statement.excluded[name] for name in changed}))
    elif dialect in ("mysql", "mariadb"):
        statement = mysql.insert(table).values(**values)
        session.execute(statement.on_duplicate_key_update(**{name: statement.inserted[name] for name in changed}))
    else:
        matches = and_(*(table.c[name] == values[name] for name in key))
        if session.execute(update(table).where(matches).values(**changed)).rowcount == 0:
            session.execute(insert(table).values(**values))
