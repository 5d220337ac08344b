"""The tool result cache as the dispatcher uses it (``cache_ttl=`` tools), on a real Dask cluster,
with an in-memory ``ResultCache`` of the test's own."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from exec_tools import tools

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.execution.result_cache import ResultCache, cache_key
from llmcompiler_provider.execution.shared_calls import SharedCalls
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.store.location import NO_STORE
from llmcompiler_provider.tools import Toolset


class MemoryCache:
    """A ``ResultCache`` in a dict, expiring entries by the clock."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[Any, float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            entry = self.kept.get(key)
        if entry is None or entry[1] <= time.time():
            return False, None
        return True, entry[0]

    def put(self, key: str, tool: str, value: Any, ttl_s: float) -> None:
        with self._lock:
            self.kept[key] = (value, time.time() + ttl_s, tool)


def executions(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def dispatch(client, plan: str, cache: ResultCache, shared: SharedCalls | None = None):
    graph = compile_plan(plan, tools.signatures())
    dispatcher = Dispatcher(client, tools, "cache", result_cache=cache, shared_calls=shared)
    dispatcher.submit_graph(graph)
    records = {r.id: r for r in dispatcher.records(dispatcher.wait(timeout=60), graph)}
    return dispatcher, records


def test_the_memory_cache_is_a_result_cache():
    assert isinstance(MemoryCache(), ResultCache)


def test_a_cached_result_answers_the_call_without_a_dask_task(threaded_client, tmp_path):
    cache = MemoryCache()
    plan = f'1. cached_count("{tmp_path / "n"}", "x")\n2. echo("read $1")\n3. join()'
    _, first = dispatch(threaded_client, plan, cache)
    assert first[1].source is None and first[2].result == "read cached x"
    assert [(value, tool) for value, _, tool in cache.kept.values()] == [("cached x", "cached_count")]
    dispatcher, second = dispatch(threaded_client, plan, cache)
    assert executions(tmp_path / "n") == 1
    assert second[1].source == "cache" and second[1].status == "success" and second[1].result == "cached x"
    assert second[1].unit is None and second[1].attempts == 0 and second[1].start == second[1].stop
    assert second[2].result == "read cached x"  # its dependent read the cached value
    assert list(dispatcher.futures) == [second[2].unit]  # the dependent's unit only


def test_a_cached_value_is_interpolated_and_passed_as_an_object(threaded_client, tmp_path):
    cache = MemoryCache()
    call = tools["cached_count"]
    graph = compile_plan(f'1. cached_count("{tmp_path / "o"}")\n2. join()', tools.signatures())
    cache.put(cache_key(tools.name, graph.tasks[1]), call.name, {"list": [1, 2]}, 60)
    plan = f'1. cached_count("{tmp_path / "o"}")\n2. record($1)\n3. echo("text: $1")\n4. join()'
    dispatcher, records = dispatch(threaded_client, plan, cache)
    observations = dispatcher.wait(timeout=60)
    assert observations[2].value == {"type": "dict", "value": {"list": [1, 2]}}
    assert records[3].result == "text: {'list': [1, 2]}"
    assert executions(tmp_path / "o") == 0


def test_a_failed_call_is_not_cached(threaded_client):
    cache = MemoryCache()
    _, records = dispatch(threaded_client, '1. cached_fails("no")\n2. join()', cache)
    assert records[1].status == "failed" and cache.kept == {}


def test_an_expired_result_is_not_used(threaded_client, tmp_path):
    cache = MemoryCache()
    plan = f'1. cached_count("{tmp_path / "e"}")\n2. join()'
    dispatch(threaded_client, plan, cache)
    (key,) = cache.kept
    value, _, tool = cache.kept[key]
    cache.kept[key] = (value, time.time() - 1, tool)  # it expired
    _, records = dispatch(threaded_client, plan, cache)
    assert records[1].source is None and executions(tmp_path / "e") == 2


def test_calls_reading_other_results_and_tools_without_ttl_are_not_looked_up(threaded_client, tmp_path):
    cache = MemoryCache()
    plan = (f'1. echo("{tmp_path / "r"}")\n2. cached_count($1)\n3. shared_count("{tmp_path / "s"}")\n4. join()')
    for _ in range(2):
        _, records = dispatch(threaded_client, plan, cache)
        assert all(r.source is None and r.status == "success" for r in records.values())
    assert executions(tmp_path / "r") == 2 and cache.kept == {}


def test_a_cache_hit_comes_before_sharing_and_a_miss_is_shared(threaded_client, tmp_path):
    cache, shared = MemoryCache(), SharedCalls()
    plan = f'1. cached_count("{tmp_path / "m"}")\n2. join()'
    graph = compile_plan(plan, tools.signatures())
    first = Dispatcher(threaded_client, tools, "first", result_cache=cache, shared_calls=shared)
    second = Dispatcher(threaded_client, tools, "second", result_cache=cache, shared_calls=shared)
    first.submit_graph(graph)
    second.submit_graph(graph)  # before the first finished: the cache misses, the call is shared
    records = [{r.id: r for r in d.records(d.wait(timeout=60), graph)} for d in (first, second)]
    assert (records[0][1].source, records[1][1].source) == (None, "batch")
    third = Dispatcher(threaded_client, tools, "third", result_cache=cache, shared_calls=shared)
    third.submit_graph(graph)
    assert third.records(third.wait(timeout=60), graph)[0].source == "cache"
    assert executions(tmp_path / "m") == 1 and len(cache.kept) == 1


def test_a_run_counts_its_cache_hits(threaded_client, tmp_path):
    cache = MemoryCache()
    plan = f'1. cached_count("{tmp_path / "a"}")\n2. cached_count("{tmp_path / "b"}")\n3. join()'
    config = RunConfig(toolset=tools, store_url=NO_STORE, max_replans=0, result_cache=cache)
    first = LLMCompilerRun(plan=plan, config=config, client=threaded_client).execute()
    second = LLMCompilerRun(plan=plan, config=config, client=threaded_client).execute()
    assert (first.counts.cache_hits, second.counts.cache_hits) == (0, 2)
    assert second.status == "success" and second.timings.sum_task_s == 0.0


@pytest.mark.parametrize("ttl", [0, -5, float("inf"), "soon"])
def test_cache_ttl_must_be_a_positive_number_of_seconds(ttl):
    with pytest.raises(ValueError, match=r"tool 'f': cache_ttl=.* is not a positive, finite number of seconds"):
        Toolset("t").add(lambda x: x, name="f", cache_ttl=ttl)


def test_cache_ttl_is_refused_on_an_impure_tool():
    with pytest.raises(ValueError, match="tool 'stamp': cache_ttl=60 asks to reuse its results, but the tool is "
                                         "declared pure=False"):
        Toolset("t").add(lambda: time.time(), name="stamp", pure=False, cache_ttl=60)


def test_cache_ttl_reaches_the_signature():
    toolset = Toolset("t")
    toolset.add(lambda x: x, name="f", cache_ttl=90)
    assert toolset.signatures()["f"].cache_ttl == 90.0
    assert tools.signatures()["echo"].cache_ttl is None
