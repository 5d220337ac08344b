"""Where plans run: an existing Dask scheduler, a LocalCUDACluster, or a CPU LocalCluster.

Without GPUs the embedded cluster is a ``LocalCluster`` whose workers each declare
``GPU=1`` slots, so GPU-annotated tools still run one per slot (the run records that
it used this CPU fallback).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from llmcompiler_provider.results import ClusterInfo

GPU_RESOURCE = "GPU"
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 32  # tools are mostly I/O-bound: many threads per worker process


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
    processes: bool = True
    gpu_fallback: str = "cpu"  # "cpu": run GPU tools on CPU slots; "fail": refuse without GPUs
    security: Any = None  # distributed.Security for TLS, from a Dask connection
    rmm_pool_size: str | None = None  # dask-cuda options, used only with GPUs
    device_memory_limit: str | None = None
    dashboard: bool = False


def _start_local_cluster(options: ClusterOptions) -> tuple[Any, ClusterInfo]:
    gpus = visible_gpu_count()
    dashboard = ":0" if options.dashboard else None
    if gpus:
        from dask_cuda import LocalCUDACluster

        kwargs: dict[str, Any] = {
            "threads_per_worker": options.threads_per_worker,
            "resources": {GPU_RESOURCE: 1},
            "dashboard_address": dashboard,
        }
        if options.rmm_pool_size:
            kwargs["rmm_pool_size"] = options.rmm_pool_size
        if options.device_memory_limit:
            kwargs["device_memory_limit"] = options.device_memory_limit
        cluster = LocalCUDACluster(**kwargs)
        return cluster, ClusterInfo(kind="local-cuda", address=cluster.scheduler_address, workers=gpus, gpu_slots=gpus)
    if options.gpu_fallback == "fail":
        raise GPUUnavailable("no GPU is visible and gpu_fallback='fail': refusing to run GPU tools on the CPU")
    from distributed import LocalCluster

    n_workers = options.n_workers or DEFAULT_WORKERS
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=options.threads_per_worker,
        processes=options.processes,
        resources={GPU_RESOURCE: options.gpu_slots_per_worker},
        dashboard_address=dashboard,
        silence_logs=40,
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
    workers = client.scheduler_info(n_workers=-1).get("workers", {}) if hasattr(client, "scheduler_info") else {}
    slots = sum(int(w.get("resources", {}).get(GPU_RESOURCE, 0)) for w in workers.values())
    return ClusterInfo(kind="address", address=address, workers=len(workers), gpu_slots=slots)


@contextmanager
def open_client(options: ClusterOptions | None = None) -> Iterator[tuple[Any, ClusterInfo]]:
    """A connected ``distributed.Client`` and a description of its cluster; closed on exit."""
    from distributed import Client

    options = options or ClusterOptions()
    if options.address:
        client = Client(options.address, security=options.security, timeout="10s")
        try:
            check_versions(client)
            yield client, describe_remote(client, options.address)
        finally:
            client.close()
        return
    cluster, info = _start_local_cluster(options)
    client = Client(cluster)
    try:
        yield client, info
    finally:
        client.close()
        cluster.close()


class VersionMismatch(RuntimeError):
    pass


def check_versions(client: Any) -> None:
    """Fail before any task runs when the client's and workers' key packages differ."""
    try:
        client.get_versions(check=True)
    except ValueError as exc:
        raise VersionMismatch(f"Dask cluster package versions do not match this client's: {exc}") from exc
