"""The tool result cache in the metrics store (``store.get_cached_result``, ``put_cached_result``),
as the ``ResultCache`` a run's dispatchers use (``execution/result_cache.py``)."""

from __future__ import annotations

import logging
from typing import Any

from llmcompiler_provider.execution.result_cache import ResultCache
from llmcompiler_provider.store.location import NO_STORE, display_url, resolve_store_url
from llmcompiler_provider.tools.registry import Toolset

log = logging.getLogger(__name__)


class StoreResultCache:
    """Tool results kept in the metrics store at ``store_url`` (None: the default store), shared by
    every run, batch and process that uses that store. A store that cannot be read or written is
    a miss, logged, never a failed call; a result JSON cannot hold is not kept."""

    def __init__(self, store_url: str | None = None) -> None:
        self.store_url = store_url

    def get(self, key: str) -> tuple[bool, Any]:
        from llmcompiler_provider.store import get_cached_result

        try:
            return get_cached_result(key, self.store_url)
        except Exception as exc:  # the cache is an optimization: the call runs instead
            log.warning("the tool result cache at %s could not be read (%s): the call runs",
                        self._where(), _error_text(exc))
            return False, None

    def put(self, key: str, tool: str, value: Any, ttl_s: float) -> None:
        from llmcompiler_provider.store import put_cached_result

        try:
            put_cached_result(key, tool, value, ttl_s, self.store_url)
        except TypeError as exc:  # not JSON: this result is not kept
            log.info("%s", exc)
        except Exception as exc:
            log.warning("a result of tool %r could not be kept in the tool result cache at %s (%s)",
                        tool, self._where(), _error_text(exc))

    def _where(self) -> str:
        return display_url(resolve_store_url(self.store_url))

    def __repr__(self) -> str:
        return f"StoreResultCache({self._where()!r})"


def result_cache_for(
    toolset: Toolset, given: ResultCache | None, store_url: str | None
) -> ResultCache | None:
    """The result cache of a run: ``given``, else the store's (``StoreResultCache``) when some tool of
    ``toolset`` has a ``cache_ttl`` and a store is configured (``store_url`` is not ``NO_STORE``)."""
    if given is not None:
        return given
    if not any(tool.signature.cache_ttl is not None for tool in toolset):
        return None
    if store_url is not None and store_url.lower() == NO_STORE:
        return None
    return StoreResultCache(store_url)


def _error_text(exc: BaseException) -> str:
    """The exception's type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
