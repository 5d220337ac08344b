"""The PostgreSQL metrics store goes away in the middle of a run.

Each test has a database of its own on the test server; mid-run (while a tool is
working) its connections are killed (``pg_terminate_backend``), and for the
outage tests it also stops accepting connections until the test lets it back.
The run always finishes: its metrics are written, or it says they were not and
keeps them on disk until ``flush_unsaved`` writes them; strict mode fails instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_tools import called_pids
from sqlalchemy import create_engine, text

from llmcompiler_provider.store import StoreError, flush_unsaved, get_run, unsaved_dir

pytestmark = pytest.mark.postgres

POSTGRES_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
WAIT_S = 60.0


class Database:
    """A database of the test's own on the PostgreSQL test server, which the test can take away."""

    def __init__(self) -> None:
        self.name = f"llmcompiler_store_fault_{uuid.uuid4().hex[:10]}"
        self.url = POSTGRES_SERVER_URL.rsplit("/", 1)[0] + f"/{self.name}?connect_timeout=2"
        self.admin = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")

    def _execute(self, sql: str, **params) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(sql), params)

    def create(self) -> None:
        self._execute(f'CREATE DATABASE "{self.name}"')

    def kill_connections(self) -> None:
        self._execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()",
            name=self.name,
        )

    def go_away(self) -> None:
        """Refuse new connections and kill the open ones (a server restart, a network cut)."""
        self._execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.kill_connections()

    def come_back(self) -> None:
        self._execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture
def database(private_home) -> Iterator[Database]:
    db = Database()
    db.create()
    try:
        yield db
    finally:
        db.drop()


def when_the_tool_starts(marker: Path, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` in the background as soon as the tool has noted its call in ``marker``."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + WAIT_S
        while not called_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def slow_plan(marker: Path) -> str:
    return f'1. slow_step("{marker}", 1.5)\n2. echo("after $1")\n3. join()'


def test_connections_killed_mid_run_are_replaced_and_the_metrics_are_written(make_run, database, tmp_path):
    warm = make_run('1. echo("warm")\n2. join()', store_url=database.url).execute()
    assert warm.metrics_saved is True  # the store's connection pool now holds live connections
    marker = tmp_path / "calls"
    breaker = when_the_tool_starts(marker, database.kill_connections)
    result = make_run(slow_plan(marker), store_url=database.url).execute()
    breaker.join(timeout=5)

    assert result.status == "success" and result.metrics_saved is True, result.metrics_error
    stored = get_run(result.run_id, database.url)
    assert stored.status == "success" and [t.status for t in stored.all_tasks] == ["success", "success"]


def test_a_store_gone_for_the_save_keeps_the_run_on_disk_until_flushed(make_run, database, tmp_path):
    marker = tmp_path / "calls"
    breaker = when_the_tool_starts(marker, database.go_away)
    result = make_run(slow_plan(marker), store_url=database.url).execute()
    breaker.join(timeout=5)

    assert result.status == "success"  # the run itself is not failed by its metrics
    assert result.metrics_saved is False
    assert result.metrics_error.startswith(f"could not write to the metrics store at {database.url}")
    kept = unsaved_dir() / f"{result.run_id}.json"
    assert f"the run was kept in {kept}" in result.metrics_error and kept.exists()

    database.come_back()
    report = flush_unsaved(database.url)
    assert (report.saved, report.failed) == ([result.run_id], {})
    assert not kept.exists()
    stored = get_run(result.run_id, database.url)
    assert stored.status == "success" and [t.result for t in stored.all_tasks] == [
        f"done by {called_pids(marker)[0]}", f"after done by {called_pids(marker)[0]}"]


def test_strict_mode_fails_the_run_when_its_metrics_cannot_be_saved_but_keeps_them(make_run, database, tmp_path):
    marker = tmp_path / "calls"
    breaker = when_the_tool_starts(marker, database.go_away)
    run = make_run(slow_plan(marker), store_url=database.url, store_strict=True)
    with pytest.raises(StoreError, match="^metrics were not saved: could not write to the metrics store at"):
        run.execute()
    breaker.join(timeout=5)

    assert (unsaved_dir() / f"{run.result.run_id}.json").exists()
    database.come_back()
    assert flush_unsaved(database.url).saved == [run.result.run_id]
    assert get_run(run.result.run_id, database.url).status == "success"
