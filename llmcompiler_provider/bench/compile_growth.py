"""Compile time and peak memory of generated plans of 1k, 10k and 100k tasks (the growth curve).

A plan mixes what planners write: thoughts, batchable searches, keyword
arguments, references bare and inside strings, lists and dicts, duplicates for
CSE, chains and fan-ins. ``seconds`` is the best of ``repeat`` runs of
``compile_plan`` with every pass (lex + parse + analyze + optimize); ``peak_mb``
the peak of traced allocations during one more compile (tracemalloc, in its own
run since tracing slows it down).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable

from llmcompiler_provider.plan import PlanStream, compile_plan
from llmcompiler_provider.plan.signature import Param, ToolSignature

CATALOGUE = {
    "search": ToolSignature("search", (Param("query", annotation="str"),), batchable=True, cost=0.5),
    "math": ToolSignature("math", (Param("question"), Param("context", required=False)), cost=0.01),
    "llm": ToolSignature("llm", (Param("prompt"), Param("context", required=False)), resources={"GPU": 1}, cost=2.0),
    "notify": ToolSignature("notify", (Param("message"),), pure=False, cost=0.1),
}


def generate_plan(n_tasks: int) -> str:
    """A valid plan of ``n_tasks`` tool calls ending with join()."""
    lines = ["Thought: gather facts in parallel, then combine them"]
    for i in range(1, n_tasks + 1):
        kind = i % 8
        if kind in (1, 2) or i < 4:
            lines.append(f'{i}. search("fact number {i % 97} about topic {i // 8}")')
        elif kind == 3:
            lines.append(f'{i}. search(query="fact number {(i - 2) % 97} about topic {(i - 2) // 8}")')
        elif kind == 4:
            lines.append(f'{i}. math("sum of ${i - 1} and ${{{i - 2}}}", [${i - 1}, ${i - 2}, 3.5, -2e3])')
        elif kind == 5:
            lines.append(f'{i}. llm(prompt="summarize $%d", context={{"facts": [${i - 2}], "n": {i}}})' % (i - 1))
        elif kind == 6:
            lines.append(f"# step {i}")
            lines.append(f'{i}. math(question="which is larger", context=[${i - 1}, ${i - 5}, true, None])')
        elif kind == 7:
            lines.append(f"{i}. llm('chain \\'{i}\\'', ${i - 1})")
        else:
            lines.append(f'{i}. notify(message="done with ${i - 1}")')
    lines.append(f"{n_tasks + 1}. join()")
    lines.append("<END_OF_PLAN>")
    return "\n".join(lines) + "\n"


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def streamed(text: str) -> None:
    stream = PlanStream(CATALOGUE)
    for line in text.splitlines(keepends=True):
        stream.feed(line)
    stream.close(require_join=True)


def peak_memory(text: str) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        compile_plan(text, CATALOGUE)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass(frozen=True)
class CompileFigures:
    tasks: int
    plan_kib: float
    seconds: float
    seconds_unoptimized: float
    seconds_streamed: float
    peak_mb: float

    @property
    def us_per_task(self) -> float:
        return self.seconds / self.tasks * 1e6


def measure(size: int, repeat: int = 3) -> CompileFigures:
    text = generate_plan(size)
    graph = compile_plan(text, CATALOGUE)
    if not graph.has_join or not len(graph):
        raise RuntimeError(f"the generated plan of {size} tasks did not compile to a graph")
    return CompileFigures(
        tasks=size,
        plan_kib=len(text.encode()) / 1024,
        seconds=best_of(repeat, lambda: compile_plan(text, CATALOGUE)),
        seconds_unoptimized=best_of(repeat, lambda: compile_plan(text, CATALOGUE, optimize=False)),
        seconds_streamed=best_of(repeat, lambda: streamed(text)),
        peak_mb=peak_memory(text) / 2**20,
    )
