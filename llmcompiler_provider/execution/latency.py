"""Dask's message batching, turned off where this project owns both ends.

Every long-lived Dask connection batches what it sends: the client writes to the
scheduler at most every 10 ms, the scheduler to each worker every 5 ms, and each
worker to the scheduler and the scheduler to each client every 2 ms. A message
written within that interval of the previous one waits for the rest of it. That
is a good trade for thousands of tiny tasks, but a plan's units are few and each
one is on its run's critical path: a run that starts right after the previous one
released its futures waited up to 10 ms before the scheduler even saw its graph
(measured: 3 to 10 ms from submit to the scheduler, 0.6 ms without batching).

* ``send_immediately(client)``: this process's own client writes each message as
  soon as the event loop gets to it (messages queued in the same loop iteration
  still go together). Applied to every client a dispatcher uses.
* ``tune_embedded_cluster(client)``: for the cluster this project started itself,
  the same for the scheduler's streams to its workers and clients (a scheduler
  plugin, so restarted and added workers are covered) and for each worker's
  stream to the scheduler (a worker plugin, which also starts the worker's
  threads for blocking tool calls ahead of the first unit), and the workers'
  statistical profiler is off (see ``EMBEDDED_WORKER_CONFIG``).
* A deployment's own cluster is left as its operators configured it; they opt in with
  ``--preload llmcompiler_provider.execution.latency`` on ``dask scheduler`` and
  ``dask worker`` (``dask_setup`` below).
"""

from __future__ import annotations

import asyncio
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from llmcompiler_provider.execution.dask_internals import unbatch

#: Dask config for the embedded cluster's workers: the profiler samples every thread's stack
#: every 10 ms, taking the GIL from the tools (the dashboard's profile page is empty without it)
EMBEDDED_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def send_immediately(client: Any) -> None:
    """No batching interval on ``client``'s stream to the scheduler (a no-op for other clients)."""
    unbatch(getattr(client, "scheduler_comm", None))


class ImmediateSchedulerMessages(SchedulerPlugin):
    """The scheduler writes to workers and clients without a batching interval."""

    name = "llmcompiler-immediate-scheduler-messages"

    async def start(self, scheduler: Any) -> None:
        for stream in [*scheduler.stream_comms.values(), *scheduler.client_comms.values()]:
            unbatch(stream)

    def add_worker(self, scheduler: Any, worker: str) -> None:
        _unbatch(scheduler.stream_comms, worker)

    def add_client(self, scheduler: Any, client: str) -> None:
        # the client's stream is created right after this hook, in the same step of the event loop
        asyncio.get_running_loop().call_soon(_unbatch, scheduler.client_comms, client)


def _unbatch(streams: dict[str, Any], name: str) -> None:
    unbatch(streams.get(name))


class ImmediateWorkerMessages(WorkerPlugin):
    """A worker writes to the scheduler without a batching interval, and has the threads for
    blocking tool calls started before the first unit needs them."""

    name = "llmcompiler-immediate-worker-messages"

    def setup(self, worker: Any) -> None:
        from llmcompiler_provider.execution.dataflow import start_blocking_threads

        unbatch(getattr(worker, "batched_stream", None))
        start_blocking_threads()


def tune_embedded_cluster(client: Any) -> None:
    """Turn batching off on every stream of the cluster this process started (see the module doc)."""
    send_immediately(client)
    client.register_plugin(ImmediateSchedulerMessages())
    client.register_plugin(ImmediateWorkerMessages())


def dask_setup(service: Any) -> None:
    """``dask scheduler|worker --preload llmcompiler_provider.execution.latency``: no batching on
    that process's streams (a scheduler's to its workers and clients, a worker's to the scheduler)."""
    from distributed import Scheduler, Worker

    if isinstance(service, Scheduler):
        service.add_plugin(ImmediateSchedulerMessages())  # its ``start`` runs as the scheduler starts
    elif isinstance(service, Worker):
        ImmediateWorkerMessages().setup(service)
