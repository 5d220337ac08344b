"""The tool result cache against a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import hashlib
import math
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llmcompiler_provider.store import get_cached_result, get_engine, put_cached_result
from llmcompiler_provider.store.models import ToolCacheRow
from llmcompiler_provider.store.tool_cache import PURGE_EVERY


def key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("value", [{"height_m": 324, "names": ["Eiffel"]}, [1, 2.5, "x"], "plain text", None, 0])
def test_a_cached_json_result_comes_back_as_it_was(store_url, value):
    put_cached_result(key("search('eiffel')"), "search", value, ttl_s=60, url=store_url)

    assert get_cached_result(key("search('eiffel')"), store_url) == (True, value)


def test_an_absent_key_is_a_miss(store_url):
    assert get_cached_result(key("never stored"), store_url) == (False, None)


def test_an_expired_result_is_a_miss(store_url):
    put_cached_result(key("short"), "search", "soon stale", ttl_s=0.05, url=store_url)
    time.sleep(0.1)

    assert get_cached_result(key("short"), store_url) == (False, None)


def test_putting_a_key_again_replaces_its_result_and_expiry(store_url):
    put_cached_result(key("k"), "search", "first", ttl_s=0.05, url=store_url)
    put_cached_result(key("k"), "search", "second", ttl_s=60, url=store_url)
    time.sleep(0.1)

    assert get_cached_result(key("k"), store_url) == (True, "second")


@pytest.mark.parametrize("value", [{1, 2}, object(), math.nan, {"when": b"bytes"}])
def test_a_result_json_cannot_hold_is_refused_naming_the_tool(sqlite_url, value):
    with pytest.raises(TypeError, match="result of tool 'fetch_page' cannot be kept in the tool result cache"):
        put_cached_result(key("x"), "fetch_page", value, ttl_s=60, url=sqlite_url)
    assert get_cached_result(key("x"), sqlite_url) == (False, None)


def test_a_ttl_of_zero_is_refused(sqlite_url):
    with pytest.raises(ValueError, match="cache_ttl of tool 'search' must be more than 0"):
        put_cached_result(key("x"), "search", 1, ttl_s=0, url=sqlite_url)


def test_expired_rows_are_deleted_by_later_puts(store_url):
    for i in range(3):
        put_cached_result(key(f"stale {i}"), "search", i, ttl_s=0.01, url=store_url)
    time.sleep(0.05)

    for i in range(PURGE_EVERY):  # one of any PURGE_EVERY puts in a row purges
        put_cached_result(key(f"fresh {i}"), "search", i, ttl_s=60, url=store_url)

    with Session(get_engine(store_url)) as session:
        assert session.scalar(select(func.count()).select_from(ToolCacheRow)) == PURGE_EVERY
