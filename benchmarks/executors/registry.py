"""The executors compared, in the order the report lists them."""

from __future__ import annotations

from typing import Any

from benchmarks.executors.asyncio_reference import AsyncioPollingExecutor
from benchmarks.executors.base import Executor
from benchmarks.executors.dask_submit import DaskSubmitExecutor
from benchmarks.executors.llmcompiler_run import LLMCompilerExecutor
from benchmarks.executors.sequential import SequentialExecutor
from llmcompiler_provider.results import ClusterInfo


def make_executors(client: Any, cluster: ClusterInfo, *, airflow: bool = False) -> list[Executor]:
    executors: list[Executor] = [
        LLMCompilerExecutor(
            client, cluster, "llmcompiler",
            "this project on the embedded cluster: compile with every pass (fusion included), then dispatch",
        ),
        LLMCompilerExecutor(
            client, cluster, "llmcompiler-streamed",
            "this project, each task dispatched the moment the streamed plan completes its line",
            dispatch_while_streaming=True, plain_workloads=False,
        ),
        LLMCompilerExecutor(
            client, cluster, "llmcompiler-nofusion",
            "this project with the fusion pass off: one Dask task per call, sent in one message",
            disabled_passes=("fusion",), streamed_workloads=False,
        ),
        DaskSubmitExecutor(client),
        AsyncioPollingExecutor(gpu_slots=max(1, cluster.gpu_slots)),
        SequentialExecutor(),
    ]
    if airflow:
        from benchmarks.executors.airflow_mapping import AirflowMappingExecutor

        executors.append(AirflowMappingExecutor())
    return executors
