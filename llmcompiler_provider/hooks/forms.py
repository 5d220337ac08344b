"""The connection forms of this provider's connection types, as plain data.

Airflow 3.2+ reads connection form fields declaratively from the provider info
(``conn-fields`` and ``ui-field-behaviour``); the hooks' ``get_ui_field_behaviour``
returns the same data for older callers. No Airflow imports here: ``provider_info``
is read while Airflow itself is starting.
"""

from __future__ import annotations

from typing import Any

LLM_CONN_TYPE = "llmcompiler_llm"
DASK_CONN_TYPE = "llmcompiler_dask"
PYDANTIC_AI_CONN_TYPE = "pydanticai"  # common-ai's connection type, read when that provider is installed


def _field(
    label: str, kind: str, description: str, default: Any = None, secret: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


LLM_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "login", "port"],
    "relabeling": {"host": "Base URL", "password": "API key"},
    "placeholders": {
        "host": "http://127.0.0.1:8000/v1 (leave the whole connection empty for the local model)",
        "password": "sk-... (empty for servers without keys)",
        "extra": '{"model": "gpt-4o-mini", "timeout": 60, "extra_headers": {"X-Team": "data"}}',
    },
}

LLM_CONN_FIELDS: dict[str, Any] = {
    "model": _field("Model", "string", "Model name at the endpoint (for the local model: a GGUF file path)."),
    "temperature": _field("Temperature", "number", "Sampling temperature, where the backend supports it."),
    "timeout": _field("Timeout (s)", "number", "Seconds one LLM call may take.", default=60),
}

DASK_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "login", "password"],
    "relabeling": {"host": "Scheduler address", "port": "Scheduler port"},
    "placeholders": {
        "host": "tls://dask-scheduler.internal (or tcp://...)",
        "port": "8786",
        "extra": '{"tls_ca_file": "/etc/dask/ca.pem", "tls_client_cert": "/etc/dask/cert.pem", '
        '"tls_client_key": "/etc/dask/key.pem", "require_encryption": true}',
    },
}

DASK_CONN_FIELDS: dict[str, Any] = {
    "tls_ca_file": _field("TLS CA file", "string", "Path of the CA certificate that signed the scheduler's."),
    "tls_client_cert": _field("TLS client certificate", "string", "Path of this client's certificate."),
    "tls_client_key": _field("TLS client key", "string", "Path of this client's private key."),
    "require_encryption": _field(
        "Require encryption", "boolean", "Refuse unencrypted connections.", default=False
    ),
    "rmm_pool_size": _field("RMM pool size", "string", "dask-cuda: RMM pool per GPU worker, e.g. '20GB'."),
    "device_memory_limit": _field(
        "Device memory limit", "string", "dask-cuda: spill to host above this, e.g. '0.8'."
    ),
}


def as_provider_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """The kebab-case form of a field behaviour that provider info uses."""
    return {
        "hidden-fields": list(behaviour["hidden_fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour.get("placeholders", {})),
    }


def extra_value(extra: dict[str, Any], conn_type: str, name: str, default: Any = None) -> Any:
    """A connection-form field from ``extra``.

    Saved as ``name``, or as ``extra__<type>__<name>`` by older connection forms.
    """
    for key in (name, f"extra__{conn_type}__{name}"):
        value = extra.get(key)
        if value not in (None, ""):
            return value
    return default
