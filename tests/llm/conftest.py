"""Fixtures for the LLM backend tests: the real local model, a real llama.cpp OpenAI-compatible
server in a subprocess, and a small scripted HTTP server (a real socket server) for failures
that a healthy server never produces on demand (401, 429, 500, dropped streams, silence)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from llmcompiler_provider.llm import get_local_model, local_model_path
from llmcompiler_provider.plan.signature import Param, ToolSignature

SERVER_MODEL_ALIAS = "smollm2"
SERVER_START_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def local_model():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    return get_local_model()


@pytest.fixture
def refused_url() -> str:
    """An OpenAI-style base URL on a local port where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture(scope="session")
def planner_messages() -> list[dict]:
    """A few-shot planner prompt for ``small_catalogue``."""
    return [
        {
            "role": "system",
            "content": (
                "You write plans of tool calls. Tools:\n"
                "1. search(query): look a fact up.\n"
                "2. math(question, context=[]): compute, using earlier results ($N) as context.\n"
                "3. join(): ends the plan.\n"
                "Example:\n"
                "Question: How much taller is the Eiffel Tower than Big Ben?\n"
                'Thought: look both up, then subtract\n1. search("Eiffel Tower height")\n'
                '2. search("Big Ben height")\n3. math("difference of the heights", [$1, $2])\n'
                "4. join()\n<END_OF_PLAN>"
            ),
        },
        {"role": "user", "content": "Question: What is the population of France plus the population of Spain?"},
    ]


@pytest.fixture(scope="session")
def small_catalogue() -> dict[str, ToolSignature]:
    return {
        "search": ToolSignature("search", (Param("query", annotation="str"),), "Look a fact up on the web."),
        "math": ToolSignature(
            "math",
            (Param("question", annotation="str"), Param("context", required=False, annotation="list")),
            "Solve a math problem, optionally using earlier results as context.",
        ),
    }


@dataclass
class LlamaServer:
    base_url: str
    model: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[LlamaServer]:
    """llama-cpp-python's own OpenAI-compatible server, serving the packaged GGUF on 127.0.0.1."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", local_model_path(),
        "--model_alias", SERVER_MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
        "--n_threads", str(max(1, (os.cpu_count() or 1) - 1)),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(base_url, process, log_path)
        yield LlamaServer(base_url, SERVER_MODEL_ALIAS, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(base_url: str, process: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not answer within {SERVER_START_TIMEOUT_S}s: {log_path.read_text()[-2000:]}")


# --- the scripted server ---------------------------------------------------------------
def sse_chunk(content: str | None = None, finish_reason: str | None = None, usage: dict | None = None) -> bytes:
    """One ``data:`` event of an OpenAI chat completion stream."""
    choices = [] if usage else [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish_reason}]
    payload = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": choices,
    }
    if usage:
        payload["usage"] = usage
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


USAGE = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
GOOD_STREAM = (
    sse_chunk("Hello") + sse_chunk(", world") + sse_chunk(finish_reason="stop") + sse_chunk(usage=USAGE) + b"data: [DONE]\n\n"
)


class ScriptedServer:
    """Answers ``/<scenario>/v1/chat/completions`` according to the scenario's name.

    Scenarios: ``ok``, ``old-server`` (400 on ``stream_options``, no usage), ``unauthorized`` (401), ``forbidden`` (403), ``flaky`` (429 once, then ok),
    ``rate-limited`` (429 always), ``broken`` (500 always), ``drop`` (one piece, then the socket
    is closed mid-body), ``truncated`` (one piece, then a clean end without a finish),
    ``malformed`` (an event that is not JSON), ``stall`` (one piece, then silence), ``silent``
    (never answers). A scenario may carry a
    suffix (``flaky-3``) so each test counts its own requests.
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.bodies: dict[str, list[dict]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}
        self.stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{scenario}/v1"

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                scenario = self.path.strip("/").split("/")[0]
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self.scenario = scenario
                server.requests[scenario] += 1
                server.bodies.setdefault(scenario, []).append(body)
                server.headers.setdefault(scenario, []).append({k.lower(): v for k, v in self.headers.items()})
                kind = scenario.rsplit("-", 1)[0] if scenario[-1].isdigit() else scenario
                getattr(self, "answer_" + kind.replace("-", "_"))(server.requests[scenario])

            # scenarios ------------------------------------------------------------
            def answer_ok(self, attempt: int) -> None:
                self.send_stream(GOOD_STREAM)

            def answer_old_server(self, attempt: int) -> None:
                if "stream_options" in server.bodies[self.scenario][-1]:
                    self.send_json(400, {"error": {"message": "unknown field: stream_options"}})
                else:
                    self.send_stream(GOOD_STREAM.replace(sse_chunk(usage=USAGE), b""))

            def answer_unauthorized(self, attempt: int) -> None:
                self.send_json(401, {"error": {"message": "Incorrect API key provided: sk-secret-key-123456"}})

            def answer_forbidden(self, attempt: int) -> None:
                self.send_json(403, {"error": {"message": "This key may not use this model"}})

            def answer_flaky(self, attempt: int) -> None:
                if attempt == 1:
                    self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.1"})
                else:
                    self.send_stream(GOOD_STREAM)

            def answer_rate_limited(self, attempt: int) -> None:
                self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})

            def answer_broken(self, attempt: int) -> None:
                self.send_json(500, {"error": {"message": "the GPU caught fire"}})

            def answer_drop(self, attempt: int) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                piece = sse_chunk("Hel")
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # mid-body: no terminating chunk
                self.close_connection = True

            def answer_truncated(self, attempt: int) -> None:
                self.send_stream(sse_chunk("Hel"))

            def answer_malformed(self, attempt: int) -> None:
                self.send_stream(sse_chunk("Hel") + b"data: {this is not json\n\n")

            def answer_stall(self, attempt: int) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                piece = sse_chunk("Hel")
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
                server.stop.wait(30)
                self.close_connection = True

            def answer_silent(self, attempt: int) -> None:
                server.stop.wait(30)
                self.close_connection = True

            # helpers --------------------------------------------------------------
            def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def send_stream(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server
