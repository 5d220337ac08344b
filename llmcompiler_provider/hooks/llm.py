"""The LLM connection: an OpenAI-compatible endpoint, or the embedded local model.

Connection type ``llmcompiler_llm``: host = base URL, password = API key, extra =
``{"model": ..., "timeout": ..., "extra_headers": {...}, ...}``. A connection with
no host and no password (or no connection at all) is the local model; its
``model``, if given, is a GGUF file path. common-ai's ``pydanticai`` connections
are read the same way (their ``provider:model`` names lose the provider prefix).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Connection

from llmcompiler_provider.hooks.forms import (
    LLM_CONN_TYPE,
    LLM_FIELD_BEHAVIOUR,
    PYDANTIC_AI_CONN_TYPE,
    extra_value,
)
from llmcompiler_provider.llm.prices import Prices
from llmcompiler_provider.llm.settings import LOCAL, OPENAI, LLMSettings, openai_option_names

MODEL_KEY = "model"
PRICES_KEY = "prices"  # per-model token prices, for batches' costs and max_cost
#: pydantic-ai provider prefixes that mean the OpenAI API itself when no host is given
OPENAI_PREFIXES = frozenset({"openai", "openai-chat", "openai-responses"})


def mask(secret: str | None) -> None:
    """Have Airflow redact ``secret`` from every log line and rendered field."""
    if secret:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)


def _base_url(conn: Connection) -> str | None:
    host = (conn.host or "").strip()
    if not host:
        return None
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    path = f"/{conn.schema}" if conn.schema else ""
    return f"http://{host}{port}{path}"


def _pydantic_ai_model(conn: Connection, model: str | None, base_url: str | None) -> str | None:
    """``provider:name`` -> ``name``; only OpenAI-compatible providers can be used."""
    if not model or ":" not in model:
        return model
    provider, _, name = model.partition(":")
    if base_url is None and provider not in OPENAI_PREFIXES:
        raise ValueError(
            f"connection {conn.conn_id!r}: model {model!r} is not OpenAI-compatible; "
            "set the connection's host to an OpenAI-compatible endpoint that serves it"
        )
    return name


def _options(conn_type: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Options of the OpenAI-compatible backend found in a connection's ``extra``."""
    options = {}
    for name in sorted(openai_option_names()):
        value = extra_value(extra, conn_type, name)
        if value is not None:
            options[name] = float(value) if name.endswith("timeout") else value
    return options


def ignored_extra_keys(conn_type: str, extra: dict[str, Any]) -> list[str]:
    """Keys of ``extra`` that are neither the model nor a backend option."""
    known = openai_option_names() | {MODEL_KEY, PRICES_KEY}
    return sorted(
        key for key in extra
        if key.removeprefix(f"extra__{conn_type}__") not in known and extra[key] not in (None, "")
    )


def prices_from_extra(extra: dict[str, Any], model: str | None) -> Prices | None:
    """The model's prices from ``{"prices": {"MODEL": {"input_per_million": ..., "output_per_million": ...}}}``
    (or one ``{"input_per_million": ..., "output_per_million": ...}`` for every model)."""
    table = extra.get(PRICES_KEY)
    if not table:
        return None
    if not isinstance(table, dict):
        raise ValueError(f"the connection's 'prices' must be an object, not {type(table).__name__}")
    entry = table if "input_per_million" in table or "output_per_million" in table else table.get(model or "")
    if entry is None:
        return None
    try:
        return Prices(float(entry.get("input_per_million", 0)), float(entry.get("output_per_million", 0)))
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"the connection's prices of {model!r} must be numbers per million tokens, "
                         f"not {entry!r}") from None


def settings_from_connection(conn: Connection, model: str | None = None) -> LLMSettings:
    """Read an ``llmcompiler_llm`` (or ``pydanticai``) connection; ``model`` overrides its model."""
    extra = conn.extra_dejson
    conn_type = conn.conn_type or LLM_CONN_TYPE
    base_url = _base_url(conn)
    api_key = conn.password or None
    mask(api_key)
    chosen = model or extra_value(extra, conn_type, MODEL_KEY)
    if conn_type == PYDANTIC_AI_CONN_TYPE and not model:
        chosen = _pydantic_ai_model(conn, chosen, base_url)
    if base_url is None and api_key is None and conn_type != PYDANTIC_AI_CONN_TYPE:
        return LLMSettings(kind=LOCAL, model=chosen)
    if not chosen:
        raise ValueError(
            f"connection {conn.conn_id!r} names an endpoint but no model: "
            'set {"model": "..."} in its extra, or the operator\'s model argument'
        )
    return LLMSettings(kind=OPENAI, model=chosen, base_url=base_url, api_key=api_key,
                       options=_options(conn_type, extra))


class LLMCompilerLLMHook(BaseHook):
    """The planner's and joiner's chat model, from an Airflow connection (none: the local model)."""

    conn_name_attr = "llm_conn_id"
    default_conn_name = "llmcompiler_llm_default"
    conn_type = LLM_CONN_TYPE
    hook_name = "LLMCompiler LLM"

    def __init__(self, llm_conn_id: str | None = None, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llm_conn_id = llm_conn_id
        self.model = model

    def get_settings(self) -> LLMSettings:
        if not self.llm_conn_id:
            return LLMSettings(kind=LOCAL, model=self.model)
        conn = self.get_connection(self.llm_conn_id)
        settings = settings_from_connection(conn, self.model)
        ignored = ignored_extra_keys(conn.conn_type or LLM_CONN_TYPE, conn.extra_dejson)
        if ignored:
            self.log.warning("LLM connection %r: ignoring extra keys %s (not options of this backend)",
                             self.llm_conn_id, ", ".join(ignored))
        return settings

    def get_prices(self, model: str | None) -> Prices | None:
        """What ``model``'s tokens cost, from the connection's extra (None: no prices given)."""
        if not self.llm_conn_id:
            return None
        return prices_from_extra(self.get_connection(self.llm_conn_id).extra_dejson, model)

    def get_conn(self) -> Any:
        """The chat model (``llmcompiler_provider.llm.ChatModel``)."""
        return self.get_settings().make()

    def test_connection(self) -> tuple[bool, str]:
        try:
            settings = self.get_settings()
        except Exception as exc:  # the form's "Test" button shows the reason
            return False, str(exc)
        if settings.kind == LOCAL:
            return True, "the connection uses the local model"
        try:
            settings.make().complete([{"role": "user", "content": "Say OK."}], max_tokens=2)
        except Exception as exc:
            return False, f"{settings.describe()} did not answer: {exc}"
        return True, f"{settings.describe()} answered"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return LLM_FIELD_BEHAVIOUR
