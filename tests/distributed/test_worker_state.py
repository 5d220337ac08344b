"""Expensive tool state loads once per worker process and is reused by later tasks and later runs."""

from __future__ import annotations

import ast
import threading
import time
from collections import defaultdict

import pytest

from dist_tools import CACHED_STATE, WARMED_NAME
from llmcompiler_provider.execution.worker_state import (
    WarmCache,
    cached_loads,
    parse_warm_spec,
    worker_cache_report,
    worker_cached,
)

CALLS_PER_RUN = 6
PLAN = (
    "\n".join(f'{i}. cached_state("s{i}")' for i in range(1, CALLS_PER_RUN + 1))
    + f"\n{CALLS_PER_RUN + 1}. join()"
)


def test_tool_state_loads_once_per_worker_and_is_reused_across_runs(run_plan, client, gpu_addresses):
    runs = [run_plan(PLAN), run_plan(PLAN)]

    states: dict[str, set[str]] = defaultdict(set)  # worker -> state ids its calls saw
    workers_by_run = []
    for result in runs:
        assert result.status == "success", result.error
        workers_by_run.append({t.worker for t in result.all_tasks})
        for task in result.all_tasks:
            states[task.worker].add(ast.literal_eval(task.result)["state"])  # the preview is a dict's repr
    assert set(states) <= gpu_addresses
    assert all(len(ids) == 1 for ids in states.values())  # one object per worker, every call, both runs
    assert workers_by_run[0] & workers_by_run[1]  # some worker served both runs
    report = worker_cache_report(client)
    for address in states:
        assert report[address][CACHED_STATE] == 1


def test_a_preloaded_worker_loads_its_state_as_it_starts(client, deployment):
    report = worker_cache_report(client)
    warmed = deployment.addresses["gpu-1"]
    assert report[warmed][WARMED_NAME] == 1
    assert all(WARMED_NAME not in loads for address, loads in report.items() if address != warmed)


def test_the_warm_cache_plugin_loads_on_every_worker_once(client, all_addresses):
    plugin = WarmCache({"plugin-probe": "dist_tools:make_probe"})
    try:
        client.register_plugin(plugin)
        client.register_plugin(plugin)  # registering again loads nothing again
        report = worker_cache_report(client)
    finally:
        client.unregister_worker_plugin(WarmCache.name)
    assert set(report) == all_addresses
    assert all(loads["plugin-probe"] == 1 for loads in report.values())


def test_concurrent_first_calls_load_once():
    loads = []

    def slow_factory() -> object:
        time.sleep(0.2)
        loads.append(1)
        return object()

    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(worker_cached("concurrent", slow_factory)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len({id(s) for s in seen}) == 1
    assert cached_loads()["concurrent"] == 1


def test_a_factory_that_fails_caches_nothing_and_the_next_call_retries():
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("model server not up yet")
        return "loaded"

    with pytest.raises(ConnectionError):
        worker_cached("flaky", flaky)
    assert worker_cached("flaky", flaky) == "loaded"
    assert worker_cached("flaky", flaky) == "loaded"
    assert len(attempts) == 2 and cached_loads()["flaky"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("local-llm", "is not 'name=module:function'"),
        ("=pkg:make", "is not 'name=module:function'"),
        ("model=pkg.make", "name a factory as 'module:function'"),
    ],
)
def test_a_malformed_warm_setting_is_refused_clearly(text, message):
    with pytest.raises(ValueError, match=message):
        parse_warm_spec(text)


def test_warm_settings_name_several_factories():
    assert parse_warm_spec(" a=pkg.mod:make_a, b=pkg.mod:make_b ,") == {
        "a": "pkg.mod:make_a",
        "b": "pkg.mod:make_b",
    }


@pytest.mark.slow
def test_the_local_model_loads_once_per_gpu_worker_across_runs(run_plan, client, gpu_addresses):
    """The demo ``llm`` tool (GPU=1) on the real local model: two runs, one load per worker that ran it."""
    from llmcompiler_provider.llm import load_count

    plan = '1. llm("Say hello.")\n2. llm("Say goodbye.")\n3. join()'
    runs = [run_plan(plan, toolset="demo"), run_plan(plan, toolset="demo")]

    workers = set()
    for result in runs:
        assert result.status == "success", result.error
        assert all(t.status == "success" and t.result for t in result.all_tasks)
        workers |= {t.worker for t in result.all_tasks}
    assert workers <= gpu_addresses
    loads = client.run(load_count, workers=sorted(workers))
    assert loads == {address: 1 for address in workers}
