"""Where plans run: an existing Dask scheduler, a LocalCUDACluster, or a CPU LocalCluster.

Without GPUs the embedded cluster is a ``LocalCluster`` whose workers each declare
``GPU=1`` slots, so GPU-annotated tools still run one per slot (the run records that
it used this CPU fallback).

The embedded CPU cluster runs in this process by default (scheduler and workers on
threads): it starts in about 30 ms where worker processes take 0.5 s and more, tools
share this process's loaded models, and no child process re-imports this process's
``__main__`` (under Airflow, the ``airflow`` command, whose import needs a metadata
database that task processes are denied). ``processes=True`` starts worker processes
instead, for CPU-bound Python tools; ``worker_env`` is set in their environment
before they start (Dask's ``distributed.nanny.pre-spawn-environ``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from llmcompiler_provider.plan.signature import GPU_RESOURCE
from llmcompiler_provider.results import ClusterInfo

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 32  # tools are mostly I/O-bound: many threads per worker (started as calls need them)


class GPUUnavailable(RuntimeError):
    pass


def visible_gpu_count() -> int:
    """Number of NVIDIA GPUs this process can use (0 when NVML is missing or finds none)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library, no device: all mean "no GPU here"
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return min(count, len(visible.split(","))) if visible else count


@dataclass
class ClusterOptions:
    address: str | None = None  # an existing scheduler; None: start an embedded cluster
    n_workers: int | None = None
    threads_per_worker: int = DEFAULT_THREADS
    gpu_slots_per_worker: int = 1  # CPU fallback: GPU slots each worker declares
    processes: bool = False  # embedded CPU cluster: workers on threads of this process, or worker processes
    worker_env: dict[str, str] = field(default_factory=dict)  # worker processes' extra environment
    gpu_fallback: str = "cpu"  # "cpu": run GPU tools on CPU slots; "fail": refuse without GPUs
    security: Any = None  # distributed.Security for TLS, from a Dask connection
    rmm_pool_size: str | None = None  # dask-cuda options, used only with GPUs
    device_memory_limit: str | None = None
    dashboard: bool = False
    # embedded cluster only: no message batching, no worker profiler (execution/latency.py)
    low_latency: bool = True


def _start_cuda_cluster(options: ClusterOptions, gpus: int) -> tuple[Any, ClusterInfo]:
    """One dask-cuda worker per visible GPU, pinned to it by CUDA_VISIBLE_DEVICES and declaring ``GPU=1``."""
    from dask_cuda import LocalCUDACluster

    n_workers = min(options.n_workers or gpus, gpus)
    kwargs: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": options.threads_per_worker,
        "resources": {GPU_RESOURCE: 1},
        **_dashboard_options(options),
    }
    if options.rmm_pool_size:
        kwargs["rmm_pool_size"] = options.rmm_pool_size
    if options.device_memory_limit:
        kwargs["device_memory_limit"] = options.device_memory_limit
    with _worker_config(options, processes=True) as worker_config:
        cluster = LocalCUDACluster(**kwargs, **worker_config)
    info = ClusterInfo(
        kind="local-cuda", address=cluster.scheduler_address, workers=n_workers, gpu_slots=n_workers
    )
    return cluster, info


def _dashboard_options(options: ClusterOptions) -> dict[str, Any]:
    """Dask's dashboard only when asked for (it costs 0.4 s to start); the scheduler's HTTP server
    (health, metrics) on a free port, never clashing with another cluster's 8787."""
    if options.dashboard:
        return {"dashboard_address": ":8787"}
    return {"dashboard_address": ":0", "scheduler_kwargs": {"dashboard": False}}


@contextmanager
def _environ_kept(names: Mapping[str, str]) -> Iterator[Callable[[], None]]:
    """Dask's nannies set their pre-spawn variables (``worker_env``) in *this* process's environment
    too, and leave them there: the yielded function puts them back as they were (once the workers
    are started), and so does the exit (after a nanny restarted a worker)."""
    saved = {name: os.environ.get(name) for name in names}

    def restore() -> None:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    try:
        yield restore
    finally:
        restore()


@contextmanager
def _quiet_dask_logs(quiet: bool) -> Iterator[None]:
    """Dask's INFO lines (a cluster's start and stop: forty of them) kept out of this process's
    log while its in-process cluster runs (worker processes' logs are silenced by Dask itself)."""
    logger = logging.getLogger("distributed")
    previous = logger.level
    if quiet:
        logger.setLevel(max(logging.WARNING, previous))
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextmanager
def _worker_config(options: ClusterOptions, *, processes: bool) -> Iterator[dict[str, Any]]:
    """The Dask config the embedded workers run with (``latency.EMBEDDED_WORKER_CONFIG``): set while
    the cluster starts, for in-process workers, and yielded as the nannies' ``config`` argument for
    worker processes, so restarted ones have it too (a nanny's copy of the global config would be
    reverted in place when the ``dask.config.set`` block ends). Worker processes also get
    ``worker_env``, which nannies set before they start a worker."""
    import dask

    config: dict[str, Any] = {}
    if options.low_latency:
        from llmcompiler_provider.execution.latency import EMBEDDED_WORKER_CONFIG  # imports distributed

        config.update(EMBEDDED_WORKER_CONFIG)
    if processes and options.worker_env:
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
        config["distributed.nanny.pre-spawn-environ"] = {**environ, **options.worker_env}
    with dask.config.set(config):
        yield {"config": dict(config)} if processes and config else {}


