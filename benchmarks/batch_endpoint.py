"""A scripted OpenAI-compatible chat completions endpoint for the batch suite, with a serving model's limits.

``POST /v1/chat/completions`` (streamed as server-sent events, the usage chunk when
``stream_options.include_usage`` asks for it, ``stop`` honoured) answers the planner
with prompt ``k``'s plan from ``batch_workload.py`` and the joiner with
``Finish(answer k)``; it tells them apart by their system messages (``agent/prompts.py``)
and finds ``k`` in the last user message (``Question: bench prompt k``).

The latency model (:class:`EndpointSpec`): a request takes one of ``capacity`` stream
slots, waiting in a first-come queue while all are busy; it then streams its first
token after ``ttft_s`` plus its prompt's tokens at ``prefill_tokens_per_s``, and one
token (4 characters) every ``1 / tokens_per_s`` seconds after. Answered HTTP 429 with
``Retry-After`` instead: a request beyond ``requests_per_minute`` (a token bucket of one
second's requests) or one that finds ``max_queue`` requests already waiting.

It counts what the suite reports: requests by role, 429s, the time streams held their
slots (the bound on a batch's wall time is that total over ``capacity``), tokens, and
every execution of the workload's tools (``GET /bench/tool``, which waits the call's
milliseconds). ``GET /bench/stats`` and ``/bench/log`` read the counts and the
per-request log, ``POST /bench/reset`` clears them.

Run by the suite as a process of its own (``python -m benchmarks.batch_endpoint``,
:class:`EndpointProcess`), so its threads never compete with the batch's client for one
interpreter lock; :class:`EndpointServer` also runs it on a thread.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks import child_environment
from benchmarks.batch_workload import BatchWorkload, prompt_number

PLANNER_SYSTEM = "Given a question, create a plan"  # agent/prompts.py: planner_messages
JOINER_SYSTEM = "Answer the question from the observations"  # agent/prompts.py: JOINER_RULES
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class EndpointSpec:
    capacity: int = 16  # concurrent streams
    ttft_s: float = 0.25  # before the first token, besides the prompt's prefill
    prefill_tokens_per_s: float = 5000.0
    tokens_per_s: float = 40.0  # per stream
    requests_per_minute: float | None = 6000.0  # None: no request rate limit
    max_queue: int = 16  # requests waiting for a slot beyond which a request is answered 429
    queue_retry_after_s: int = 1  # Retry-After of a 429 for a full queue

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.tokens_per_s <= 0 or self.max_queue < 0:
            raise ValueError(f"an endpoint needs capacity >= 1, tokens_per_s > 0 and max_queue >= 0, not {self}")


@dataclass
class RequestRecord:
    """One chat request as the endpoint saw it (times in seconds since the epoch)."""

    role: str  # planner | joiner | other
    prompt: int | None
    arrived: float
    status: int = 200
    admitted: float | None = None  # took a slot
    ended: float | None = None  # gave the slot back
    completed: bool = False  # streamed to its end (False: the client went away first)
    completion_tokens: int = 0


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: int, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason


class TokenBucket:
    """``per_minute`` requests a minute, in bursts of at most one second's worth."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.size = max(1.0, self.rate)
        self.tokens = self.size
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when a request may go now (one token taken), else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class Slots:
    """``capacity`` stream slots and a first-come queue of at most ``max_queue`` waiting requests."""

    def __init__(self, spec: EndpointSpec) -> None:
        self.spec = spec
        self.busy = 0
        self.waiting: deque[object] = deque()
        self.peak_busy = self.peak_waiting = 0
        self._cond = threading.Condition()
        self._bucket = TokenBucket(spec.requests_per_minute) if spec.requests_per_minute else None

    def admit(self) -> None:
        """Take a slot, after waiting for one; raises ``RateLimitExceeded`` for a 429."""
        with self._cond:
            if self._bucket is not None:
                wait = self._bucket.take()
                if wait:
                    raise RateLimitExceeded(max(1, math.ceil(wait)), "requests per minute")
            if self.busy >= self.spec.capacity or self.waiting:
                if len(self.waiting) >= self.spec.max_queue:
                    raise RateLimitExceeded(self.spec.queue_retry_after_s, "queue full")
                ticket = object()
                self.waiting.append(ticket)
                self.peak_waiting = max(self.peak_waiting, len(self.waiting))
                while self.waiting[0] is not ticket or self.busy >= self.spec.capacity:
                    self._cond.wait()
                self.waiting.popleft()
            self.busy += 1
            self.peak_busy = max(self.peak_busy, self.busy)
            self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self.busy -= 1
            self._cond.notify_all()


