"""The batch suite's workload: prompt ``k``'s plan, deterministic from ``k``, and the tools it calls.

Prompt ``k`` reads ``bench prompt k``. Its plan (what the scripted endpoint of
``batch_endpoint.py`` answers the planner with, and what the ``plan=`` runs are given)
has 2 to 8 tool calls of 100 to 500 ms: independent ``lookup`` calls first, then
``combine`` calls that each wait for one or two earlier calls. About 30% of a batch's
calls are *shared*: a ``lookup`` of one of the pool's keys, with the same literal
arguments in every prompt that draws it, so a batch that runs each identical pure call
once runs far fewer calls than the plans hold.

The tools (``TOOLSET``, importable as ``benchmarks.batch_workload:TOOLSET``) are pure
and blocking: each asks the endpoint's tool route to wait its milliseconds and answer,
so the endpoint, one process, counts every execution wherever the tool ran (a Dask
worker, an Airflow task, a killed CLI). The endpoint's address comes from the
``LLMCOMPILER_BENCH_ENDPOINT`` environment variable, which the suite sets before any
cluster or child process starts.
"""

from __future__ import annotations

import json
import os
import random
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import lru_cache

from llmcompiler_provider.tools.registry import Toolset

#: where the tools find the scripted endpoint (``http://127.0.0.1:PORT``)
ENDPOINT_ENV = "LLMCOMPILER_BENCH_ENDPOINT"
MIN_CALLS, MAX_CALLS = 2, 8
MIN_MS, MAX_MS, STEP_MS = 100, 500, 50
#: chance that an independent call is a lookup of a shared key: with independent calls about
#: three quarters of a plan, about 30% of all calls
SHARED_CHANCE = 0.4
#: how many prompts draw each shared key, on average (the pool is the batch's size over this)
PROMPTS_PER_SHARED_KEY = 8
PROMPT_TEXT = "bench prompt {k}"
PROMPT_PATTERN = re.compile(r"\bbench prompt (\d+)\b")
TOOL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Call:
    """One tool call of a plan: ``deps`` are the 1-based ids of the calls it waits for."""

    tool: str
    key: str
    ms: int
    deps: tuple[int, ...] = ()

    @property
    def shared(self) -> bool:
        return self.key.startswith("shared-")

    def line(self, index: int) -> str:
        if self.tool == "lookup":
            return f'{index}. lookup("{self.key}", {self.ms})'
        inputs = ", ".join(f"${d}" for d in self.deps)
        return f'{index}. combine("{self.key}", {self.ms}, [{inputs}])'


@dataclass(frozen=True)
class BatchWorkload:
    """The prompts ``0 .. prompts-1`` of a batch and their plans; ``shared_pool`` keys are shared
    (default: one per ``PROMPTS_PER_SHARED_KEY`` prompts, at least 4)."""

    prompts: int = 1000
    seed: int = 16
    shared_pool: int | None = None

    @property
    def pool(self) -> int:
        return self.shared_pool or max(4, self.prompts // PROMPTS_PER_SHARED_KEY)

    def prompt(self, k: int) -> str:
        return PROMPT_TEXT.format(k=k)

    def prompt_id(self, k: int) -> str:
        return f"bench-{k:06d}"

    def calls(self, k: int) -> list[Call]:
        return _calls(self.seed, self.pool, k)

    def plan(self, k: int) -> str:
        lines = [call.line(i) for i, call in enumerate(self.calls(k), 1)]
        return "\n".join([*lines, f"{len(lines) + 1}. join()"]) + "\n"

    def answer(self, k: int) -> str:
        """What the scripted joiner answers for prompt ``k``."""
        return f"answer {k}"

    def figures(self, count: int | None = None) -> dict[str, float | int]:
        """Calls in the first ``count`` prompts' plans, how many are shared, how many distinct calls they hold
        (what a batch that runs each identical call once executes)."""
        count = self.prompts if count is None else count
        calls = [(c.tool, c.key, c.ms) for k in range(count) for c in self.calls(k)]
        shared = sum(key.startswith("shared-") for _, key, _ in calls)
        return {
            "prompts": count,
            "calls": len(calls),
            "shared_calls": shared,
            "shared_share": shared / len(calls) if calls else 0.0,
            "distinct_calls": len(set(calls)),
            "call_ms_total": sum(ms for _, _, ms in calls),
        }


@lru_cache(maxsize=4096)
def _calls(seed: int, pool: int, k: int) -> list[Call]:
    rng = random.Random(f"batch-bench:{seed}:{k}")
    n = rng.randint(MIN_CALLS, MAX_CALLS)
    dependent = n // 3
    independent = n - dependent
    shared = [i for i in range(independent) if rng.random() < SHARED_CHANCE]
    keys = iter(rng.sample(range(pool), min(len(shared), pool)))
    calls: list[Call] = []
    for i in range(independent):
        j = next(keys, None) if i in shared else None
        if j is not None:  # the same literal arguments wherever key j is drawn
            calls.append(Call("lookup", f"shared-{j}", MIN_MS + STEP_MS * (j % 9)))
        else:
            calls.append(Call("lookup", f"p{k}-{i + 1}", _ms(rng)))
    for i in range(independent, n):
        deps = tuple(sorted(rng.sample(range(1, i + 1), min(i, rng.randint(1, 2)))))
        calls.append(Call("combine", f"p{k}-{i + 1}", _ms(rng), deps))
    return calls


def _ms(rng: random.Random) -> int:
    return rng.randrange(MIN_MS, MAX_MS + 1, STEP_MS)


def prompt_number(text: str) -> int | None:
    """``k`` of a text holding ``bench prompt k``, or None."""
    match = PROMPT_PATTERN.search(text)
    return int(match.group(1)) if match else None


# the tools ---------------------------------------------------------------------------------------
TOOLSET = Toolset(
    "batch-bench",
    description="The batch benchmark's service: lookups and combinations that each take the milliseconds given.",
)


@TOOLSET.tool(cost=0.3, blocking_io=True)
def lookup(key: str, ms: int) -> str:
    """Look ``key`` up in the benchmark's service; the call takes ``ms`` milliseconds."""
    return call_service("lookup", key, ms)


@TOOLSET.tool(cost=0.3, blocking_io=True)
def combine(key: str, ms: int, inputs: list) -> str:
    """Combine earlier results ``inputs`` under ``key`` in the benchmark's service; takes ``ms`` milliseconds."""
    return call_service("combine", key, ms, len(inputs))


def call_service(tool: str, key: str, ms: int, inputs: int = 0) -> str:
    """Ask the endpoint's tool route to run ``tool`` (it waits ``ms`` and counts the execution)."""
    base = os.environ.get(ENDPOINT_ENV)
    if not base:
        raise RuntimeError(
            f"{tool}: {ENDPOINT_ENV} is not set; the batch benchmark's tools run against the scripted endpoint "
            "that the suite starts (benchmarks/batch_endpoint.py)"
        )
    query = urllib.parse.urlencode({"tool": tool, "key": key, "ms": ms, "inputs": inputs})
    with urllib.request.urlopen(f"{base.rstrip('/')}/bench/tool?{query}", timeout=TOOL_TIMEOUT_S + ms / 1000) as response:
        return json.loads(response.read())["result"]

