"""execution/dask_internals.py on a real cluster: each private path and its public fallback give the
same graph (keys, dependencies, resources, priorities) and the same results, on whatever Dask is
installed (the lowest-versions tier runs this file on the lowest supported Dask)."""

from __future__ import annotations

import dask
import pytest
from distributed import wait

from llmcompiler_provider.execution.dask_internals import (
    PRIVATE_API_KEY,
    UnitSubmission,
    reschedule_counts,
    submit_units,
    unbatch,
    unusable_private_paths,
)


@pytest.fixture(params=["private", "public"])
def api(request):
    """Each test twice: Dask's private paths allowed, and every one of them switched off."""
    with dask.config.set({PRIVATE_API_KEY: request.param == "private"}):
        yield request.param


def constant(value):
    return value


def plus(value, upstream):
    return value + upstream


def times(value, upstream):
    return value * upstream


def _task_shapes(dask_scheduler, keys):
    tasks = dask_scheduler.tasks
    return {
        key: (sorted(dep.key for dep in tasks[key].dependencies), dict(tasks[key].resource_restrictions or {}),
              tasks[key].priority[0])
        for key in keys
    }


def test_units_run_on_their_upstream_results_with_their_resources_and_priorities(threaded_client, api):
    base = submit_units(threaded_client, [UnitSubmission(f"base-{api}", constant, 1)])
    # a unit listed before its upstream unit of the same call, and one on an earlier call's key
    units = [
        UnitSubmission(f"sum-{api}", plus, 10, (f"double-{api}",), {"GPU": 1}, 5),
        UnitSubmission(f"double-{api}", times, 2, (f"base-{api}",), {}, 3),
    ]
    futures = submit_units(threaded_client, units)
    wait(list(futures.values()))
    assert {key: future.result() for key, future in futures.items()} == {f"sum-{api}": 12, f"double-{api}": 2}
    shapes = threaded_client.run_on_scheduler(_task_shapes, keys=[u.key for u in units])
    assert shapes == {
        f"sum-{api}": ([f"double-{api}"], {"GPU": 1}, -5),  # Dask keeps priorities negated
        f"double-{api}": ([f"base-{api}"], {}, -3),
    }
    assert "graph submission" not in unusable_private_paths()  # this Dask takes the one-message path
    del base


class _Stream:
    interval = 0.01


def test_unbatching_a_stream_follows_the_switch(api):
    stream = _Stream()
    unbatch(stream)
    assert stream.interval == (0 if api == "private" else 0.01)


def test_reschedule_counts_are_asked_only_through_the_private_path(threaded_client, api):
    [future] = submit_units(threaded_client, [UnitSubmission(f"counted-{api}", constant, 1)]).values()
    future.result()
    query = reschedule_counts(threaded_client, [future.key])
    if api == "public":
        assert query is None  # the run then counts tool retries only
    else:
        assert threaded_client.sync(lambda: query) == {}  # it ran once, on a worker that lived
