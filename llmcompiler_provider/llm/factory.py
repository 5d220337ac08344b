"""``make_chat_model``: one entry point for every backend."""

from __future__ import annotations

from typing import Any

from llmcompiler_provider.llm.base import ChatModel

KINDS = ("local", "openai")


def make_chat_model(
    kind: str = "local",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    **options: Any,
) -> ChatModel:
    """A chat model of ``kind``: ``local`` (the embedded default) or ``openai`` (any OpenAI-compatible endpoint).

    ``local``: ``model`` is a GGUF path (default: the packaged SmolLM2); options are
    ``n_ctx``, ``n_threads``, ``seed``; the loaded model is shared by the process.
    ``openai``: ``model`` is required; options are those of ``OpenAIChatModel`` (timeouts,
    retries, and the endpoint's admission limits ``max_concurrent_requests``,
    ``requests_per_minute``, ``tokens_per_minute``, shared by every model of the endpoint).
    """
    if kind == "local":
        if base_url is not None or api_key is not None:
            raise ValueError("the local model takes no base URL or API key: use kind='openai' for an endpoint")
        from llmcompiler_provider.llm.local import get_local_model

        return get_local_model(model, **options)
    if kind == "openai":
        if not model:
            raise ValueError("an OpenAI-compatible backend needs a model name (--model)")
        from llmcompiler_provider.llm.openai_compat import OpenAIChatModel

        return OpenAIChatModel(base_url, api_key, model, **options)
    raise ValueError(f"unknown LLM kind {kind!r}: use one of {', '.join(KINDS)}")
