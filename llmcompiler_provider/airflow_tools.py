"""Airflow Tools: tools made from Airflow connections, so plans can use the data Airflow reaches.

``sql_query_toolset(conn_id)`` offers one tool, ``sql_query(query)``, that runs a
read-only query through the connection's common-sql hook (``DbApiHook``) and
returns the rows as a text table. Writes are refused twice over: the query must
parse (sqlparse) as a single ``SELECT``, ``WITH ... SELECT`` or ``EXPLAIN`` of one,
with no data-changing keyword anywhere; and it runs in a read-only transaction
where the database has one (PostgreSQL, MySQL; ``PRAGMA query_only`` on SQLite),
which is always rolled back.

>>> from llmcompiler_provider.airflow_tools import sql_query_toolset
>>> warehouse = sql_query_toolset("warehouse_db", max_rows=50)   # doctest: +SKIP
>>> LLMCompilerOperator(task_id="ask", prompt="...", toolset=warehouse)  # doctest: +SKIP

The connection is looked up when the task runs (``resolve_connection``, called by
the operator), not when the DAG file is parsed; Dask workers then use that
connection without needing access to Airflow's metadata database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlparse
from sqlparse import tokens as T

from llmcompiler_provider.results import preview
from llmcompiler_provider.tools.registry import Toolset

READ_STATEMENT_STARTS = frozenset({"SELECT", "WITH", "EXPLAIN"})
WRITE_KEYWORDS = frozenset({"INTO", "LOCK", "COPY", "CALL", "GRANT", "REVOKE", "VACUUM", "ATTACH", "DETACH",
                            "PRAGMA", "SET", "RESET", "EXECUTE", "DO"})
CELL_CHARS = 200


class WriteRejected(ValueError):
    """The query is not a single read-only statement."""


def _meaningful(statement: sqlparse.sql.Statement) -> list[Any]:
    return [t for t in statement.flatten() if not t.is_whitespace and t.ttype not in T.Comment
            and t.ttype not in T.Punctuation]


def check_read_only(sql: str) -> str:
    """``sql`` as one read-only statement (without a trailing ``;``), or ``WriteRejected`` saying why."""
    statements = [s for s in sqlparse.parse(sql or "") if _meaningful(s)]
    if not statements:
        raise WriteRejected("the query is empty")
    if len(statements) > 1:
        raise WriteRejected(f"only one statement may run at a time, not {len(statements)}")
    statement = statements[0]
    tokens = _meaningful(statement)
    first = tokens[0].normalized.upper()
    if tokens[0].ttype not in T.Keyword or first not in READ_STATEMENT_STARTS:
        raise WriteRejected(
            f"only SELECT, WITH and EXPLAIN queries may run, not one starting with {tokens[0].value!r}"
        )
    for token in tokens:
        word = token.normalized.upper()
        if (token.ttype in T.Keyword.DML and word != "SELECT") or token.ttype in T.Keyword.DDL or (
            token.ttype in T.Keyword and word in WRITE_KEYWORDS
        ):
            raise WriteRejected(f"the query is read-only: {word} is not allowed")
    return str(statement).strip().rstrip(";").strip()


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    return preview(text.replace("\n", " "), CELL_CHARS)


def format_rows(columns: list[str], rows: list[Any], max_rows: int) -> str:
    """A text table of at most ``max_rows`` rows, saying when rows were left out."""
    shown = rows[:max_rows]
    lines = [" | ".join(columns)]
    for row in shown:
        values = [row[c] for c in columns] if isinstance(row, dict) else list(row)
        lines.append(" | ".join(_cell(v) for v in values))
    if len(rows) > max_rows:
        lines.append(f"(only the first {max_rows} rows are shown)")
    else:
        lines.append(f"({len(shown)} row{'s' if len(shown) != 1 else ''})")
    return "\n".join(lines)


def _begin_read_only(dialect: str, cursor: Any, timeout_s: float | None) -> None:
    """Start a read-only transaction on databases that have them."""
    if dialect in ("postgres", "postgresql"):
        cursor.execute("SET TRANSACTION READ ONLY")
        if timeout_s:
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
    elif dialect == "sqlite":
        cursor.execute("PRAGMA query_only = ON")
    elif dialect in ("mysql", "mariadb"):
        cursor.execute("START TRANSACTION READ ONLY")


@dataclass
class ReadOnlySQLQuery:
    """The ``sql_query`` tool: one read-only query through an Airflow connection's SQL hook."""

    conn_id: str
    max_rows: int = 100
    timeout_s: float | None = 30.0
    connection: Any = field(default=None, repr=False)  # the resolved airflow.sdk.Connection (with password)

    def resolve_connection(self) -> None:
        """Look the connection up now (in the Airflow task), so Dask workers need not."""
        from airflow.sdk import BaseHook

        self.connection = BaseHook.get_connection(self.conn_id)

    @contextmanager
    def _hook(self) -> Iterator[Any]:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        if self.connection is None:
            self.resolve_connection()
        preset = None
        try:
            from airflow.sdk.execution_time.context import _preset_connections

            known = {**(_preset_connections.get() or {}), self.conn_id: self.connection}
            preset = _preset_connections.set(known)
        except ImportError:  # another Airflow version: hooks look the connection up themselves
            pass
        try:
            hook = self.connection.get_hook()
            if not isinstance(hook, DbApiHook):
                raise TypeError(
                    f"connection {self.conn_id!r} (type {self.connection.conn_type!r}) has no SQL hook: "
                    "sql_query_toolset needs a database connection"
                )
            yield hook
        finally:
            if preset is not None:
                from airflow.sdk.execution_time.context import _preset_connections

                _preset_connections.reset(preset)

    def __call__(self, query: str) -> str:
        sql = check_read_only(query)
        with self._hook() as hook:
            dialect = (getattr(hook, "conn_type", None) or self.connection.conn_type or "").lower()
            conn = hook.get_conn()
            try:
                cursor = conn.cursor()
                try:
                    _begin_read_only(dialect, cursor, self.timeout_s)
                    cursor.execute(sql)
                    columns = [d[0] for d in cursor.description or []]
                    rows = cursor.fetchmany(self.max_rows + 1) if columns else []
                finally:
                    cursor.close()
            finally:
                conn.rollback()
                conn.close()
        return format_rows(columns, list(rows), self.max_rows) if columns else "(the query returned no rows)"


