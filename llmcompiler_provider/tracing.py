"""A finished run as an OpenTelemetry trace that follows the GenAI semantic conventions.

``emit_run_trace(result)`` is called once per run, where the run is recorded. It does nothing
(and imports nothing of OpenTelemetry) unless traces are configured the way the OpenTelemetry
SDK's own auto-configuration decides: ``OTEL_TRACES_EXPORTER`` names an exporter (not ``none``)
and ``OTEL_SDK_DISABLED`` is not ``true``; or this process already installed an SDK tracer
provider (Airflow's OTel traces, an application's own set-up). The spans are written after the
run, with the times the run recorded: tool spans carry the times measured on the Dask worker.

Span tree (see docs/tracing.md)::

    invoke_workflow llmcompiler
      chat {model}              one per LLM call (planner, joiner)
      execute_tool {tool}       one per task that ran

The run's span is a child of the span current where the run is recorded (Airflow's task span
when Airflow's traces are on), else of the ``TRACEPARENT`` environment variable's context, else
a root. Tool arguments and results go into spans only when ``LLMCOMPILER_TRACE_CONTENT=true``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Any

from llmcompiler_provider.figures import replans
from llmcompiler_provider.results import RunResult

log = logging.getLogger(__name__)

CONTENT_ENV = "LLMCOMPILER_TRACE_CONTENT"
SPAN_NAME = "invoke_workflow llmcompiler"
FLUSH_TIMEOUT_MS = 5000

_lock = threading.Lock()
_own_provider: Any = None  # the tracer provider this module made from OTEL_* (one per process)


def traces_configured() -> bool:
    """Whether the OTel SDK's auto-configuration would export traces (it reads
    ``OTEL_TRACES_EXPORTER``; ``OTEL_SDK_DISABLED=true`` switches the SDK off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return bool(names) and names != "none"


def _installed_sdk_provider() -> Any:
    """The SDK tracer provider this process installed globally, if any (without importing OTel)."""
    if "opentelemetry.sdk.trace" not in sys.modules:
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


def _provider_from_env() -> Any:
    """A tracer provider with the exporters ``OTEL_TRACES_EXPORTER`` names, made once; the SDK's
    own functions pick the exporters (``otlp`` honours ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL``)."""
    global _own_provider
    with _lock:
        if _own_provider is None:
            from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get(
                "OTEL_RESOURCE_ATTRIBUTES", "")
            resource = Resource.create({} if named else {SERVICE_NAME: "llmcompiler"})
            provider = TracerProvider(resource=resource)
            exporters, _, _ = _import_exporters(_get_exporter_names("traces"), [], [])
            for exporter in exporters.values():
                provider.add_span_processor(BatchSpanProcessor(exporter()))
            _own_provider = provider
        return _own_provider


def shutdown() -> None:
    """Send what the tracer provider this module made still holds, close its exporters and forget it,
    so that the next run makes one from the ``OTEL_*`` variables as they are then."""
    global _own_provider
    with _lock:
        provider, _own_provider = _own_provider, None
    if provider is not None:
        provider.shutdown()


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


def _content_on() -> bool:
    return os.environ.get(CONTENT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _parent_context() -> Any:
    """The current span's context when there is one (Airflow's task span), else ``TRACEPARENT``'s."""
    from opentelemetry import context, trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if trace.get_current_span().get_span_context().is_valid:
        return context.get_current()
    carrier = {k.lower(): os.environ[k] for k in ("TRACEPARENT", "TRACESTATE") if os.environ.get(k)}
    return TraceContextTextMapPropagator().extract(carrier) if carrier else None


def emit_run_trace(result: RunResult) -> None:
    """Send ``result`` as a trace when traces are configured; never fails the run."""
    provider = _installed_sdk_provider()
    if provider is None and not traces_configured():
        return
    try:
        provider = provider or _provider_from_env()
        _write_spans(provider.get_tracer("llmcompiler_provider"), result)
        provider.force_flush(FLUSH_TIMEOUT_MS)
    except Exception as exc:  # tracing is a side channel: a broken collector must not fail a run
        log.warning("could not send the run's trace: %s", exc)


def _set_error(span: Any, error: str | None) -> None:
    from opentelemetry.trace import Status, StatusCode

    if error:
        span.set_attribute("error.type", error.split(":", 1)[0][:100] if ":" in error[:100] else "_OTHER")
        span.set_status(Status(StatusCode.ERROR, error))


def _write_spans(tracer: Any, result: RunResult) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    tasks = [(p.iteration, t) for p in result.plans for t in p.tasks if t.start is not None]
    ends = [result.finished, *(t.stop or t.start for _, t in tasks),
            *((c.started or result.started) + c.latency_s for c in result.llm_calls)]
    end = max(e for e in ends if e is not None) if any(e is not None for e in ends) else result.started
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "llmcompiler",
        "llmcompiler.run_id": result.run_id,
        "llmcompiler.status": result.status,
        "llmcompiler.replans": replans(result.plans),
        "llmcompiler.critical_path_s": result.timings.critical_path_s,
        "llmcompiler.speedup": result.timings.speedup,
    }
    if result.toolset:
        attributes["llmcompiler.toolset"] = result.toolset
    if result.airflow is not None:  # the names Airflow's own task spans use
        for key, value in {"airflow.dag_id": result.airflow.dag_id, "airflow.task_id": result.airflow.task_id,
                           "airflow.dag_run.run_id": result.airflow.run_id,
                           "airflow.task_instance.map_index": result.airflow.map_index,
                           "airflow.task_instance.try_number": result.airflow.try_number}.items():
            if value is not None:
                attributes[key] = value
    run_span = tracer.start_span(SPAN_NAME, context=_parent_context(), kind=SpanKind.INTERNAL,
                                 attributes=attributes, start_time=_ns(result.started))
    _set_error(run_span, result.error if result.status != "success" else None)
    inside = trace.set_span_in_context(run_span)

    for call in result.llm_calls:
        started = call.started or result.started
        model = call.model or "unknown"
        span = tracer.start_span(f"chat {model}", context=inside, kind=SpanKind.CLIENT,
                                 start_time=_ns(started))
        span.set_attributes({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": call.provider or "unknown",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": call.prompt_tokens,
            "gen_ai.usage.output_tokens": call.completion_tokens,
            "llmcompiler.llm.role": call.role,
        })
        if call.ttft_s is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", call.ttft_s)
        _set_error(span, call.error)
        span.end(end_time=_ns(started + call.latency_s))

    content = _content_on()
    for iteration, task in tasks:
        span = tracer.start_span(f"execute_tool {task.tool}", context=inside, kind=SpanKind.INTERNAL,
                                 start_time=_ns(task.start))
        span.set_attributes({
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": task.tool,
            "gen_ai.tool.call.id": str(task.id),
            "gen_ai.tool.type": "function",
            "llmcompiler.plan.iteration": iteration,
            "llmcompiler.task.status": task.status,
            "llmcompiler.task.attempts": task.attempts,
        })
        if task.worker:
            span.set_attribute("llmcompiler.task.worker", task.worker)
        if content:
            arguments = task.args_preview or json.dumps({"args": task.args, "kwargs": task.kwargs},
                                                        default=str)
            span.set_attribute("gen_ai.tool.call.arguments", arguments)
            if task.result is not None:
                span.set_attribute("gen_ai.tool.call.result", task.result)
        _set_error(span, task.error if task.status == "failed" else None)
        span.end(end_time=_ns(task.stop or task.start))

    run_span.end(end_time=_ns(end))
