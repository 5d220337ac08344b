"""A toolset for the distributed tests; worker processes import it (this folder is on their PYTHONPATH)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from llmcompiler_provider.execution.worker_state import worker_cached
from llmcompiler_provider.tools import Toolset

tools = Toolset("distributed-tests")

CACHED_STATE = "distributed-tests-state"
WARMED_NAME = "warm-probe"  # what the deployment's gpu-1 worker loads as it starts


def make_probe() -> dict:
    """Stands in for an expensive load: a fresh identity each time it really runs."""
    return {"id": uuid.uuid4().hex, "pid": os.getpid()}


@tools.tool(cost=0.1)
def cpu_work(seconds: float, label: str) -> dict:
    time.sleep(seconds)
    return {"pid": os.getpid(), "label": label}


@tools.tool(resources={"GPU": 1}, cost=0.2)
def gpu_work(seconds: float, label: str) -> dict:
    time.sleep(seconds)
    return {"pid": os.getpid(), "label": label}


@tools.tool(resources={"TPU": 1})
def tpu_work(label: str) -> str:
    return label


@tools.tool(resources={"GPU": 1}, cost=0.2)
def cached_state(label: str) -> dict:
    """Uses state loaded once per worker process; sleeps a little so calls spread over the GPU workers."""
    state = worker_cached(CACHED_STATE, make_probe)
    time.sleep(0.2)
    return {"state": state["id"], "pid": os.getpid(), "label": label}


@tools.tool
def touch(path: str) -> str:
    """Leaves a file behind: proof that the task ran."""
    Path(path).write_text("ran")
    return path
