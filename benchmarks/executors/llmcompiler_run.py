"""This project: ``LLMCompilerRun`` on the same cluster, whole plan or streamed by the planner."""

from __future__ import annotations

import time
from typing import Any

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from benchmarks.executors.base import CallInterval, Outcome, Prepared
from benchmarks.replay import ReplayChatModel
from benchmarks.workloads import Workload
from llmcompiler_provider.results import ClusterInfo


class LLMCompilerExecutor:
    """A plain workload runs as ``LLMCompilerRun(plan=...)``. A streamed one comes from the
    replayed planner: with ``dispatch_while_streaming`` each task is dispatched the moment
    its line is complete (streaming-safe passes only), otherwise once the whole plan is
    in (every pass)."""

    def __init__(
        self,
        client: Any,
        cluster: ClusterInfo,
        name: str,
        description: str,
        *,
        disabled_passes: tuple[str, ...] = (),
        dispatch_while_streaming: bool = False,
        plain_workloads: bool = True,
        streamed_workloads: bool = True,
    ) -> None:
        self.client, self.cluster = client, cluster
        self.name, self.description = name, description
        self.disabled_passes = disabled_passes
        self.dispatch_while_streaming = dispatch_while_streaming
        self.plain_workloads, self.streamed_workloads = plain_workloads, streamed_workloads

    def applies_to(self, workload: Workload) -> bool:
        return self.streamed_workloads if workload.streamed else self.plain_workloads

    def run(self, prepared: Prepared) -> Outcome:
        moments: dict[str, float] = {}

        def on_event(name: str, details: dict[str, Any]) -> None:
            moments.setdefault(name, time.time())

        config = RunConfig(
            toolset=prepared.toolset,
            max_replans=0,
            disabled_passes=self.disabled_passes,
            streaming=self.dispatch_while_streaming,
            run_timeout=600.0,
            store_url="none",
        )
        if not prepared.workload.streamed:
            run = LLMCompilerRun(plan=prepared.workload.plan, config=config, client=self.client,
                                 cluster_info=self.cluster, on_event=on_event)
        else:
            llm = ReplayChatModel(prepared.workload.plan, prepared.tokens_per_s)
            run = LLMCompilerRun("benchmark question", llm=llm, config=config, client=self.client,
                                 cluster_info=self.cluster, on_event=on_event)
        started = time.time()
        result = run.execute()
        if result.status != "success" or "finished" not in moments:
            raise RuntimeError(f"{self.name} on {prepared.workload.name}: {result.status}: {result.error}")
        tasks = result.plans[-1].tasks
        calls = [CallInterval(t.id, t.start, t.stop, t.worker, t.result, t.status == "success")
                 for t in tasks if t.start is not None and t.stop is not None]
        phases = {"first_dispatch": (result.timings.first_dispatch_s or 0.0) + result.started - started}
        return Outcome(moments["finished"] - started, calls, started, phases=phases, units=len({t.unit for t in tasks}))
