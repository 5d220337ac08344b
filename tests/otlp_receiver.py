"""A real OTLP/HTTP trace receiver on loopback: it accepts ``POST /v1/traces`` (protobuf), decodes
each request with ``opentelemetry.proto`` and keeps the spans, so tests check what a collector
would get from the SDK's own OTLP exporter."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    start: int
    end: int
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    service: str | None
    raw: bytes = field(repr=False, default=b"")


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class OTLPReceiver:
    """``with OTLPReceiver() as r:`` ... ``r.endpoint`` (for OTEL_EXPORTER_OTLP_ENDPOINT), ``r.spans``."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._take(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._lock:
            self.bodies.append(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        self.spans.append(ReceivedSpan(
                            name=s.name, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(), kind=s.kind,
                            start=s.start_time_unix_nano, end=s.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            status_code=s.status.code, status_message=s.status.message,
                            service=resource.get("service.name"), raw=s.SerializeToString()))

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def otlp_env(monkeypatch: Any, receiver: OTLPReceiver, **extra: str) -> None:
    """Point the SDK's OTLP/HTTP exporter at ``receiver`` through the standard variables only, and
    forget any tracer provider an earlier test made from other variables."""
    from llmcompiler_provider import tracing

    tracing.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def run_tree(spans: list[ReceivedSpan]) -> tuple[ReceivedSpan, list[ReceivedSpan], list[ReceivedSpan]]:
    """The one ``invoke_workflow`` span, its chat children and its execute_tool children."""
    runs = [s for s in spans if s.name == "invoke_workflow llmcompiler"]
    assert len(runs) == 1, [s.name for s in spans]
    run = runs[0]
    children = [s for s in spans if s is not run]
    assert all(s.parent_span_id == run.span_id and s.trace_id == run.trace_id for s in children)
    assert all(run.start <= s.start <= s.end <= run.end for s in children)
    chats = [s for s in children if s.name.startswith("chat ")]
    tools = [s for s in children if s.name.startswith("execute_tool ")]
    assert len(chats) + len(tools) == len(children)
    return run, chats, tools