def sql_query_toolset(
    conn_id: str,
    *,
    max_rows: int = 100,
    timeout_s: float | None = 30.0,
    tool_name: str = "sql_query",
    description: str | None = None,
) -> Toolset:
    """A toolset with one tool, ``sql_query(query)``: a read-only SQL query on connection ``conn_id``.

    ``max_rows`` caps the rows returned to the plan; ``timeout_s`` bounds a query on
    PostgreSQL; ``description`` tells the planner about the database (its tables, say).
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    tool = ReadOnlySQLQuery(conn_id, max_rows=max_rows, timeout_s=timeout_s)
    about = description or f"the database of Airflow connection {conn_id!r}"
    toolset = Toolset(f"sql:{conn_id}", f"Read-only SQL queries on {about}.")
    toolset.add(
        tool,
        name=tool_name,
        description=(
            f"Run one read-only SQL query (SELECT, WITH or EXPLAIN) on {about} and return "
            f"at most {max_rows} rows as a text table."
        ),
        cost=0.5,
        # the driver blocks a thread while the database answers: independent queries are grouped
        # into one Dask task and wait side by side
        blocking_io=True,
    )
    return toolset


def resolve_connections(toolset: Toolset) -> None:
    """Look up now the Airflow connections of the toolset's Airflow Tools (called by the operator)."""
    for tool in toolset:
        resolve = getattr(tool.fn, "resolve_connection", None)
        if callable(resolve):
            resolve()
