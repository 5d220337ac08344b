"""Where plans run from Airflow: a Dask connection, or the embedded cluster's settings.

Connection type ``llmcompiler_dask``: host (``tcp://`` or ``tls://``, default
``tcp://``, or ``tls://`` when TLS files are given) and port (default 8786) name
the scheduler; extra holds ``tls_ca_file``, ``tls_client_cert``, ``tls_client_key``,
``require_encryption``, and the dask-cuda options ``rmm_pool_size`` and
``device_memory_limit``.

Without a connection, the embedded cluster takes the ``[llmcompiler]`` options of
Airflow's configuration (``embedded_processes``, ``embedded_workers``,
``embedded_threads_per_worker``), then the operator's ``embedded_cluster``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook, Connection

from llmcompiler_provider.execution.cluster import ClusterOptions
from llmcompiler_provider.hooks.forms import DASK_CONN_TYPE, DASK_FIELD_BEHAVIOUR, extra_value

DEFAULT_SCHEDULER_PORT = 8786
TLS_KEYS = ("tls_ca_file", "tls_client_cert", "tls_client_key")
CUDA_KEYS = ("rmm_pool_size", "device_memory_limit")


CONFIG_SECTION = "llmcompiler"
#: ``[llmcompiler]`` option -> (ClusterOptions field, type); also the keys ``embedded_cluster`` takes
EMBEDDED_OPTIONS: dict[str, tuple[str, type]] = {
    "embedded_processes": ("processes", bool),
    "embedded_workers": ("n_workers", int),
    "embedded_threads_per_worker": ("threads_per_worker", int),
}
#: the environment of worker processes started from a task process: Airflow initializes there without
#: the metadata database (which the Task SDK denies task processes), as in its own re-executed task
#: processes; otherwise the worker's re-import of the parent's ``__main__`` (the ``airflow`` command)
#: fails on the blocked database URL
TASK_PROCESS_CHILD_ENV = {"_AIRFLOW__REEXECUTED_PROCESS": "1"}


def _config_value(value: Any, kind: type, name: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} must be true or false, not {value!r}")
        return text in ("true", "1", "yes")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be 1 or more, not {number}")
    return number


def check_embedded_cluster(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``embedded_cluster`` settings as ClusterOptions fields; a clear error for an unknown key or value."""
    unknown = sorted(set(settings) - set(EMBEDDED_OPTIONS))
    if unknown:
        raise ValueError(
            f"embedded_cluster has no setting {unknown[0]!r}; it takes {', '.join(sorted(EMBEDDED_OPTIONS))}"
        )
    return {
        EMBEDDED_OPTIONS[key][0]: _config_value(value, EMBEDDED_OPTIONS[key][1], f"embedded_cluster[{key!r}]")
        for key, value in settings.items()
    }


def embedded_cluster_options(gpu_fallback: str, overrides: Mapping[str, Any] | None = None) -> ClusterOptions:
    """The embedded cluster's options: Airflow's ``[llmcompiler]`` config, then ``overrides``
    (``embedded_cluster`` settings, checked by :func:`check_embedded_cluster`)."""
    from airflow.sdk import conf

    fields: dict[str, Any] = {}
    for key, (field, kind) in EMBEDDED_OPTIONS.items():
        value = conf.get(CONFIG_SECTION, key, fallback=None)
        if value not in (None, ""):
            fields[field] = _config_value(value, kind, f"[{CONFIG_SECTION}] {key}")
    fields.update(check_embedded_cluster(overrides or {}))
    return ClusterOptions(gpu_fallback=gpu_fallback, worker_env=dict(TASK_PROCESS_CHILD_ENV), **fields)


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

    @cached_property
    def connection(self) -> Connection:
        """The connection, looked up once."""
        return self.get_connection(self.dask_conn_id)

    def get_tls_options(self) -> dict[str, Any]:
        return tls_options(self.connection)

    def get_address(self) -> str:
        return scheduler_address(self.connection, tls=bool(tls_options(self.connection)))

    def get_cluster_options(self, gpu_fallback: str = "cpu") -> ClusterOptions:
        conn = self.connection
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
