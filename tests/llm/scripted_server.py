"""A small scripted OpenAI-compatible HTTP server (a real socket server) for what a healthy
server never produces on demand: 401, 429, 500, dropped or cut streams, silence, a queue."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that closed its connection (a stream it stopped reading) is no error here."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Reply:
    """One streamed answer of a ``replies`` scenario: its pieces, how it ends (``finish``, ``cut``:
    a clean end without a finish_reason, ``drop``: the socket closed mid-body) and its delays."""

    pieces: list[str]
    end: str = "finish"
    delay_s: float = 0.0  # before the headers
    wait_s: float = 0.0  # after the headers, before the first piece
    piece_s: float = 0.0  # between pieces


class ScriptedServer:
    """Answers ``/<scenario>/v1/chat/completions`` according to the scenario's name.

    Scenarios: ``ok``, ``old-server`` (400 on ``stream_options``, no usage), ``unauthorized`` (401), ``forbidden`` (403), ``flaky`` (429 once, then ok),
    ``rate-limited`` (429 always), ``broken`` (500 always), ``drop`` (one piece, then the socket
    is closed mid-body), ``truncated`` (one piece, then a clean end without a finish),
    ``malformed`` (an event that is not JSON), ``stall`` (one piece, then silence), ``silent``
    (never answers). A scenario may carry a
    suffix (``flaky-3``) so each test counts its own requests.

    ``script(name, kind, **config)`` adds a scenario with settings: ``busy`` (429 beyond
    ``capacity`` concurrent answers, with an optional ``retry_after``), ``pause`` (429 with
    ``retry_after`` to the ``first`` requests, then ok) and ``replies`` (``answers``: one
    ``Reply`` per attempt, the last one repeated). Every request's arrival time (monotonic) and
    status are kept, and the most answers streamed at once.
    """

    def __init__(self, port: int = 0) -> None:
        self.requests: Counter[str] = Counter()
        self.bodies: dict[str, list[dict]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.statuses: dict[str, list[int]] = {}
        self.scripts: dict[str, dict] = {}
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.httpd = _QuietServer(("127.0.0.1", port), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{scenario}/v1"

    def script(self, name: str, kind: str, **config) -> str:
        """Add scenario ``name`` of ``kind`` with ``config``; its base URL."""
        self.scripts[name] = {"kind": kind, **config}
        return self.url(name)

    def record(self, scenario: str, status: int) -> None:
        self.statuses.setdefault(scenario, []).append(status)

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
                with server.lock:
                    server.requests[scenario] += 1
                    attempt = server.requests[scenario]
                    server.arrivals.setdefault(scenario, []).append(time.monotonic())
                    server.bodies.setdefault(scenario, []).append(body)
                    server.headers.setdefault(scenario, []).append({k.lower(): v for k, v in self.headers.items()})
                self.config = server.scripts.get(scenario, {})
                kind = self.config.get("kind") or (scenario.rsplit("-", 1)[0] if scenario[-1].isdigit() else scenario)
                getattr(self, "answer_" + kind.replace("-", "_"))(attempt)

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

            def answer_busy(self, attempt: int) -> None:
                with server.lock:
                    full = server.active[self.scenario] >= self.config["capacity"]
                    if not full:
                        server.active[self.scenario] += 1
                        server.peak[self.scenario] = max(server.peak[self.scenario], server.active[self.scenario])
                if full:
                    retry_after = self.config.get("retry_after")
                    self.send_json(429, {"error": {"message": "too many requests"}},
                                   {"Retry-After": retry_after} if retry_after is not None else None)
                    return
                left = []

                def leave() -> None:  # before the last bytes: the client cannot send its next request sooner
                    if not left:
                        left.append(True)
                        with server.lock:
                            server.active[self.scenario] -= 1

                try:
                    self.send_reply(Reply(["Hello", ", world"], piece_s=self.config.get("piece_s", 0.0)), leave)
                finally:
                    leave()

            def answer_pause(self, attempt: int) -> None:
                if attempt <= self.config["first"]:
                    self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": self.config["retry_after"]})
                else:
                    self.send_reply(Reply(["Hello", ", world"]))

            def answer_replies(self, attempt: int) -> None:
                answers = self.config["answers"]
                self.send_reply(answers[min(attempt, len(answers)) - 1])

            # helpers --------------------------------------------------------------
            def send_reply(self, reply: "Reply", before_finish=None) -> None:
                """Stream ``reply`` in chunked pieces, as a real server does."""
                server.stop.wait(reply.delay_s)  # queued before the headers
                server.record(self.scenario, 200)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                server.stop.wait(reply.wait_s)  # queued after the headers, before the first piece
                for i, piece in enumerate(reply.pieces):
                    if i:
                        server.stop.wait(reply.piece_s)
                    self.write_chunk(sse_chunk(piece))
                if before_finish is not None:
                    before_finish()
                if reply.end == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)  # mid-body: no terminating chunk
                    self.close_connection = True
                    return
                if reply.end == "finish":
                    self.write_chunk(sse_chunk(finish_reason="stop") + sse_chunk(usage=USAGE) + b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")  # a clean end (for "cut": without a finish_reason)
                self.wfile.flush()

            def write_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                server.record(self.scenario, status)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def send_stream(self, data: bytes) -> None:
                server.record(self.scenario, 200)
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


