"""A whole batch as one Dask task: what a deferrable ``LLMCompilerBatchOperator`` submits.

Like ``agent.remote_run`` for a single run: the driver task runs the ``BatchRunner`` on a
worker of the remote cluster (``worker_client()`` is its client, so the runs' tool calls go
to the same cluster), every run and the batch's record are saved in the store, and the
triggerer watches the batch's status there. Setting the Dask ``Event`` named
``cancel_event_name(batch_id, "batch")`` cancels the batch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_provider.agent.remote_run import cancel_event_name, driver_name, submit_driver, watch_for_cancel
from llmcompiler_provider.agent.run import RunConfig
from llmcompiler_provider.batch.options import BatchOptions
from llmcompiler_provider.batch.runner import BatchRunner
from llmcompiler_provider.batch_results import BatchPrompt
from llmcompiler_provider.llm.settings import LLMSettings
from llmcompiler_provider.tracing import beneath

BATCH = "batch"


@dataclass
class RemoteBatch:
    """Everything the batch's driver needs; pickled to the cluster (it holds the LLM key and store URL)."""

    batch_id: str
    prompts: list[BatchPrompt]
    llm: LLMSettings | None
    config: RunConfig
    options: BatchOptions
    output: Any = None  # a path the workers can write (object storage, or a shared file system)
    name: str | None = None
    #: the trace context of the span the batch goes beneath (the task's, from ``tracing.trace_carrier``)
    carrier: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show the settings' secrets in Dask's dashboard or logs
        return f"RemoteBatch(batch_id={self.batch_id!r}, prompts={len(self.prompts)})"


def drive_batch(packed_spec: bytes) -> str:
    """Run a packed ``RemoteBatch`` on the cluster this worker belongs to; returns the batch's status."""
    import cloudpickle
    from distributed import worker_client

    from llmcompiler_provider.execution.cluster import describe_remote

    spec: RemoteBatch = cloudpickle.loads(packed_spec)
    with worker_client() as client:
        runner = BatchRunner(spec.prompts, llm=spec.llm, config=spec.config, options=spec.options,
                             output=spec.output, batch_id=spec.batch_id, name=spec.name, client=client,
                             cluster_info=describe_remote(client, client.scheduler.address))
        done = threading.Event()
        event_name = cancel_event_name(spec.batch_id, BATCH)
        watcher = threading.Thread(target=watch_for_cancel, args=(runner.cancel, client, event_name, done), daemon=True)
        watcher.start()
        try:
            with beneath(spec.carrier):
                return runner.execute().status
        finally:
            done.set()
            watcher.join()  # its last look at the Event ends before the client may close


def submit_remote_batch(client: Any, spec: RemoteBatch) -> str:
    """Submit the batch's driver task and publish it; returns the published name."""
    return submit_driver(client, drive_batch, spec, driver_name(spec.batch_id, BATCH))
