"""A deployment opts in to unbatched messages with ``--preload llmcompiler_provider.execution.latency``
on its ``dask scheduler`` and ``dask worker`` processes (real processes; see conftest.py)."""

from __future__ import annotations


def _scheduler_intervals(dask_scheduler):
    return (
        {address: stream.interval for address, stream in dask_scheduler.stream_comms.items()},
        {client: stream.interval for client, stream in dask_scheduler.client_comms.items()},
    )


def _worker_interval(dask_worker):
    return dask_worker.batched_stream.interval


def test_a_preloaded_scheduler_and_worker_send_without_batching_the_others_keep_dask_defaults(
    deployment, client
):
    to_workers, to_clients = client.run_on_scheduler(_scheduler_intervals)
    assert set(to_workers.values()) == {0}  # every worker, joined after the scheduler started
    assert to_clients[client.id] == 0  # a client connected after the scheduler started
    by_name = {name: deployment.addresses[name] for name in ("cpu-0", "cpu-1")}
    intervals = client.run(_worker_interval, workers=list(by_name.values()))
    assert intervals[by_name["cpu-1"]] == 0  # preloaded
    assert intervals[by_name["cpu-0"]] == 0.002  # Dask's default: the deployment's own choice
