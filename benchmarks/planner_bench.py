"""Issue 3's figures: how fast a streamed task starts, and where a prompt's time goes.

    .venv/bin/python -m benchmarks.planner_bench [--repeats 5]

1. Line-to-start latency: a 12-task plan is fed to ``PlanStream`` at a fixed token
   rate (as an LLM would stream it); for each task, the time from its line being
   complete (``feed`` returns it and it is submitted) to its tool starting on a
   worker. Compared with the LLMCompiler reference executor's 10 ms polling interval
   (whose mean wait alone is 5 ms on top of its own dispatch).
2. End-to-end latency of the local model on three demo questions, split into
   planning, execution and joining (`LLMCompilerRun` on the embedded cluster).
"""

from __future__ import annotations

import argparse
import statistics
import time

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.execution.cluster import ClusterOptions, open_client
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.llm import get_local_model
from llmcompiler_provider.plan import PlanStream
from llmcompiler_provider.tools.demo import demo

QUESTIONS = [
    "Which is taller, the Eiffel Tower or the Statue of Liberty?",
    "What is the combined population of Japan and Canada?",
    "Who painted the Mona Lisa?",
]
TOKENS_PER_S = 50.0  # a typical hosted model's streaming rate
CHARS_PER_TOKEN = 4


def streamed_plan(n: int) -> str:
    lines = [f'{i}. search("query number {i} about towers")' for i in range(1, n + 1)]
    return "\n".join(lines) + f"\n{n + 1}. join()\n"


def line_to_start(client, repeats: int) -> list[float]:
    delays = []
    text = streamed_plan(12)
    step = CHARS_PER_TOKEN
    for r in range(repeats):
        stream = PlanStream(demo.signatures(), optimize=False)
        dispatcher = Dispatcher(client, demo, f"bench{r}")
        for i in range(0, len(text), step):
            dispatcher.submit(stream.feed(text[i : i + step]), stream.graph)
            time.sleep(1 / TOKENS_PER_S)
        graph = stream.close()
        records = dispatcher.records(dispatcher.wait(timeout=60), graph)
        delays += [(rec.start - rec.queued) * 1000 for rec in records if rec.start and rec.queued]
    return delays


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with open_client(ClusterOptions(processes=True)) as (client, info):
        client.submit(sum, [1]).result()  # warm the workers
        delays = line_to_start(client, args.repeats)
        print(f"line complete -> tool started on a worker ({len(delays)} tasks, {info.kind} cluster, "
              f"{info.workers} worker processes):")
        print(f"  median {statistics.median(delays):.2f} ms, p95 {percentile(delays, 0.95):.2f} ms, "
              f"min {min(delays):.2f} ms, max {max(delays):.2f} ms  (reference executor: polls every 10 ms)")
        model = get_local_model()
        print("\nend to end with the local model (planning / execution / joining, seconds):")
        for question in QUESTIONS:
            config = RunConfig(store_url="none", max_replans=0)
            result = LLMCompilerRun(question, llm=model, config=config, client=client, cluster_info=info).execute()
            t = result.timings
            print(f"  {question[:55]:55s} total {t.wall_s:6.2f}  plan {t.planning_s:6.2f}  "
                  f"exec {t.execution_s:5.2f}  join {t.joining_s:6.2f}  first dispatch {t.first_dispatch_s or 0:5.2f}  "
                  f"overlap {t.overlap_s:5.2f}  [{result.status}] {result.answer!r}")


if __name__ == "__main__":
    main()
