"""A real OpenAI-compatible HTTP server whose "model" answers with scripted text.

It stands in for a remote model that misbehaves in ways a real small model will not
on demand (never writing ``join()``, writing garbage); the client side is the real
OpenAI backend over a real socket.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _chunk(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class ScriptedModelServer:
    """``/<name>/v1/chat/completions`` streams ``replies[name]`` (one reply per call, the last repeats)."""

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies = replies
        self.calls: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                name = self.path.strip("/").split("/")[0]
                n = server.calls.get(name, 0)
                server.calls[name] = n + 1
                server.respond(self, name, n, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, handler: BaseHTTPRequestHandler, name: str, n: int, body: bytes) -> None:
        """Answer call ``n`` (from 0) to ``name``: stream its scripted reply (subclasses may misbehave)."""
        script = self.replies[name]
        self.stream_text(handler, script[min(n, len(script) - 1)])

    @staticmethod
    def stream_text(handler: BaseHTTPRequestHandler, text: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted"}
        for i in range(0, len(text), 7):
            piece = text[i : i + 7]
            handler.wfile.write(_chunk({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}))
        handler.wfile.write(_chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        usage = {"prompt_tokens": 50, "completion_tokens": max(1, len(text) // 4), "total_tokens": 0}
        handler.wfile.write(_chunk({**base, "choices": [], "usage": usage}))
        handler.wfile.write(b"data: [DONE]\n\n")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}/v1"

    def __enter__(self) -> "ScriptedModelServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
