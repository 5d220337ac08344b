"""The benchmark workloads: plans in the LLMCompiler format, over the bench tools.

Each workload is a plan text; every executor runs the same text (the baselines
take the unoptimized compiled graph, the project compiles it itself).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # io | cpu | gpu
    plan: str
    description: str
    streamed: bool = False  # the plan arrives at a fixed token rate (planning overlaps execution)
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def tasks(self) -> int:
        return sum(1 for line in self.plan.splitlines() if line[:1].isdigit() and "join()" not in line)


def _plan(lines: list[str], thought: str | None = None) -> str:
    head = [f"Thought: {thought}"] if thought else []
    return "\n".join(head + [f"{i}. {line}" for i, line in enumerate(lines, 1)] + [f"{len(lines) + 1}. join()", "<END_OF_PLAN>"]) + "\n"


def _refs(ids: range | list[int]) -> str:
    return "[" + ", ".join(f"${i}" for i in ids) + "]"


def fan_out(n: int, tool: str, label: str = "item") -> str:
    return _plan([f'{tool}("{label} {i}")' for i in range(1, n + 1)], f"{n} independent calls at once")


def layers(depth: int, width: int, tool: str) -> str:
    lines = []
    for layer in range(depth):
        previous = range(len(lines) - width + 1, len(lines) + 1) if layer else None
        for j in range(1, width + 1):
            after = f", {_refs(previous)}" if previous else ""
            lines.append(f'{tool}("layer {layer + 1} call {j}"{after})')
    return _plan(lines, f"{depth} layers of {width}, each needing the whole previous layer")


def chain(n: int, tool: str) -> str:
    lines = [f'{tool}("step 1")'] + [f'{tool}("step {i}", [${i - 1}])' for i in range(2, n + 1)]
    return _plan(lines, f"{n} steps, each needing the one before")


def random_dag(n: int, seed: int = 7, max_inputs: int = 3, window: int = 50) -> str:
    """``n`` calls of 5 or 20 ms; each reads up to ``max_inputs`` of the ``window`` calls before it."""
    rng = random.Random(seed)
    lines = []
    for i in range(1, n + 1):
        tool = "io_5ms" if rng.random() < 0.5 else "io_20ms"
        earlier = range(max(1, i - window), i)
        inputs = sorted(rng.sample(earlier, min(len(earlier), rng.randint(0, max_inputs))))
        after = f", {_refs(inputs)}" if inputs else ""
        lines.append(f'{tool}("node {i}"{after})')
    return _plan(lines, f"a random DAG of {n} calls (seed {seed})")


def compare_two() -> str:
    """LLMCompiler's HotpotQA shape: two lookups, then a comparison."""
    return _plan(
        ['search("Eiffel Tower height")', 'search("Statue of Liberty height")', 'math("compare which is larger", [$1, $2])'],
        "look both heights up at once, then compare",
    )


def four_lookups() -> str:
    """LLMCompiler's Movie Recommendation shape: four independent lookups."""
    movies = ("Heat", "Alien", "Casablanca", "Vertigo")
    return _plan([f'search("{m} genre and year")' for m in movies], "look every movie up at once")


def lookups_then_math() -> str:
    """LLMCompiler's ParallelQA shape: four lookups, two sums, one final comparison."""
    return _plan(
        [
            'search("population of France")',
            'search("population of Germany")',
            'search("population of Italy")',
            'search("population of Spain")',
            'math("sum", [$1, $2])',
            'math("sum", [$3, $4])',
            'math("compare which is larger", [$5, $6])',
        ],
        "four lookups in parallel, then arithmetic",
    )


def cpu_fan_out(n: int, work: int, tool: str = "crunch") -> str:
    return _plan([f'{tool}("block {i}", {work})' for i in range(1, n + 1)], f"{n} pure-Python computations")


def io_workloads() -> list[Workload]:
    return [
        Workload("fanout-8x200ms", "io", fan_out(8, "io_200ms"), "8 independent 200 ms calls"),
        Workload("fanout-64x100ms", "io", fan_out(64, "io_100ms"), "64 independent 100 ms calls"),
        Workload("fanout-512x5ms", "io", fan_out(512, "io_5ms"), "512 independent 5 ms calls"),
        Workload("layers-4x4x100ms", "io", layers(4, 4, "io_100ms"), "4 layers of 4 x 100 ms, each layer needs all of the previous"),
        Workload("chain-20x20ms", "io", chain(20, "io_20ms"), "20 x 20 ms, each needs the one before"),
        Workload(
            "chain-20x25ms", "io", chain(20, "io_25ms"),
            "20 x 25 ms, each needs the one before (the issue's reference figure for the polling loop)",
        ),
        Workload("random-dag-1000", "io", random_dag(1000), "1,000 calls of 5 or 20 ms, up to 3 inputs each among the previous 50"),
        Workload("llmc-compare-2", "io", compare_two(), "2 searches (200 ms), then math"),
        Workload("llmc-lookups-4", "io", four_lookups(), "4 searches (200 ms)"),
        Workload("llmc-lookups-math", "io", lookups_then_math(), "4 searches, 2 sums, 1 comparison"),
        Workload(
            "fanout-64x100ms-blocking", "io", fan_out(64, "block_100ms"),
            "64 independent 100 ms calls of a blocking (thread-holding) tool",
        ),
    ]


def streamed_workloads() -> list[Workload]:
    """The LLMCompiler shapes again, with the plan arriving token by token."""
    return [
        Workload(f"streamed-{name}", "io", plan, f"{text}; plan streamed", streamed=True)
        for name, plan, text in (
            ("llmc-compare-2", compare_two(), "2 searches, then math"),
            ("llmc-lookups-4", four_lookups(), "4 searches"),
            ("llmc-lookups-math", lookups_then_math(), "4 searches, 2 sums, 1 comparison"),
            ("fanout-8x200ms", fan_out(8, "io_200ms"), "8 independent 200 ms calls"),
        )
    ]


def cpu_workloads(work: int) -> list[Workload]:
    """``work``: ``crunch`` iterations that take about 200 ms here."""
    return [
        Workload("cpu-fanout-8x200ms", "cpu", cpu_fan_out(8, work), "8 pure-Python computations of about 200 ms"),
        Workload(
            "cpu-fanout-8x12ms", "cpu", cpu_fan_out(8, max(1, work * 12 // 200), "crunch_12ms"),
            "8 pure-Python computations of about 12 ms (short: fusion grouped them until the toolset "
            "measured that they compute)",
        ),
    ]


def gpu_workloads() -> list[Workload]:
    return [
        Workload(
            "gpu-fanout-16x100ms", "gpu", fan_out(16, "gpu_100ms", "prompt"),
            "16 calls needing one (simulated) GPU slot for 100 ms each",
        )
    ]