class Counts:
    """What the endpoint served, for ``/bench/stats`` and ``/bench/log``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[RequestRecord] = []
        self.tools: Counter[str] = Counter()  # "tool key ms" -> executions
        self.tool_s = 0.0

    def add(self, record: RequestRecord) -> RequestRecord:
        with self.lock:
            self.requests.append(record)
        return record

    def tool(self, name: str, key: str, ms: int) -> None:
        with self.lock:
            self.tools[f"{name} {key} {ms}"] += 1
            self.tool_s += ms / 1000

    def stats(self, spec: EndpointSpec, slots: Slots) -> dict[str, Any]:
        with self.lock:
            requests = list(self.requests)
            tools = Counter(self.tools)
            tool_s = self.tool_s
        served = [r for r in requests if r.admitted is not None]
        held = [r.ended - r.admitted for r in served if r.ended is not None]
        waits = [r.admitted - r.arrived for r in served]
        limited = [r for r in requests if r.status == 429]
        return {
            "spec": asdict(spec),
            "requests": len(requests),
            "by_role": dict(Counter(r.role for r in requests)),
            "rate_limited": len(limited),
            "streams": len(served),
            "streams_completed": sum(r.completed for r in served),
            "completed_by_role": dict(Counter(r.role for r in served if r.completed)),
            "streams_cut": sum(r.ended is not None and not r.completed for r in served),
            "in_flight": sum(r.ended is None for r in served),
            "stream_s": sum(held),
            "bound_s": sum(held) / spec.capacity,
            "queue_wait_s": sum(waits),
            "max_queue_wait_s": max(waits, default=0.0),
            "completion_tokens": sum(r.completion_tokens for r in served),
            "first_arrival": min((r.arrived for r in requests), default=None),
            "last_end": max((r.ended for r in served if r.ended is not None), default=None),
            "peak_busy": slots.peak_busy,
            "peak_waiting": slots.peak_waiting,
            "tool_executions": sum(tools.values()),
            "tool_distinct": len(tools),
            "tool_duplicates": sum(n - 1 for n in tools.values()),
            "tool_s": tool_s,
        }

    def log(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": [asdict(r) for r in self.requests], "tools": dict(self.tools)}

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.tools.clear()
            self.tool_s = 0.0


class EndpointServer(ThreadingHTTPServer):
    """The endpoint on ``127.0.0.1:port`` (0: any free port); ``start()`` serves on a thread."""

    daemon_threads = True
    request_queue_size = 1024  # a batch opens many connections at once

    def __init__(self, spec: EndpointSpec, workload: BatchWorkload, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.spec = spec
        self.workload = workload
        self.slots = Slots(spec)
        self.counts = Counts()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away is no error here
            super().handle_error(request, client_address)

    def start(self) -> EndpointServer:
        self._thread = threading.Thread(target=self.serve_forever, name="batch-endpoint", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> EndpointServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # what the model writes ---------------------------------------------------------------------
    def reply(self, messages: list[dict[str, Any]]) -> tuple[str, int | None, str]:
        """(role, prompt number, the full reply) for a chat request's messages."""
        system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
        last_user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
        k = prompt_number(last_user)
        if k is None:
            raise ValueError("the scripted endpoint answers only questions reading 'bench prompt N' "
                             "(benchmarks/batch_workload.py)")
        if system.startswith(PLANNER_SYSTEM):
            return "planner", k, self.workload.plan(k) + "<END_OF_PLAN>"
        if system.startswith(JOINER_SYSTEM):
            return "joiner", k, f"Thought: The observations answer it.\nAction: Finish({self.workload.answer(k)})"
        raise ValueError("the scripted endpoint answers the LLMCompiler planner and joiner only "
                         "(their system messages, agent/prompts.py)")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EndpointServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    # routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        if url.path == "/bench/tool":
            self._tool(parse_qs(url.query))
        elif url.path == "/bench/stats":
            self._json(200, self.server.counts.stats(self.server.spec, self.server.slots))
        elif url.path == "/bench/log":
            self._json(200, self.server.counts.log())
        elif url.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "bench"}]})
        else:
            self._json(404, {"error": {"message": f"no route {url.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/bench/reset":
            self.server.counts.reset()
            self._json(200, {"reset": True})
        elif path.endswith("/chat/completions"):
            self._chat(json.loads(body or b"{}"))
        else:
            self._json(404, {"error": {"message": f"no route {path}"}})

    def _tool(self, query: dict[str, list[str]]) -> None:
        tool, key, ms = query["tool"][0], query["key"][0], int(query["ms"][0])
        time.sleep(ms / 1000)
        self.server.counts.tool(tool, key, ms)
        self._json(200, {"result": f"{key}={zlib.crc32(key.encode()) % 1000}"})

    # a chat completion -----------------------------------------------------------------------
    def _chat(self, request: dict[str, Any]) -> None:
        arrived = time.time()
        messages = request.get("messages") or []
        try:
            role, k, text = self.server.reply(messages)
        except ValueError as error:
            self._json(400, {"error": {"message": str(error), "type": "invalid_request_error"}})
            return
        record = self.server.counts.add(RequestRecord(role, k, arrived))
        try:
            self.server.slots.admit()
        except RateLimitExceeded as limit:
            record.status, record.ended = 429, time.time()
            self._json(429, {"error": {"message": f"rate limited: {limit.reason}", "type": "rate_limit_exceeded"}},
                       {"Retry-After": str(limit.retry_after)})
            return
        record.admitted = time.time()
        try:
            self._stream(request, messages, text, record)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            record.ended = time.time()
            self.server.slots.release()

    def _stream(self, request: dict[str, Any], messages: list[dict[str, Any]], text: str, record: RequestRecord) -> None:
        spec = self.server.spec
        stops = request.get("stop") or []
        for stop in [stops] if isinstance(stops, str) else stops:
            if stop and stop in text:
                text = text[: text.index(stop)]
        max_tokens = int(request.get("max_tokens") or 1 << 30)
        tokens = [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]
        finish = "length" if len(tokens) > max_tokens else "stop"
        tokens = tokens[:max_tokens]
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // CHARS_PER_TOKEN
        first = time.monotonic() + spec.ttft_s + prompt_tokens / spec.prefill_tokens_per_s
        created, ident, model = int(time.time()), f"chatcmpl-bench-{id(record):x}", request.get("model", "bench")

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, usage: dict | None = None) -> bytes:
            body: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                                    "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
            if usage:
                body["usage"] = usage
            return f"data: {json.dumps(body)}\n\n".encode()

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._write(chunk({"role": "assistant", "content": ""}))
        for i, token in enumerate(tokens):
            _sleep_until(first + i / spec.tokens_per_s)
            self._write(chunk({"content": token}))
            record.completion_tokens = i + 1
        self._write(chunk({}, finish))
        if (request.get("stream_options") or {}).get("include_usage"):
            self._write(chunk({}, usage={"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                                         "total_tokens": prompt_tokens + len(tokens)}))
        self._write(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        record.completed = True

    def _write(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# the endpoint as a process of its own -------------------------------------------------------------
@dataclass
class EndpointProcess:
    """``python -m benchmarks.batch_endpoint`` started on a free loopback port; a context manager."""

    spec: EndpointSpec = field(default_factory=EndpointSpec)
    workload: BatchWorkload = field(default_factory=BatchWorkload)
    url: str = ""
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as its base URL."""
        return f"{self.url}/v1"

    def start(self) -> EndpointProcess:
        args = [sys.executable, "-m", "benchmarks.batch_endpoint", "--spec", json.dumps(asdict(self.spec)),
                "--seed", str(self.workload.seed), "--shared-pool", str(self.workload.pool)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=child_environment())
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the scripted endpoint did not start (it printed {line.strip()!r})")
        self.url = line.strip()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EndpointProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/bench/stats")

    def log(self) -> dict[str, Any]:
        return self._call("GET", "/bench/log")

    def reset(self) -> None:
        self._call("POST", "/bench/reset")

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The batch suite's scripted OpenAI-compatible endpoint.")
    parser.add_argument("--spec", default="{}", help="EndpointSpec fields as JSON")
    parser.add_argument("--seed", type=int, default=BatchWorkload.seed)
    parser.add_argument("--shared-pool", type=int, default=None)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = EndpointServer(EndpointSpec(**json.loads(args.spec)),
                            BatchWorkload(seed=args.seed, shared_pool=args.shared_pool), args.port)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
