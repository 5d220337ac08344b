"""The tool result cache: results of the tools that opted in (``cache_ttl=``), kept until they expire.

Keys name a tool and its arguments (a SHA-256 hex digest, made by the caller); values are
JSON (what JSON cannot hold is refused with a TypeError naming the tool). Expired rows
read as absent and are deleted by one ``put_cached_result`` in ``PURGE_EVERY`` of a process.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from llmcompiler_provider.store import convert
from llmcompiler_provider.store.engine import for_writing, get_engine
from llmcompiler_provider.store.models import ToolCacheRow
from llmcompiler_provider.store.upsert import upsert

KEY_CHARS = 64
TOOL_CHARS = 200
#: one put in this many (per process) also deletes the expired rows
PURGE_EVERY = 50

_puts = itertools.count()
_puts_lock = threading.Lock()


def _checked_json(tool: str, value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"the result of tool {tool!r} cannot be kept in the tool result cache: it must be JSON "
            f"(str, number, bool, None, list, dict with str keys), not {type(value).__name__} ({exc})"
        ) from exc
    return value


def get_cached_result(key: str, url: str | None = None) -> tuple[bool, Any]:
    """(True, value) when ``key`` is cached and not expired, else (False, None)."""
    query = select(ToolCacheRow.result, ToolCacheRow.expires).where(ToolCacheRow.key == key)
    with Session(get_engine(url)) as session:
        row = session.execute(query).first()
    if row is None or convert.to_epoch(row.expires) <= datetime.now(timezone.utc).timestamp():
        return False, None
    return True, row.result


def put_cached_result(key: str, tool: str, value: Any, ttl_s: float, url: str | None = None) -> None:
    """Keep ``value`` (JSON) under ``key`` for ``ttl_s`` seconds, replacing what was there."""
    if not key or len(key) > KEY_CHARS:
        raise ValueError(f"a tool cache key has 1 to {KEY_CHARS} characters (a SHA-256 hex digest); got {key!r}")
    if not ttl_s > 0:
        raise ValueError(f"the cache_ttl of tool {tool!r} must be more than 0 seconds, not {ttl_s!r}")
    value = _checked_json(tool, value)
    now = datetime.now(timezone.utc)
    with _puts_lock:
        purge = next(_puts) % PURGE_EVERY == 0
    with Session(for_writing(get_engine(url))) as session, session.begin():
        upsert(session, ToolCacheRow, {"key": key, "tool": convert.clean_text(tool, TOOL_CHARS), "result": value,
                                       "created": now, "expires": now + timedelta(seconds=ttl_s)})
        if purge:
            session.execute(delete(ToolCacheRow).where(ToolCacheRow.expires <= now))
