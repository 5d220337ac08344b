"""A task needing a resource no worker offers fails at once, with a sentence naming what is missing."""

from __future__ import annotations

import pytest

from dask_processes import WorkerSpec, unrunnable_keys
from llmcompiler_provider.execution.cluster import ResourceUnavailable, check_resources, worker_resources
from llmcompiler_provider.store import get_run


def test_a_task_needing_a_resource_no_worker_has_fails_fast_with_a_clear_message(
    run_plan, client, sqlite_url
):
    result = run_plan('1. tpu_work("t")\n2. join()', run_timeout=600)

    assert result.status == "failed"
    assert result.error.startswith(
        "ResourceUnavailable: no Dask worker offers TPU=1 (workers: tcp://127.0.0.1:"
    )
    assert "; and 1 more)" in result.error  # four workers: three listed, one counted
    assert result.error.endswith('start one with `dask worker <scheduler> --resources "TPU=1"`')
    assert "\n" not in result.error
    assert client.run_on_scheduler(unrunnable_keys) == []  # nothing left waiting in no-worker
    assert get_run(result.run_id, sqlite_url).error == result.error


def test_some_worker_must_offer_every_resource_a_task_needs(client, gpu_addresses, all_addresses):
    check_resources(client, {})
    check_resources(client, {"GPU": 1})
    with pytest.raises(
        ResourceUnavailable, match=r"^no Dask worker offers GPU=1, TPU=1 .*--resources \"GPU=1 TPU=1\""
    ):
        check_resources(client, {"GPU": 1, "TPU": 1})
    with pytest.raises(ResourceUnavailable, match=r"^no Dask worker offers GPU=2 \(workers: ") as raised:
        check_resources(client, {"GPU": 2})
    listed = [a for a in sorted(all_addresses) if a in str(raised.value)]
    assert len(listed) == 3
    for address in listed:
        offered = "GPU=1" if address in gpu_addresses else "no resources"
        assert f"{address}: {offered}" in str(raised.value)


def test_a_client_asks_the_scheduler_for_worker_resources_at_most_once_per_interval(client, all_addresses):
    first = worker_resources(client)
    assert worker_resources(client) is first  # served from the cache
    fresh = worker_resources(client, max_age=0)
    assert fresh is not first and fresh == first
    assert set(fresh) == all_addresses


def test_a_worker_that_joins_is_seen_before_the_check_fails(deployment, client):
    with pytest.raises(ResourceUnavailable):
        check_resources(client, {"FPGA": 1})  # the cache now holds a view without FPGA
    address = deployment.start_worker(WorkerSpec("fpga-0", resources={"FPGA": 1}))
    try:
        check_resources(client, {"FPGA": 1})  # a miss looks again before failing
        assert worker_resources(client)[address] == {"FPGA": 1}
    finally:
        deployment.stop_worker("fpga-0", wait=True)
