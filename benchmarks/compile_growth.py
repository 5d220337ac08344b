"""Compile time and peak memory of generated plans of 1k, 10k and 100k tasks (the growth curve).

A plan mixes what planners write: thoughts, batchable searches, keyword
arguments, references bare and inside strings, lists and dicts, duplicates for
CSE, chains and fan-ins. ``seconds`` is the best of ``repeat`` runs of
``compile_plan`` with every pass (lex + parse + analyze + optimize), the first in
a fresh process; ``peak_mb`` is how far that process's peak resident memory rose
above its resident memory just before the compile (Linux: the peak is reset with
``/proc/self/clear_refs``; tracemalloc would take minutes on 100k tasks).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

from benchmarks import child_environment
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


def fresh_process_compile(size: int) -> tuple[float, float]:
    """(seconds, peak MiB growth) of one compile of a generated plan in a new process."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compile_growth", str(size)],
        env=child_environment(), capture_output=True, text=True, timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"compiling {size:,} tasks in a fresh process failed: {done.stderr.strip()[-300:]}")
    figures = json.loads(done.stdout)
    return figures["seconds"], figures["peak_mb"]


def _compile_once(size: int) -> dict[str, float]:
    text = generate_plan(size)
    gc.collect()
    before = _reset_peak_rss()
    start = time.perf_counter()
    compile_plan(text, CATALOGUE)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": max(0, _peak_rss() - before) / 2**20}


def _reset_peak_rss() -> int:
    """Forget the peak resident memory so far (Linux ``clear_refs``); the current resident memory."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status_bytes("VmRSS")


def _peak_rss() -> int:
    return _status_bytes("VmHWM")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


@dataclass(frozen=True)
class CompileFigures:
    tasks: int
    plan_kib: float
    seconds: float
    seconds_unoptimized: float | None
    seconds_streamed: float | None
    peak_mb: float

    @property
    def us_per_task(self) -> float:
        return self.seconds / self.tasks * 1e6


def measure(size: int, repeat: int = 3, *, detail: bool = True) -> CompileFigures:
    """Compile figures for a generated plan of ``size`` tasks; ``detail`` adds the times
    without passes and through ``PlanStream`` (None otherwise)."""
    seconds, peak = fresh_process_compile(size)
    text = generate_plan(size)
    if repeat > 1:
        seconds = min(seconds, best_of(repeat - 1, lambda: compile_plan(text, CATALOGUE)))
    return CompileFigures(
        tasks=size,
        plan_kib=len(text.encode()) / 1024,
        seconds=seconds,
        seconds_unoptimized=best_of(repeat, lambda: compile_plan(text, CATALOGUE, optimize=False)) if detail else None,
        seconds_streamed=best_of(repeat, lambda: streamed(text)) if detail else None,
        peak_mb=peak,
    )


if __name__ == "__main__":
    print(json.dumps(_compile_once(int(sys.argv[1]))))
