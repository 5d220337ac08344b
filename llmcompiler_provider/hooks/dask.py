"""The Dask connection: an existing scheduler's address, TLS options, dask-cuda options.

Connection type ``llmcompiler_dask``: host (``tcp://`` or ``tls://``, default
``tcp://``, or ``tls://`` when TLS files are given) and port (default 8786) name
the scheduler; extra holds ``tls_ca_file``, ``tls_client_cert``, ``tls_client_key``,
``require_encryption``, and the dask-cuda options ``rmm_pool_size`` and
``device_memory_limit``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Connection

from llmcompiler_provider.execution.cluster import ClusterOptions
from llmcompiler_provider.hooks.forms import DASK_CONN_TYPE, DASK_FIELD_BEHAVIOUR, extra_value

DEFAULT_SCHEDULER_PORT = 8786
TLS_KEYS = ("tls_ca_file", "tls_client_cert", "tls_client_key")
CUDA_KEYS = ("rmm_pool_size", "device_memory_limit")


def scheduler_address(conn: Connection, tls: bool) -> str:
    """``scheme://host:port`` from the connection's host and port."""
    host = (conn.host or "").strip()
    if not host:
        raise ValueError(f"Dask connection {conn.conn_id!r} has no host: set it to the scheduler's address")
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = ("tls" if tls else "tcp"), host
    if scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss"):
        raise ValueError(
            f"Dask connection {conn.conn_id!r}: unsupported scheme {scheme!r} (use tcp:// or tls://)"
        )
    rest = rest.rstrip("/")
    if ":" not in rest.rsplit("]", 1)[-1]:
        rest = f"{rest}:{conn.port or DEFAULT_SCHEDULER_PORT}"
    return f"{scheme}://{rest}"


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def tls_options(conn: Connection) -> dict[str, Any]:
    """The TLS settings in the connection's extra (file paths and a flag; no secrets)."""
    extra = conn.extra_dejson
    options: dict[str, Any] = {key: extra_value(extra, DASK_CONN_TYPE, key) for key in TLS_KEYS}
    options = {k: v for k, v in options.items() if v}
    if _as_bool(extra_value(extra, DASK_CONN_TYPE, "require_encryption", False)):
        options["require_encryption"] = True
    return options


def make_security(options: dict[str, Any]) -> Any:
    """A ``distributed.Security`` for these TLS options (None without any)."""
    if not options:
        return None
    from distributed.security import Security

    return Security(**options)


class DaskHook(BaseHook):
    """Where plans run when the operator is given a ``dask_conn_id``."""

    conn_name_attr = "dask_conn_id"
    default_conn_name = "llmcompiler_dask_default"
    conn_type = DASK_CONN_TYPE
    hook_name = "LLMCompiler Dask scheduler"

    def __init__(self, dask_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dask_conn_id = dask_conn_id

    def get_tls_options(self) -> dict[str, Any]:
        return tls_options(self.get_connection(self.dask_conn_id))

    def get_address(self) -> str:
        conn = self.get_connection(self.dask_conn_id)
        return scheduler_address(conn, tls=bool(tls_options(conn)))

    def get_cluster_options(self, gpu_fallback: str = "cpu") -> ClusterOptions:
        conn = self.get_connection(self.dask_conn_id)
        tls = tls_options(conn)
        extra = conn.extra_dejson
        cuda = {key: extra_value(extra, DASK_CONN_TYPE, key) for key in CUDA_KEYS}
        return ClusterOptions(
            address=scheduler_address(conn, tls=bool(tls)),
            security=make_security(tls),
            gpu_fallback=gpu_fallback,
            rmm_pool_size=cuda["rmm_pool_size"],
            device_memory_limit=cuda["device_memory_limit"],
        )

    def get_conn(self) -> Any:
        """A connected ``distributed.Client`` (close it when done)."""
        from distributed import Client

        options = self.get_cluster_options()
        return Client(options.address, security=options.security, timeout="10s")

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
        except Exception as exc:
            return False, f"cannot reach the Dask scheduler: {exc}"
        try:
            workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        finally:
            client.close()
        return True, f"connected; the scheduler has {workers} worker(s)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return DASK_FIELD_BEHAVIOUR
