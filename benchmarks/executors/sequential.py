"""Sequential: one call at a time, in plan order, in this process (what a ReAct agent does)."""

from __future__ import annotations

import asyncio
import time

from benchmarks import gpu_sim
from benchmarks.executors.base import CallInterval, Outcome, Prepared, arguments, known_result, result_text
from benchmarks.workloads import Workload


class SequentialExecutor:
    name = "sequential"
    description = "one call at a time in plan order, in the benchmark process"

    def applies_to(self, workload: Workload) -> bool:
        return not workload.streamed  # a ReAct agent interleaves calls with its LLM: no plan streams

    def run(self, prepared: Prepared) -> Outcome:
        gpu_sim.set_slots_per_process(1)
        started = time.time()
        loop = asyncio.new_event_loop()
        known, calls = {}, []
        try:
            for task in prepared.tasks:
                tool = prepared.toolset[task.tool]
                args, kwargs = arguments(task, known)
                start = time.time()
                value = loop.run_until_complete(tool.fn(*args, **kwargs)) if tool.is_async else tool.fn(*args, **kwargs)
                calls.append(CallInterval(task.id, start, time.time(), "local", result_text(value)))
                known[task.id] = known_result(value)
        finally:
            loop.close()
        return Outcome(time.time() - started, calls, started)
