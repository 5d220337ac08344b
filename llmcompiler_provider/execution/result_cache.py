"""The tool result cache as the dispatcher sees it: results of the tools that opted in with
``cache_ttl=`` (``Toolset.tool``), reused across runs, batches and days until they expire.

Before dispatching such a call whose arguments are all literals, the dispatcher asks the run's
``ResultCache`` (``RunConfig.result_cache``; by default the metrics store's table, through
``agent.result_cache.StoreResultCache``): a hit is the task's result at once, with no Dask task
(its record has ``source="cache"``); a miss runs, and its result is put once it succeeded.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol, runtime_checkable

from llmcompiler_provider.plan.ir import Task, call_key


@runtime_checkable
class ResultCache(Protocol):
    """Where tool results are kept for ``cache_ttl`` seconds. Implementations are thread-safe (the
    runs of a batch share one) and do not raise: a cache that cannot be read answers a miss."""

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, value) when ``key`` is kept and not expired, else (False, None)."""

    def put(self, key: str, tool: str, value: Any, ttl_s: float) -> None:
        """Keep ``value``, a result of ``tool``, under ``key`` for ``ttl_s`` seconds."""


def cache_key(toolset: str, task: Task) -> str:
    """The key of ``task``'s call in a result cache: a SHA-256 hex digest of the toolset's name, the
    tool's name and the arguments (``plan.ir.call_key``: equal exactly for the same call), the same
    in every process."""
    identity = repr((toolset, call_key(task)))
    return hashlib.sha256(identity.encode()).hexdigest()
