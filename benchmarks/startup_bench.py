"""What the embedded default costs an Airflow task before its planner writes: each figure measured in a
fresh Python process (as every task process is), the alternatives side by side, medians of --repeats.

    .venv/bin/python -m benchmarks.startup_bench [--repeats 5] [--json FILE]

* cluster: ``open_client`` on the embedded default (scheduler and workers on threads of the process)
  against two worker processes (the default until this benchmark), Dask's import included;
* model: loading SmolLM2-135M from the page cache (``make_chat_model("local")``);
* first plan token: the planner's time to first token with no saved model state against a state
  saved by an earlier process (``llm/prompt_states.py``);
* run start to first plan token: ``LLMCompilerRun`` as the operator runs it (its cluster starts on a
  background thread while the planner starts), model already loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

CLUSTER = """
import time
t = time.perf_counter()
from llmcompiler_provider.execution.cluster import ClusterOptions, open_client
with open_client(ClusterOptions(processes={processes})) as (client, info):
    client.submit(sum, [1, 2]).result()
    print(time.perf_counter() - t)
"""

MODEL = """
import time
t = time.perf_counter()
from llmcompiler_provider.llm import make_chat_model
make_chat_model("local")
print(time.perf_counter() - t)
"""

FIRST_TOKEN = """
from llmcompiler_provider.agent.prompts import planner_messages
from llmcompiler_provider.llm import make_chat_model, plan_grammar
from llmcompiler_provider.plan import END_OF_PLAN
from llmcompiler_provider.tools.registry import load_toolset
tools = load_toolset("demo")
llm = make_chat_model("local")
stream = llm.stream(planner_messages("How long is the Nile?", tools), stop=[END_OF_PLAN], max_tokens=8,
                    grammar=plan_grammar(tools.signatures()))
for _ in stream:
    pass
print(stream.usage.ttft_s)
"""

RUN = """
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import make_chat_model
llm = make_chat_model("local")
result = LLMCompilerRun("How long is the Nile?", llm=llm, config=RunConfig(store_url="none", max_replans=0)).execute()
planner = next(call for call in result.llm_calls if call.role == "planner")
print(planner.started + planner.ttft_s - result.started)
"""


def measure(code: str, repeats: int, env: dict[str, str] | None = None) -> list[float]:
    values = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, check=True)
        values.append(float(done.stdout.strip().splitlines()[-1]))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as states:
        saved = {"LLMCOMPILER_MODEL_STATES": states}
        measure(FIRST_TOKEN, 1, saved)  # an earlier process saves the state
        rows = {
            "cluster: threads of the task process (default)": measure(CLUSTER.format(processes=False), args.repeats),
            "cluster: 2 worker processes": measure(CLUSTER.format(processes=True), args.repeats),
            "model load (page cache)": measure(MODEL, args.repeats),
            "first plan token: no saved state": measure(FIRST_TOKEN, args.repeats, {"LLMCOMPILER_MODEL_STATES": "off"}),
            "first plan token: state saved by an earlier process": measure(FIRST_TOKEN, args.repeats, saved),
            "run start to first plan token (default)": measure(RUN, args.repeats, saved),
        }
    print(f"| what (fresh process each, {args.repeats} repeats) | median s | min s | max s |")
    print("|---|---:|---:|---:|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