def embedded_workers(options: ClusterOptions) -> int:
    """Workers of the embedded CPU cluster: as asked (default two, so two GPU slots on the CPU
    fallback), and never more worker processes than the cores this process may use: several
    tasks share a machine, and each starts its own cluster."""
    wanted = options.n_workers or DEFAULT_WORKERS
    cores = len(os.sched_getaffinity(0))
    if options.processes and wanted > cores:
        log.warning("%d worker processes asked for, %d cores to run them: starting %d", wanted, cores, cores)
        return cores
    return wanted


def _start_local_cluster(options: ClusterOptions) -> tuple[Any, ClusterInfo]:
    gpus = visible_gpu_count()
    if gpus:
        return _start_cuda_cluster(options, gpus)
    if options.gpu_fallback == "fail":
        raise GPUUnavailable(
            "no GPU is visible and gpu_fallback='fail': refusing to run GPU tools on the CPU"
        )
    from distributed import LocalCluster

    n_workers = embedded_workers(options)
    with _worker_config(options, processes=options.processes) as worker_config:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=options.threads_per_worker,
            processes=options.processes,
            resources={GPU_RESOURCE: options.gpu_slots_per_worker},
            **_dashboard_options(options),
            silence_logs=logging.ERROR,
            **worker_config,
        )
    info = ClusterInfo(
        kind="local",
        address=cluster.scheduler_address,
        gpu_fallback=True,
        workers=n_workers,
        gpu_slots=n_workers * options.gpu_slots_per_worker,
    )
    return cluster, info


def describe_remote(client: Any, address: str) -> ClusterInfo:
    """What a run records about an existing cluster (and a fresh look at its workers' resources)."""
    workers = worker_resources(client, max_age=0)
    slots = sum(int(resources.get(GPU_RESOURCE, 0)) for resources in workers.values())
    return ClusterInfo(kind="address", address=address, workers=len(workers), gpu_slots=slots)


@contextmanager
def open_client(options: ClusterOptions | None = None) -> Iterator[tuple[Any, ClusterInfo]]:
    """A connected ``distributed.Client`` and a description of its cluster; closed on exit.

    An existing scheduler's packages are checked against this client's first
    (``VersionMismatch``), so a mismatched cluster fails before any task runs.
    """
    from distributed import Client

    options = options or ClusterOptions()
    if options.address:
        if options.rmm_pool_size or options.device_memory_limit:
            log.warning(
                "rmm_pool_size and device_memory_limit configure an embedded LocalCUDACluster; "
                "the workers of %s take them as flags: `dask cuda worker --rmm-pool-size ... "
                "--device-memory-limit ...`",
                options.address,
            )
        client = Client(options.address, security=options.security, timeout="10s")
        try:
            check_versions(client)
            yield client, describe_remote(client, options.address)
        finally:
            client.close()
        return
    with _quiet_dask_logs(not options.processes), _environ_kept(options.worker_env) as restore_environ:
        cluster, info = _start_local_cluster(options)
        restore_environ()
        client = Client(cluster)
        try:
            if options.low_latency:
                from llmcompiler_provider.execution.latency import tune_embedded_cluster

                tune_embedded_cluster(client)
            yield client, info
        finally:
            client.close()
            cluster.close()


class ClientStart:
    """``open_client`` on a background thread, so a run goes on (loading its model, asking the
    planner) while Dask is imported and its cluster starts; ``wait()`` gives the client, or raises
    what starting it raised. ``close()`` closes the client (and the embedded cluster)."""

    def __init__(self, options: ClusterOptions) -> None:
        self.info: ClusterInfo | None = None
        self._started = threading.Event()
        self._close = threading.Event()
        self._client: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(options,), name="llmcompiler-cluster", daemon=True)
        self._thread.start()

    def _run(self, options: ClusterOptions) -> None:
        try:
            with open_client(options) as (client, info):
                self._client, self.info = client, info
                self._started.set()
                self._close.wait()
        except BaseException as exc:  # handed to the thread that waits for the client
            self._error = exc
        finally:
            self._started.set()

    def wait(self) -> Any:
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self._client

    def close(self) -> None:
        self._close.set()
        self._thread.join()


