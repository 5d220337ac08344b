"""The Airflow SQL tool (``sql_query_toolset``) is read-only, against the real PostgreSQL ``test``
database: every write, however it is dressed up, is refused and the table stays as it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.store import get_run

pytestmark = pytest.mark.postgres

POSTGRES_TEST_DATABASE = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
PROGRAM_MARKER = Path(f"/tmp/llmcompiler-sql-program-{uuid.uuid4().hex[:8]}")


@dataclass
class Warehouse:
    schema: str
    tool: object  # the sql_query tool (a ReadOnlySQLQuery)
    toolset: object

    def fingerprint(self) -> tuple:
        """The table's rows, the sequence's position and the schema's tables and functions."""
        engine = create_engine(POSTGRES_TEST_DATABASE)
        try:
            with engine.connect() as connection:
                rows = connection.execute(text(f"SELECT name, height_m FROM {self.schema}.towers ORDER BY name")).all()
                sequence = connection.execute(text(f"SELECT last_value, is_called FROM {self.schema}.ticket")).one()
                objects = connection.execute(text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema ORDER BY 1"), {"schema": self.schema}).scalars().all()
                large_objects = connection.execute(text("SELECT count(*) FROM pg_largeobject_metadata")).scalar()
        finally:
            engine.dispose()
        return tuple(map(tuple, rows)), tuple(sequence), tuple(objects), large_objects


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    pytest.importorskip("airflow.providers.postgres", reason="the postgres Airflow provider is not installed")
    from airflow.sdk import Connection

    from llmcompiler_provider.airflow_tools import sql_query_toolset

    schema = f"llmc_sql_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_TEST_DATABASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for statement in (
            f"CREATE SCHEMA {schema}",
            f"CREATE TABLE {schema}.towers (name text PRIMARY KEY, height_m int)",
            f"INSERT INTO {schema}.towers VALUES ('Eiffel Tower', 330), ('Big Ben', 96), ('CN Tower', 553)",
            f"CREATE SEQUENCE {schema}.ticket",
            f"CREATE FUNCTION {schema}.purge() RETURNS int LANGUAGE sql AS "
            f"'DELETE FROM {schema}.towers RETURNING 1'",
            f"CREATE PROCEDURE {schema}.wipe() LANGUAGE sql AS 'DELETE FROM {schema}.towers'",
        ):
            connection.execute(text(statement))
    toolset = sql_query_toolset("security_warehouse", max_rows=10)
    tool = toolset["sql_query"].fn
    tool.connection = Connection(conn_id="security_warehouse", conn_type="postgres", host="127.0.0.1", port=5432,
                                 login="postgres", schema="test")
    try:
        yield Warehouse(schema, tool, toolset)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


WRITES = {
    "delete": "DELETE FROM {s}.towers",
    "lowercase-update": "update {s}.towers set height_m = 0",
    "insert": "INSERT INTO {s}.towers VALUES ('evil', 1)",
    "drop": "DROP TABLE {s}.towers",
    "truncate": "TRUNCATE {s}.towers",
    "alter": "ALTER TABLE {s}.towers ADD COLUMN owned int",
    "create": "CREATE TABLE {s}.evil (x int)",
    "select-then-drop": "SELECT 1; DROP TABLE {s}.towers",
    "select-then-delete-no-space": "SELECT 1;DELETE FROM {s}.towers",
    "semicolon-in-a-block-comment": "SELECT 1 /* ; */; DELETE FROM {s}.towers",
    "line-comment-then-delete": "SELECT 1 -- just a comment\n; DELETE FROM {s}.towers",
    "commit-then-delete": "COMMIT; DELETE FROM {s}.towers",
    "begin-delete-commit": "BEGIN; DELETE FROM {s}.towers; COMMIT",
    "cte-delete": "WITH gone AS (DELETE FROM {s}.towers RETURNING *) SELECT * FROM gone",
    "cte-update": "WITH changed AS (UPDATE {s}.towers SET height_m = 0 RETURNING *) SELECT count(*) FROM changed",
    "cte-insert": "WITH added AS (INSERT INTO {s}.towers VALUES ('x', 1) RETURNING *) SELECT * FROM added",
    "select-into": "SELECT * INTO {s}.copied FROM {s}.towers",
    "explain-analyze-delete": "EXPLAIN ANALYZE DELETE FROM {s}.towers",
    "function-that-deletes": "SELECT {s}.purge()",
    "procedure-call": "CALL {s}.wipe()",
    "sequence-nextval": "SELECT nextval('{s}.ticket')",
    "sequence-setval": "SELECT setval('{s}.ticket', 1000)",
    "copy-from-program": "COPY {s}.towers FROM PROGRAM 'touch " + str(PROGRAM_MARKER) + "'",
    "copy-to-file": "COPY {s}.towers TO '/tmp/llmcompiler-copied.csv'",
    "do-block": "DO $$ BEGIN DELETE FROM {s}.towers; END $$",
    "dollar-quoted-semicolon": "SELECT $$;$$; DELETE FROM {s}.towers",
    "escaped-quote-string": "SELECT E'\\''; DELETE FROM {s}.towers; --'",
    "lock": "LOCK TABLE {s}.towers",
    "vacuum": "VACUUM {s}.towers",
    "grant": "GRANT ALL ON {s}.towers TO PUBLIC",
    "set-read-write": "SET TRANSACTION READ WRITE",
    "select-for-update": "SELECT * FROM {s}.towers FOR UPDATE",
    "prepare": "PREPARE wipe AS DELETE FROM {s}.towers",
    "empty": "   ;  -- nothing",
}


