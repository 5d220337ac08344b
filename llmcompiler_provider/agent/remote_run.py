"""A whole run as one Dask task: what deferrable mode submits to a remote scheduler.

No Airflow imports: this module runs on Dask workers. The driver task builds the run
inside the worker (``worker_client()`` is its client, so the plan's tasks go to the
same cluster), saves it to the store under the run id chosen by the operator, and
returns its status. The operator *publishes* the driver's future under
:func:`driver_name` so the scheduler keeps its outcome after the operator's client
leaves; the trigger reads that outcome, and unpublishes it when it is done. Setting
the Dask ``Event`` named :func:`cancel_event_name` cancels the run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig, record_run
from llmcompiler_provider.llm.settings import LLMSettings
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.tracing import beneath

CANCEL_POLL_S = 1.0
ACCEPT_TIMEOUT_S = 30.0  # for the scheduler to register a submitted run


def driver_name(run_id: str, kind: str = "run") -> str:
    """The Dask key of a run's (or, with ``kind="batch"``, a batch's) driver task, and the name its
    future is published under."""
    return f"llmcompiler-{kind}-{run_id}"


def cancel_event_name(run_id: str, kind: str = "run") -> str:
    """The Dask ``Event`` whose setting cancels the run (or batch)."""
    return f"llmcompiler-cancel-{kind}-{run_id}"


@dataclass
class RemoteRun:
    """Everything the driver needs; pickled to the cluster (it holds the LLM key and store URL)."""

    run_id: str
    prompt: str | None
    plan: str | None
    llm: LLMSettings | None
    config: RunConfig
    #: the trace context of the span the run goes beneath (the task's, from ``tracing.trace_carrier``)
    carrier: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show the settings' secrets in Dask's dashboard or logs
        return f"RemoteRun(run_id={self.run_id!r})"


def record_failure(run_id: str, prompt: str | None, config: RunConfig, error: str) -> RunResult:
    """Save a run that failed before it could start (e.g. its LLM could not be built)."""
    result = RunResult(run_id=run_id, prompt=prompt, airflow=config.airflow, status="failed", error=error)
    result.finished = time.time()
    record_run(result, config.store_url)
    return result


def watch_for_cancel(cancel: Callable[[], None], client: Any, event_name: str, done: threading.Event) -> None:
    """Call ``cancel`` when the Dask ``Event`` ``event_name`` is set, until ``done`` is (a thread's target)."""
    from distributed import Event

    event = Event(event_name, client=client)
    while not done.is_set():
        if event.wait(timeout=CANCEL_POLL_S):
            cancel()
            return


def drive_run(packed_spec: bytes) -> str:
    """Run a packed ``RemoteRun`` on the cluster this worker belongs to; returns the run's status.

    The spec arrives as cloudpickle bytes: Dask pickles a task's arguments by reference
    when it can, and the tools of a DAG file or a user module are not importable on the
    cluster; packing them with cloudpickle ships them by value (see ``operators.toolsets``).
    """
    import cloudpickle
    from distributed import worker_client

    from llmcompiler_provider.execution.cluster import describe_remote

    spec: RemoteRun = cloudpickle.loads(packed_spec)
    try:
        llm = spec.llm.make() if spec.llm is not None else None
    except Exception as exc:  # recorded like any failed run, with its cause
        reason = f"the LLM could not be set up: {exc}"
        return record_failure(spec.run_id, spec.prompt, spec.config, reason).status
    with worker_client() as client:
        run = LLMCompilerRun(
            spec.prompt,
            plan=spec.plan,
            llm=llm,
            config=spec.config,
            client=client,
            cluster_info=describe_remote(client, client.scheduler.address),
            run_id=spec.run_id,
        )
        done = threading.Event()
        watcher = threading.Thread(
            target=watch_for_cancel, args=(run.cancel, client, cancel_event_name(spec.run_id), done), daemon=True
        )
        watcher.start()
        try:
            with beneath(spec.carrier):
                result = run.execute()
        finally:
            done.set()
            watcher.join()  # its last look at the Event ends before the client may close
    if result.metrics_saved is False:
        raise RuntimeError(f"run {spec.run_id} ended {result.status} but {result.metrics_error}")
    return result.status


def submit_remote_run(client: Any, spec: RemoteRun, timeout: float = ACCEPT_TIMEOUT_S) -> str:
    """Submit the run's driver task; see :func:`submit_driver`."""
    return submit_driver(client, drive_run, spec, driver_name(spec.run_id), timeout)


def submit_driver(client: Any, drive: Callable[[bytes], str], spec: Any, name: str,
                  timeout: float = ACCEPT_TIMEOUT_S) -> str:
    """Submit ``drive(packed spec)`` as the task ``name``, publish its future under that name, and wait
    until the scheduler holds the task.

    Returns the published name. A scheduler that cannot load the task (another
    environment, say) raises ``RuntimeError`` here instead of leaving a run that never starts.
    """
    import cloudpickle

    future = client.submit(drive, cloudpickle.dumps(spec), key=name, pure=False)
    client.publish_dataset(future, name=name)
    deadline = time.monotonic() + timeout
    while True:
        if future.status == "error":
            client.unpublish_dataset(name)
            raise RuntimeError(f"the Dask scheduler did not accept the run: {future.exception()}")
        if scheduler_task_state(client, name) is not None:
            return name
        if time.monotonic() > deadline:
            client.unpublish_dataset(name)
            raise TimeoutError(f"the Dask scheduler did not accept the run within {timeout:g} s")
        time.sleep(0.1)


def scheduler_task_state(client: Any, key: str) -> str | None:
    """The scheduler's state for ``key`` (None when it does not know the key); synchronous client."""
    return client.sync(client.scheduler.get_task_status, keys=[key]).get(key)
