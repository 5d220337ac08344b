"""The metrics store's location from Airflow: any connection, or a literal SQLAlchemy URL.

``store_conn_id`` may name an Airflow connection (postgres, sqlite, mysql, or any
whose URI SQLAlchemy understands) or be a SQLAlchemy URL itself; None means the
default store (``$LLMCOMPILER_STORE_URL``, else SQLite in ``$AIRFLOW_HOME``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Connection
from sqlalchemy.engine import URL, make_url

from llmcompiler_provider.hooks.llm import mask
from llmcompiler_provider.store import resolve_store_url

#: Airflow connection types -> SQLAlchemy drivers
DRIVERS = {
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+mysqldb",
}
#: connection extra keys passed to PostgreSQL as URL query parameters (libpq settings)
POSTGRES_QUERY_KEYS = frozenset({
    "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "application_name", "connect_timeout",
    "options", "target_session_attrs", "keepalives", "keepalives_idle",
})


def is_literal_url(value: str) -> bool:
    return "://" in value or value.startswith("sqlite:")


def url_from_connection(conn: Connection) -> str:
    """A SQLAlchemy URL for an Airflow connection (its password is masked in logs)."""
    conn_type = (conn.conn_type or "").lower().replace("-", "_")
    mask(conn.password)
    if conn_type == "sqlite":
        if not conn.host:
            raise ValueError(
                f"SQLite connection {conn.conn_id!r} has no host: set it to the database file's path"
            )
        return f"sqlite:///{conn.host}"
    driver = DRIVERS.get(conn_type)
    if driver is None:
        uri = conn.get_uri()
        make_url(uri)  # an unknown dialect fails here, with SQLAlchemy's message
        return uri
    extra = conn.extra_dejson
    query = {}
    if driver.startswith("postgresql"):
        query = {k: str(v) for k, v in extra.items() if k in POSTGRES_QUERY_KEYS}
    url = URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
        query=query,
    )
    return url.render_as_string(hide_password=False)


class MetricsStoreHook(BaseHook):
    """Resolves ``store_conn_id`` to the store's SQLAlchemy URL."""

    conn_name_attr = "store_conn_id"
    default_conn_name = None
    hook_name = "LLMCompiler metrics store"

    def __init__(self, store_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store_conn_id = store_conn_id

    def get_url(self) -> str:
        if not self.store_conn_id:
            return resolve_store_url(None)
        if is_literal_url(self.store_conn_id):
            _mask_url_password(self.store_conn_id)
            return self.store_conn_id
        return url_from_connection(self.get_connection(self.store_conn_id))

    def get_conn(self) -> Any:
        """The store's SQLAlchemy engine (schema upgraded on first use)."""
        from llmcompiler_provider.store import get_engine

        return get_engine(self.get_url())


def _mask_url_password(url: str) -> None:
    try:
        mask(make_url(url).password)
    except Exception:  # not a parsable URL: nothing that looks like a password to hide
        return
