"""The LLMCompiler reference's scheduling loop, re-implemented small and faithful, for comparison.

Written for this benchmark after ``src/llm_compiler/task_fetching_unit.py`` of
SqueezeAILab/LLMCompiler (MIT licence): one asyncio event loop; every
``SCHEDULING_INTERVAL`` (10 ms) it scans the remaining tasks for those whose
dependencies are done and starts each with ``asyncio.create_task``. When the
plan streams, ``aschedule`` takes tasks from a queue as the planner parses them,
and sleeps 10 ms whenever nothing is executable.

Differences, none of which favours this project: arguments are resolved with
this project's resolver (the reference substitutes ``$N`` text); a tool that is
not a coroutine runs in the loop's default thread pool, as LangChain's
``Tool.ainvoke`` runs a synchronous tool (the reference awaits coroutines only).
GPU calls are not limited: the calls go round-robin over as many simulated GPU
slots as the Dask cluster has.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from benchmarks import gpu_sim
from benchmarks.executors.base import CallInterval, Outcome, Prepared, arguments, known_result, result_text
from benchmarks.replay import paced_async
from benchmarks.workloads import Workload
from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.plan import PlanStream
from llmcompiler_provider.plan.ir import Task as PlanTask

SCHEDULING_INTERVAL = 0.01  # seconds, as in the reference


@dataclass
class Task:
    """The reference's task: a tool, its arguments, the ids it depends on, and its observation."""

    idx: int
    plan_task: PlanTask
    tool: Callable[..., Any]
    is_coroutine: bool
    dependencies: frozenset[int]
    observation: Any = None
    interval: CallInterval | None = None

    async def __call__(self, known: dict[int, Observation]) -> Any:
        args, kwargs = arguments(self.plan_task, known)
        start = time.time()
        if self.is_coroutine:
            value = await self.tool(*args, **kwargs)
        else:
            value = await asyncio.get_running_loop().run_in_executor(None, lambda: self.tool(*args, **kwargs))
        self.interval = CallInterval(self.idx, start, time.time(), "local", result_text(value))
        return value


@dataclass
class TaskFetchingUnit:
    tasks: dict[int, Task] = field(default_factory=dict)
    tasks_done: dict[int, asyncio.Event] = field(default_factory=dict)
    remaining_tasks: set[int] = field(default_factory=set)
    known: dict[int, Observation] = field(default_factory=dict)

    def set_tasks(self, tasks: dict[int, Task]) -> None:
        self.tasks.update(tasks)
        self.tasks_done.update({idx: asyncio.Event() for idx in tasks})
        self.remaining_tasks.update(tasks)

    def _all_tasks_done(self) -> bool:
        return all(self.tasks_done[d].is_set() for d in self.tasks_done)

    def _get_all_executable_tasks(self) -> list[int]:
        return [
            idx
            for idx in self.remaining_tasks
            if all(self.tasks_done[d].is_set() for d in self.tasks[idx].dependencies)
        ]

    async def _run_task(self, task: Task) -> None:
        task.observation = await task(self.known)
        self.known[task.idx] = known_result(task.observation)
        self.tasks_done[task.idx].set()

    async def schedule(self) -> None:
        """Run all tasks in parallel, respecting dependencies (polling every 10 ms)."""
        while not self._all_tasks_done():
            for idx in self._get_all_executable_tasks():
                asyncio.create_task(self._run_task(self.tasks[idx]))
                self.remaining_tasks.remove(idx)
            await asyncio.sleep(SCHEDULING_INTERVAL)

    async def aschedule(self, task_queue: asyncio.Queue) -> None:
        """Take tasks from the queue as they are planned and schedule them."""
        no_more_tasks = False
        while True:
            if not no_more_tasks:
                task = await task_queue.get()
                if task is None:
                    no_more_tasks = True
                else:
                    self.set_tasks({task.idx: task})
            executable = self._get_all_executable_tasks()
            if executable:
                for idx in executable:
                    asyncio.create_task(self._run_task(self.tasks[idx]))
                    self.remaining_tasks.remove(idx)
            elif no_more_tasks and self._all_tasks_done():
                break
            else:
                await asyncio.sleep(SCHEDULING_INTERVAL)


class AsyncioPollingExecutor:
    name = "asyncio-poll-10ms"
    description = "the LLMCompiler reference's loop: asyncio, polls for ready tasks every 10 ms, one process"

    def __init__(self, gpu_slots: int) -> None:
        self.gpu_slots = gpu_slots

    def applies_to(self, workload: Workload) -> bool:
        return True

    def run(self, prepared: Prepared) -> Outcome:
        gpu_sim.set_slots_per_process(self.gpu_slots)
        try:
            return asyncio.run(self._run(prepared))
        finally:
            gpu_sim.set_slots_per_process(1)

    async def _run(self, prepared: Prepared) -> Outcome:
        started = time.time()
        unit = TaskFetchingUnit()
        if prepared.workload.streamed:
            queue: asyncio.Queue = asyncio.Queue()
            planner = asyncio.create_task(self._plan(prepared, queue, started))
            await unit.aschedule(queue)
            await planner
        else:
            unit.set_tasks({t.id: self._task(prepared, t) for t in prepared.tasks})
            await unit.schedule()
        wall = time.time() - started
        return Outcome(wall, [t.interval for t in unit.tasks.values() if t.interval is not None], started)

    async def _plan(self, prepared: Prepared, queue: asyncio.Queue, started: float) -> None:
        """The planner's side: parse the streamed text, queue each task the moment it is complete."""
        stream = PlanStream(prepared.toolset.signatures(), optimize=False)
        async for piece in paced_async(prepared.workload.plan, prepared.tokens_per_s, started):
            for task in stream.feed(piece):
                await queue.put(self._task(prepared, task))
        for task in stream.flush():
            await queue.put(self._task(prepared, task))
        await queue.put(None)

    @staticmethod
    def _task(prepared: Prepared, task: PlanTask) -> Task:
        tool = prepared.toolset[task.tool]
        return Task(task.id, task, tool.fn, tool.is_async, task.deps)
