"""Waits, without a worker slot, for a run (or a batch) submitted to a remote Dask cluster to finish.

A small async loop: every ``poll_interval`` seconds it asks the metrics store
whether the run has finished (``asyncio.to_thread``: the store is synchronous), and
asks the scheduler whether the run's driver task erred or vanished. It fires one
event: ``{"status": "finished", "run_id", "run_status"}`` or ``{"status": "error",
"run_id", "message"}``. With ``kind="batch"``, ``run_id`` is a batch id and the store's
batch record is watched.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseTrigger, TriggerEvent

from llmcompiler_provider.agent.remote_run import cancel_event_name, driver_name
from llmcompiler_provider.hooks.dask import make_security

FINISHED_STATUSES = frozenset({"success", "failed", "cancelled"})
#: the least time between deferring and firing: Airflow 3.3 fails a task resumed before the executor
#: has reported the process that deferred it (apache/airflow#66374, #67287, #72716: the stale
#: "success" meets a queued or running task instance), and a run on an idle cluster can end sooner
SETTLE_S = 10.0
DRIVER_GONE = frozenset({"released", "forgotten"})


def stored_status(run_id: str, store_url: str | None, kind: str = "run") -> str | None:
    """The run's (or batch's) status in the store, or None when it is not there yet."""
    from llmcompiler_provider.store import get_batch, run_status

    if kind == "batch":
        batch = get_batch(run_id, store_url)
        return batch.status if batch is not None else None
    return run_status(run_id, store_url)


class LLMCompilerRunTrigger(BaseTrigger):
    def __init__(
        self,
        run_id: str,
        store_url: str | None,
        scheduler: str,
        tls: dict[str, Any] | None = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        not_before: float | None = None,
        kind: str = "run",
    ) -> None:
        super().__init__()
        self.run_id = run_id  # the batch's id with kind="batch"
        self.kind = kind
        self.store_url = store_url
        self.scheduler = scheduler
        self.tls = dict(tls or {})
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.not_before = not_before  # epoch seconds: no event before then (see SETTLE_S)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "run_id": self.run_id,
                "store_url": self.store_url,
                "scheduler": self.scheduler,
                "tls": self.tls,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "not_before": self.not_before,
                "kind": self.kind,
            },
        )

    def _event(self, status: str, **details: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "run_id": self.run_id, **details})

    async def _client(self) -> Any:
        """An asynchronous Dask client on the scheduler, or None when it cannot be reached."""
        from distributed import Client

        try:
            security = make_security(self.tls)
            return await Client(self.scheduler, security=security, asynchronous=True, timeout="10s")
        except Exception as exc:  # the store alone still tells when the run ends
            self.log.warning(
                "cannot reach the Dask scheduler at %s (%s); watching the store only", self.scheduler, exc
            )
            return None

    async def _driver_problem(self, client: Any) -> str | None:
        """Why the driver task ended without a stored run, or None while it is still queued or running."""
        name = driver_name(self.run_id, self.kind)
        state = (await client.scheduler.get_task_status(keys=[name])).get(name)
        if state is None:
            return f"the {self.kind}'s driver task {name} is not known to the Dask scheduler at {self.scheduler}"
        if state == "erred":
            exc = await (await client.get_dataset(name)).exception()
            return f"the {self.kind}'s driver task failed on the Dask cluster: {type(exc).__name__}: {exc}"
        if state == "memory":
            return f"the {self.kind}'s driver task finished but the metrics store has no finished {self.kind} with its id"
        if state in DRIVER_GONE:
            return f"the {self.kind}'s driver task was {state} on the Dask cluster"
        return None

    async def _checked_driver(self, client: Any) -> str | None:
        try:
            return await self._driver_problem(client)
        except (OSError, asyncio.TimeoutError) as exc:  # a scheduler hiccup: the store still tells
            self.log.warning("cannot ask the Dask scheduler about run %s: %s", self.run_id, exc)
            return None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._outcome()
        if self.not_before is not None:
            await asyncio.sleep(max(0.0, self.not_before - time.time()))
        yield event

    async def _outcome(self) -> TriggerEvent:
        """Wait for the run's outcome; the scheduler connection is released before the event is fired."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        client = await self._client()
        try:
            while True:
                status = await asyncio.to_thread(stored_status, self.run_id, self.store_url, self.kind)
                if status in FINISHED_STATUSES:
                    return self._event("finished", run_status=status)
                problem = await self._checked_driver(client) if client is not None else None
                if problem is not None:
                    # the run may have been saved between the two looks: read the store once more
                    status = await asyncio.to_thread(stored_status, self.run_id, self.store_url, self.kind)
                    if status in FINISHED_STATUSES:
                        return self._event("finished", run_status=status)
                    return self._event("error", message=problem)
                if deadline is not None and time.monotonic() > deadline:
                    return self._event("error", message=f"the run did not finish within {self.timeout:g} s")
                await asyncio.sleep(self.poll_interval)
        finally:
            if client is not None:
                await self._release(client)

    async def _release(self, client: Any) -> None:
        try:
            await client.unpublish_dataset(driver_name(self.run_id, self.kind))
        except Exception:  # already released: nothing to do
            pass
        await client.close()

    async def on_kill(self) -> None:
        """The task was killed while deferred: cancel the run on the cluster (it is recorded as cancelled)."""
        from distributed import Event

        client = await self._client()
        if client is None:
            return
        try:
            await Event(cancel_event_name(self.run_id, self.kind), client=client).set()
        finally:
            await client.close()
