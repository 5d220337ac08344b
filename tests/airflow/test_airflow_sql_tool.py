"""``sql_query_toolset``: read-only SQL through the common-sql hook of a real SQLite file and the
real PostgreSQL ``test`` database, and through a whole Airflow run on Dask."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from airflow_test_support import set_connection, task_states, xcoms
from llmcompiler_provider.airflow_tools import WriteRejected, check_read_only, sql_query_toolset
from llmcompiler_provider.store import get_run

TOWERS = [("Eiffel Tower", 330), ("Statue of Liberty", 93), ("CN Tower", 553)]
WRITES = [
    "DELETE FROM towers",
    "UPDATE towers SET height_m = 0",
    "DROP TABLE towers",
    "INSERT INTO towers VALUES ('Shed', 3)",
    "SELECT 1; DELETE FROM towers",
    "WITH gone AS (DELETE FROM towers RETURNING *) SELECT * FROM gone",
    "SELECT * INTO copy_of_towers FROM towers",
    "SELECT * FROM towers FOR UPDATE",
    "EXPLAIN ANALYZE DELETE FROM towers",
    "PRAGMA query_only = OFF",
]


@pytest.fixture
def sqlite_towers(tmp_path, monkeypatch) -> str:
    path = tmp_path / "towers.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE towers (name TEXT, height_m INTEGER)")
        db.executemany("INSERT INTO towers VALUES (?, ?)", TOWERS)
    set_connection(monkeypatch, "llmcompiler_test_sqlite", conn_type="sqlite", host=str(path))
    return str(path)


def count_rows(path: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM towers").fetchone()[0]


@pytest.mark.parametrize("query", ["SELECT 1", "select * from t;", "WITH a AS (SELECT 1) SELECT * FROM a",
                                   "EXPLAIN SELECT 1", "-- why\nSELECT 'a;b' AS x"])
def test_single_read_statements_pass_the_check(query):
    assert check_read_only(query) == query.strip().rstrip(";")


@pytest.mark.parametrize("query", WRITES + ["", "   ", "VALUES (1)"])
def test_writes_and_anything_but_one_read_statement_are_rejected(query):
    with pytest.raises(WriteRejected):
        check_read_only(query)


def test_the_tool_answers_a_select_on_a_sqlite_connection(airflow_db, sqlite_towers):
    tool = sql_query_toolset("llmcompiler_test_sqlite", max_rows=2)["sql_query"]
    text = tool("SELECT name, height_m FROM towers ORDER BY height_m DESC")
    assert text.splitlines() == ["name | height_m", "CN Tower | 553", "Eiffel Tower | 330",
                                 "(only the first 2 rows are shown)"]


def test_the_tool_refuses_writes_and_leaves_the_data_alone(airflow_db, sqlite_towers):
    tool = sql_query_toolset("llmcompiler_test_sqlite")["sql_query"]
    for query in WRITES:
        with pytest.raises(WriteRejected):
            tool(query)
    assert count_rows(sqlite_towers) == len(TOWERS)


@pytest.mark.postgres
def test_the_tool_queries_postgres_inside_a_read_only_transaction(airflow_db, monkeypatch):
    from sqlalchemy import create_engine, text

    schema = f"towers_{uuid.uuid4().hex[:10]}"
    engine = create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(text(f'CREATE SCHEMA "{schema}"'))
        db.execute(text(f'CREATE TABLE "{schema}".towers (name text, height_m int)'))
        db.execute(text(f'CREATE SEQUENCE "{schema}".ticket'))
        for name, height in TOWERS:
            db.execute(text(f'INSERT INTO "{schema}".towers VALUES (:n, :h)'), {"n": name, "h": height})
    try:
        set_connection(monkeypatch, "llmcompiler_test_postgres", conn_type="postgres", host="127.0.0.1",
                       port=5432, login="postgres", schema="test")
        tool = sql_query_toolset("llmcompiler_test_postgres")["sql_query"]
        answer = tool(f'SELECT count(*) AS towers, max(height_m) AS tallest FROM "{schema}".towers')
        assert answer.splitlines() == ["towers | tallest", "3 | 553", "(1 row)"]
        # nextval() passes the parser but writes: the read-only transaction stops it
        with pytest.raises(Exception, match="read-only transaction"):
            tool(f"SELECT nextval('\"{schema}\".ticket')")
        for query in WRITES[:4]:
            with pytest.raises(WriteRejected):
                tool(query.replace("towers", f'"{schema}".towers'))
        with engine.connect() as db:
            assert db.execute(text(f'SELECT count(*) FROM "{schema}".towers')).scalar() == len(TOWERS)
    finally:
        with engine.connect() as db:
            db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.mark.slow
def test_a_plan_queries_the_connection_from_dask_workers_in_an_airflow_run(run_dag, sqlite_towers):
    dag_run = run_dag("llmcompiler_test_sql")
    assert task_states(dag_run) == {("query", -1): "success"}
    stored = get_run(xcoms(dag_run, "query")["run_id"])
    [task] = stored.all_tasks
    assert task.tool == "sql_query" and task.worker.startswith("tcp://")
    assert task.result.splitlines() == ["name | height_m", "CN Tower | 553", "Eiffel Tower | 330",
                                           "Statue of Liberty | 93", "(3 rows)"]