# package versions -------------------------------------------------------------------------

#: what must match between this client and the cluster (distributed's own required packages, and this one)
CHECKED_PACKAGES = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz")
PROVIDER_PACKAGE = "llmcompiler-provider"  # workers run this package's code; the scheduler need not have it
MAX_LISTED = 3


class VersionMismatch(RuntimeError):
    pass


def _python_minor(packages: dict[str, Any]) -> str | None:
    version = packages.get("python")
    return ".".join(str(version).split(".")[:2]) if version else None


def _relevant_versions(packages: dict[str, Any], *, runs_tasks: bool) -> dict[str, Any]:
    names = CHECKED_PACKAGES + ((PROVIDER_PACKAGE,) if runs_tasks else ())
    return {"python": _python_minor(packages), **{name: packages.get(name) for name in names}}


def version_differences(versions: dict[str, Any]) -> list[str]:
    """``client.get_versions(packages=[PROVIDER_PACKAGE])`` -> one phrase per mismatch, e.g.
    ``"msgpack 9.9.9 on worker tcp://10.0.0.5:4001 (here 1.2.4)"``."""
    mine = _relevant_versions(versions["client"]["packages"], runs_tasks=True)
    places = [("the scheduler", versions.get("scheduler"), False)]
    places += [
        (f"worker {address}", info, True) for address, info in sorted(versions.get("workers", {}).items())
    ]
    differences = []
    for place, info, runs_tasks in places:
        if not isinstance(info, dict):
            continue  # a worker that did not answer is not a mismatch
        theirs = _relevant_versions(info.get("packages", {}), runs_tasks=runs_tasks)
        for name, version in theirs.items():
            if version != mine[name]:
                found = version if version is not None else "missing"
                differences.append(f"{name} {found} on {place} (here {mine[name]})")
    return differences


def check_versions(client: Any) -> None:
    """Fail before any task runs when the cluster's key packages differ from this client's.

    ``client.get_versions(check=True)`` only warns, so the comparison is made here:
    Python (major.minor), distributed's required packages, and this provider on workers.
    """
    differences = version_differences(client.get_versions(packages=[PROVIDER_PACKAGE]))
    if differences:
        more = f"; and {len(differences) - MAX_LISTED} more" if len(differences) > MAX_LISTED else ""
        raise VersionMismatch(
            "the Dask cluster's packages differ from this client's: "
            + "; ".join(differences[:MAX_LISTED])
            + more
            + ": install the same versions on the client, scheduler and workers"
        )


# resources ---------------------------------------------------------------------------------

RESOURCE_CACHE_S = 5.0  # how long a client trusts what it last learned of its workers' resources

_resource_cache: "weakref.WeakKeyDictionary[Any, tuple[float, dict[str, dict[str, float]]]]" = (
    weakref.WeakKeyDictionary()
)
_resource_cache_lock = threading.Lock()


class ResourceUnavailable(RuntimeError):
    pass


def worker_resources(client: Any, max_age: float = RESOURCE_CACHE_S) -> dict[str, dict[str, float]]:
    """Each worker's declared resources (address -> {name: amount}), asked of the scheduler at most
    once per ``max_age`` seconds per client."""
    now = time.monotonic()
    with _resource_cache_lock:
        cached = _resource_cache.get(client)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    resources = {address: dict(info.get("resources") or {}) for address, info in workers.items()}
    with _resource_cache_lock:
        _resource_cache[client] = (now, resources)
    return resources


def _offers(resources: dict[str, float], needed: Mapping[str, float]) -> bool:
    return all(resources.get(name, 0) >= amount for name, amount in needed.items())


def _amounts(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={amount:g}" for name, amount in sorted(resources.items())) or "no resources"


def check_resources(client: Any, needed: Mapping[str, float]) -> None:
    """Raise ``ResourceUnavailable`` unless some worker offers all of ``needed``.

    Without this, Dask would keep such a task in ``no-worker`` until the run times out.
    A hit costs a dictionary lookup; a miss asks the scheduler again before failing,
    so workers that joined since the last look count.
    """
    if not needed:
        return
    if any(_offers(r, needed) for r in worker_resources(client).values()):
        return
    workers = worker_resources(client, max_age=0)
    if any(_offers(r, needed) for r in workers.values()):
        return
    listed = "; ".join(f"{address}: {_amounts(r)}" for address, r in sorted(workers.items())[:MAX_LISTED])
    if len(workers) > MAX_LISTED:
        listed += f"; and {len(workers) - MAX_LISTED} more"
    raise ResourceUnavailable(
        f"no Dask worker offers {_amounts(needed)} (workers: {listed or 'none'}): "
        f'start one with `dask worker <scheduler> --resources "{_amounts(needed).replace(", ", " ")}"`'
    )
