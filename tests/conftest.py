"""Fixtures shared by every test folder: real SQLite files and the real PostgreSQL server.

PostgreSQL: one database per test session (dropped at the end), one schema per
test, so parallel sessions and reruns never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from llmcompiler_provider.store import dispose_engines

POSTGRES_SERVER_URL = os.environ.get("LLMCOMPILER_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture
def private_home(tmp_path, monkeypatch) -> Iterator[None]:
    """A home folder of the test's own and no store URL from the environment (folders make it automatic)."""
    monkeypatch.setenv("LLMCOMPILER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLMCOMPILER_STORE_URL", raising=False)
    yield
    dispose_engines()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its URL. Dropped afterwards."""
    name = f"llmcompiler_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(
            f"the PostgreSQL server at {POSTGRES_SERVER_URL} cannot be used ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}); the store tests marked 'postgres' need it running",
            pytrace=False,
        )
    try:
        yield POSTGRES_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A URL whose tables live in a schema of their own (empty: no tables yet)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{postgres_database}?options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    (tmp_path / "store").mkdir()
    return f"sqlite:///{tmp_path / 'store' / 'metrics.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str:
    """The same test against a SQLite file and against PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")
