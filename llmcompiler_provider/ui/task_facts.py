"""Small facts about a stored task (``store.get_run``'s ``tasks``) that several pictures and tables show."""

from __future__ import annotations

from typing import Any

from llmcompiler_provider.metrics import GPU_RESOURCE


def uses_gpu(task: dict[str, Any]) -> bool:
    return float((task.get("resources") or {}).get(GPU_RESOURCE, 0) or 0) > 0


def worker_name(address: str | None) -> str:
    """``10.0.0.11:40101`` for ``tcp://10.0.0.11:40101``."""
    if not address:
        return "unknown worker"
    return address.split("://", 1)[-1]


def arguments_text(task: dict[str, Any]) -> str:
    """The call's arguments as written in Python: ``'a', 2, key='v'`` (or the store's truncated preview)."""
    arguments = task.get("arguments") or {}
    if arguments.get("truncated"):
        return str(arguments.get("preview") or "")
    positional = [repr(a) for a in arguments.get("args") or []]
    named = [f"{k}={v!r}" for k, v in (arguments.get("kwargs") or {}).items()]
    return ", ".join(positional + named)