@pytest.mark.parametrize("query", WRITES.values(), ids=WRITES.keys())
def test_a_write_is_refused_and_the_table_is_unchanged(query, warehouse):
    before = warehouse.fingerprint()
    with pytest.raises(Exception) as refused:
        warehouse.tool(query.format(s=warehouse.schema))
    assert str(refused.value).strip(), "the refusal says why"
    assert warehouse.fingerprint() == before
    assert not PROGRAM_MARKER.exists()


# PostgreSQL lets these run inside a READ ONLY transaction; the tool always rolls back, so they
# leave nothing behind. (lo_import also reads a server file: give the connection a role without
# superuser rights.)
ROLLED_BACK = {
    "large-object-import": "SELECT lo_import('/etc/hostname')",
    "large-object-create": "SELECT lo_create(0)",
}


@pytest.mark.parametrize("query", ROLLED_BACK.values(), ids=ROLLED_BACK.keys())
def test_what_a_read_only_transaction_allows_is_rolled_back(query, warehouse):
    before = warehouse.fingerprint()
    warehouse.tool(query.format(s=warehouse.schema))
    assert warehouse.fingerprint() == before


READS = {
    "select": ("SELECT name, height_m FROM {s}.towers ORDER BY height_m DESC", "CN Tower | 553"),
    "keyword-in-a-string": ("SELECT 'DELETE FROM towers; DROP TABLE x' AS said", "DELETE FROM towers; DROP TABLE x"),
    "with-select": ("WITH tall AS (SELECT * FROM {s}.towers WHERE height_m > 300) SELECT count(*) FROM tall", "2"),
    "explain": ("EXPLAIN SELECT * FROM {s}.towers", "Seq Scan"),
    "trailing-semicolon": ("SELECT count(*) AS n FROM {s}.towers;", "3"),
}


@pytest.mark.parametrize(("query", "expected"), READS.values(), ids=READS.keys())
def test_read_only_queries_run(query, expected, warehouse):
    before = warehouse.fingerprint()
    assert expected in warehouse.tool(query.format(s=warehouse.schema))
    assert warehouse.fingerprint() == before


def test_a_plan_that_asks_for_a_write_gets_an_error_observation_and_reads_still_run(
    warehouse, threaded_cluster, sqlite_url
):
    client, info = threaded_cluster
    s = warehouse.schema
    plan = (f'1. sql_query("DELETE FROM {s}.towers")\n'
            f'2. sql_query("SELECT 1; DROP TABLE {s}.towers")\n'
            f'3. sql_query("SELECT count(*) AS n FROM {s}.towers")\n4. join()')
    before = warehouse.fingerprint()
    config = RunConfig(toolset=warehouse.toolset, store_url=sqlite_url, max_replans=0)
    result = LLMCompilerRun(plan=plan, config=config, client=client, cluster_info=info).execute()

    tasks = {t.id: t for t in get_run(result.run_id, sqlite_url).all_tasks}
    assert (tasks[1].status, tasks[1].error) == (
        "failed", "WriteRejected: only SELECT, WITH and EXPLAIN queries may run, not one starting with 'DELETE'")
    assert (tasks[2].status, tasks[2].error) == (
        "failed", "WriteRejected: only one statement may run at a time, not 2")
    assert tasks[3].status == "success" and "3" in tasks[3].result
    assert warehouse.fingerprint() == before
