"""What sending a run as an OpenTelemetry trace costs (``llmcompiler_provider/tracing.py``), per run,
in the process that records the run:

    .venv/bin/python -m benchmarks.tracing_cost [--runs 300] [--json FILE]

* off: no ``OTEL_TRACES_EXPORTER`` and no SDK tracer provider, the default: ``emit_run_trace``
  returns after reading two environment variables and imports nothing of OpenTelemetry;
* on, one run: ``OTEL_TRACES_EXPORTER=otlp`` over OTLP/HTTP to a collector on loopback that
  answers at once (a sink in this process): the spans are built and exported before the run ends;
* on, in a batch: the same, runs beneath a batch's span (``start_batch_trace``), exported in the
  background and flushed once at ``end_batch_trace``.

Each run is the shape of an LLMCompiler run: a planner and a joiner call, four tool calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmcompiler_provider import tracing
from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.results import LLMCall, PlanIteration, RunResult, TaskRecord

OFF_CALLS = 100_000


def sample_run(batch_id: str | None = None) -> RunResult:
    t = time.time()
    calls = [LLMCall(role=role, model="m", provider="openai", prompt_tokens=900, completion_tokens=60, latency_s=0.5,
                     ttft_s=0.1, started=t + offset, finish_reason="stop")
             for role, offset in (("planner", 0.0), ("joiner", 1.0))]
    tasks = [TaskRecord(id=i, tool="search", args=[f"query {i}"], status="success", worker="tcp://127.0.0.1:4000",
                        start=t + 0.2, stop=t + 0.6, attempts=1, result="a result " * 20) for i in range(1, 5)]
    return RunResult(prompt="How long is the Nile?", status="success", toolset="demo", started=t, finished=t + 1.6,
                     batch_id=batch_id, llm_calls=calls, plans=[PlanIteration(iteration=0, text="...", tasks=tasks)])


@contextmanager
def sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint on loopback that accepts every export at once; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def per_call_s(action: Callable[[], None], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - started) / calls


def measure_off(repeats: int) -> dict[str, Any]:
    assert not tracing.traces_configured(), "unset OTEL_TRACES_EXPORTER to measure the cost when tracing is off"
    run = sample_run()
    values = [per_call_s(lambda: tracing.emit_run_trace(run), OFF_CALLS) for _ in range(repeats)]
    imported = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    return {"per_run_us": [v * 1e6 for v in values], "opentelemetry_imported": imported}


def measure_on(endpoint: str, runs: int, repeats: int) -> dict[str, list[float]]:
    os.environ.update(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                      OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    tracing.shutdown()
    single, batched = [], []
    samples = [sample_run() for _ in range(runs)]
    tracing.emit_run_trace(samples[0])  # the tracer provider and the exporter are made once per process
    for _ in range(repeats):
        started = time.perf_counter()
        for run in samples:
            tracing.emit_run_trace(run)
        single.append((time.perf_counter() - started) / runs)

        batch_runs = [sample_run("bench-batch") for _ in range(runs)]
        started = time.perf_counter()
        batch = tracing.start_batch_trace("bench-batch", "bench")
        for run in batch_runs:
            tracing.emit_run_trace(run)
        tracing.end_batch_trace(batch, BatchSummary(batch_id="bench-batch", status="success", total=runs,
                                                    succeeded=runs, finished=time.time()))
        batched.append((time.perf_counter() - started) / runs)
    tracing.shutdown()
    return {"single_ms": [v * 1e3 for v in single], "batched_ms": [v * 1e3 for v in batched]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs traced per repeat when tracing is on")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        del os.environ[name]
    off = measure_off(args.repeats)
    with sink() as endpoint:
        on = measure_on(endpoint, args.runs, args.repeats)
    rows = {
        f"off (no exporter configured), per run, {OFF_CALLS:,} calls": (off["per_run_us"], "µs"),
        f"on, OTLP/HTTP to loopback, flushed per run, {args.runs} runs": (on["single_ms"], "ms"),
        f"on, OTLP/HTTP to loopback, {args.runs} runs in a batch, one flush": (on["batched_ms"], "ms"),
    }
    print(f"| emit_run_trace ({args.repeats} repeats) | median | min | max |")
    print("|---|---:|---:|---:|")
    for name, (values, unit) in rows.items():
        print(f"| {name} | {statistics.median(values):.3f} {unit} | {min(values):.3f} {unit} | "
              f"{max(values):.3f} {unit} |")
    print(f"OpenTelemetry modules imported while off: {len(off['opentelemetry_imported'])}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"off": off, "on": on, "runs": args.runs, "repeats": args.repeats}, out, indent=2)


if __name__ == "__main__":
    main()
