"""A scripted OpenAI-compatible server whose scripts may also hold faults.

``FaultyModelServer`` is ``ScriptedModelServer`` (tests/agent) with script entries
that misbehave on purpose: an HTTP error status, a stream whose connection is
reset after the first piece, or an endpoint that never answers. It also keeps
every request body, so a test can read what the planner and the joiner were sent.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from scripted_llm import ScriptedModelServer, _chunk

SILENCE_LIMIT_S = 60.0  # a silent answer gives up after this long (or when the server stops)


@dataclass(frozen=True)
class Fault:
    """What to do instead of answering: ``status`` (an HTTP error, with ``message``), ``drop`` or ``silent``."""

    status: int | None = None
    drop: bool = False
    silent: bool = False
    message: str | None = None


RATE_LIMITED = Fault(status=429)
SERVER_ERROR = Fault(status=500)
DROPPED = Fault(drop=True)
SILENT = Fault(silent=True)


class FaultyModelServer(ScriptedModelServer):
    """``/<name>/v1/chat/completions`` plays ``replies[name]`` in order: text, or a ``Fault``."""

    def __init__(self, replies: dict[str, list[str | Fault]]) -> None:
        super().__init__(replies)  # type: ignore[arg-type]
        self.bodies: dict[str, list[dict]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}
        self.stopping = threading.Event()

    def respond(self, handler: BaseHTTPRequestHandler, name: str, n: int, body: bytes) -> None:
        self.bodies.setdefault(name, []).append(json.loads(body or b"{}"))
        self.headers.setdefault(name, []).append({k.lower(): v for k, v in handler.headers.items()})
        script = self.replies[name]
        entry = script[min(n, len(script) - 1)]
        if isinstance(entry, str):
            self.stream_text(handler, entry)
        elif entry.status is not None:
            self._error(handler, entry.status, entry.message or f"scripted failure {entry.status}")
        elif entry.drop:
            self._drop(handler)
        else:
            self.stopping.wait(SILENCE_LIMIT_S)

    def messages(self, name: str, call: int) -> str:
        """Every message's content of call ``call`` (from 0) to ``name``, as one text."""
        return "\n".join(m["content"] for m in self.bodies[name][call]["messages"])

    @staticmethod
    def _error(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
        data = json.dumps({"error": {"message": message}}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if status == 429:
            handler.send_header("Retry-After", "0.1")
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        """Headers and one piece of the answer, then a connection reset (RST, not a clean end)."""
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        piece = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                 "choices": [{"index": 0, "delta": {"content": "1. sea"}, "finish_reason": None}]}
        handler.wfile.write(_chunk(piece))
        handler.wfile.flush()
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        handler.connection.close()

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        super().__exit__(*exc)
