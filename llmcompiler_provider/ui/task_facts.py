"""Small facts about a recorded task that several pictures and tables show."""

from __future__ import annotations

from llmcompiler_provider.plan.signature import GPU_RESOURCE
from llmcompiler_provider.results import TaskRecord


def gpu_slots(task: TaskRecord) -> float:
    return float(task.resources.get(GPU_RESOURCE, 0) or 0)


def uses_gpu(task: TaskRecord) -> bool:
    return gpu_slots(task) > 0


def worker_name(address: str | None) -> str:
    """``10.0.0.11:40101`` for ``tcp://10.0.0.11:40101``."""
    if not address:
        return "unknown worker"
    return address.split("://", 1)[-1]
