"""Engines for the store: one per URL and process, migrated to the newest schema on first use.

SQLite is set up for many writers at once: WAL journal, a busy timeout, and write
transactions that take the write lock up front (``BEGIN IMMEDIATE``), so a writer
waits for another instead of failing. Migrations run under a lock (the SQLite
write lock, or a PostgreSQL advisory lock), so processes starting together do not
race to create the tables. SQLite's foreign keys are off while migrating (see
``_sqlite_foreign_keys``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from llmcompiler_provider.store.errors import StoreError
from llmcompiler_provider.store.location import resolve_store_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 60
SQLITE_BEGIN_OPTION = "sqlite_begin"
# an arbitrary constant naming the PostgreSQL advisory lock held while migrating
MIGRATION_LOCK_KEY = 0x6C6C6D63

_engines: dict[str, tuple[int, Engine]] = {}
_engines_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if not database or database == ":memory:":
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
    _configure_sqlite(engine)
    return engine


def for_writing(engine: Engine) -> Engine:
    """The same engine, with SQLite transactions taking the write lock when they begin."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _at_head(engine: Engine, config: Config) -> bool:
    """Whether the store is at the newest revision; a revision this package does not know is an error."""
    script = ScriptDirectory.from_config(config)
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    if current - known:
        raise StoreError(
            f"the metrics store at {engine.url.render_as_string(hide_password=True)} has schema "
            f"revision {', '.join(sorted(current - known))}, which this llmcompiler-provider does not know; "
            "upgrade the package"
        )
    return current == set(script.get_heads())


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (``alembic upgrade head``), under a lock."""
    config = alembic_config()
    if _at_head(engine, config):
        return
    with for_writing(engine).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # before the transaction (SQLite ignores it within one)
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Turn SQLite's foreign keys on or off on this connection. Off while migrating: a migration that
    rebuilds a table (``batch_alter_table``) drops the old one, and with foreign keys on that would
    delete the rows referencing it (ON DELETE CASCADE)."""
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (resolved with ``resolve_store_url``), migrated on first use in this process."""
    resolved = resolve_store_url(url)
    with _engines_lock:
        cached = _engines.get(resolved)
        if cached and cached[0] == os.getpid():
            return cached[1]
        if cached:  # inherited through fork: its pooled connections belong to the parent
            cached[1].dispose(close=False)
        engine = _create_engine(resolved)
        try:
            migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        _engines[resolved] = (os.getpid(), engine)
        return engine


def upgrade(url: str | None = None) -> str:
    """Run the migrations on the store at ``url`` and return the revision it is at."""
    engine = get_engine(url)
    with engine.connect() as connection:
        return ", ".join(MigrationContext.configure(connection).get_current_heads())


def dispose_engines() -> None:
    """Close every cached engine (tests and long-lived processes switching stores)."""
    with _engines_lock:
        for _pid, engine in _engines.values():
            engine.dispose()
        _engines.clear()
