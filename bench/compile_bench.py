"""Compile time and peak memory of generated plans (lex + parse + analyze + optimize).

    .venv/bin/python bench/compile_bench.py [--sizes 1000 10000 100000] [--repeat 3]

Each plan mixes what planners write: thoughts, searches (batchable), keyword
arguments, references bare and inside strings, lists and dicts, duplicates for
CSE, chains and fan-ins. Prints one row per size: best wall time of ``repeat``
runs of ``compile_plan`` (all passes), the time without optimization, the
streamed time (``PlanStream.feed`` line by line), and the peak memory of one
compile measured with tracemalloc (in its own run, since tracing slows it down).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from llmcompiler_provider.plan import PlanStream, compile_plan
from llmcompiler_provider.plan.signature import Param, ToolSignature

CATALOGUE = {
    "search": ToolSignature("search", (Param("query", annotation="str"),), batchable=True, cost=0.5),
    "math": ToolSignature("math", (Param("question"), Param("context", required=False)), cost=0.01),
    "llm": ToolSignature(
        "llm", (Param("prompt"), Param("context", required=False)), resources={"GPU": 1}, cost=2.0
    ),
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


def best_of(repeat: int, fn) -> float:
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
    compile_plan(text, CATALOGUE)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{'tasks':>8} {'plan KiB':>9} {'compile s':>10} {'µs/task':>8} {'no-opt s':>9} {'stream s':>9} {'peak MiB':>9}")
    for size in options.sizes:
        text = generate_plan(size)
        graph = compile_plan(text, CATALOGUE)
        assert graph.has_join and len(graph) > 0
        full = best_of(options.repeat, lambda: compile_plan(text, CATALOGUE))
        bare = best_of(options.repeat, lambda: compile_plan(text, CATALOGUE, optimize=False))
        stream = best_of(options.repeat, lambda: streamed(text))
        peak = peak_memory(text)
        print(
            f"{size:>8} {len(text.encode()) / 1024:>9.0f} {full:>10.3f} {full / size * 1e6:>8.1f} "
            f"{bare:>9.3f} {stream:>9.3f} {peak / 2**20:>9.1f}"
        )


if __name__ == "__main__":
    main()
