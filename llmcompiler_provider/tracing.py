"""A finished run as an OpenTelemetry trace that follows the GenAI semantic conventions.

``emit_run_trace(result)`` is called once per run, where the run is recorded. It does nothing
(and imports nothing of OpenTelemetry) unless traces are configured the way the OpenTelemetry
SDK's own auto-configuration decides: ``OTEL_TRACES_EXPORTER`` names an exporter (not ``none``)
and ``OTEL_SDK_DISABLED`` is not ``true``; or this process already installed an SDK tracer
provider (Airflow's OTel traces, an application's own set-up). The spans are written after the
run, with the times the run recorded: tool spans carry the times measured on the Dask worker.

Span tree (see docs/tracing.md)::

    invoke_workflow llmcompiler.batch   one per batch (start_batch_trace ... end_batch_trace)
      invoke_workflow llmcompiler       one per run
        chat {model}                    one per LLM call (planner, joiner)
        execute_tool {tool}             one per task that ran

A run's span is a child of its batch's span when the run belongs to an open batch trace, else
of the span current where the run is recorded (Airflow's task span ``worker.{task_id}`` when
Airflow's traces are on), else of the ``TRACEPARENT`` environment variable's context, else a
root. A run recorded in another process (a deferred run, driven on a Dask worker) finds its parent
through ``trace_carrier()``, taken where the parent span is current, and ``beneath(carrier)``
around the run there. Tool arguments and results go into spans only when
``LLMCOMPILER_TRACE_CONTENT=true``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_provider.batch_results import BatchSummary
from llmcompiler_provider.figures import replans
from llmcompiler_provider.results import AirflowIdentity, RunResult

log = logging.getLogger(__name__)

CONTENT_ENV = "LLMCOMPILER_TRACE_CONTENT"
SPAN_NAME = "invoke_workflow llmcompiler"
BATCH_SPAN_NAME = "invoke_workflow llmcompiler.batch"
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


def trace_carrier() -> dict[str, str]:
    """The W3C trace context (``traceparent``, ``tracestate``) of the current span, to carry to
    another process: ``{}`` when no span is current (nothing is imported when OpenTelemetry is not).

    In an Airflow task process with Airflow's traces on, that is the task instance's span."""
    if "opentelemetry.trace" not in sys.modules:  # then no span can be current
        return {}
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


@contextmanager
def beneath(carrier: dict[str, str] | None) -> Iterator[None]:
    """Runs traced inside this block (in this thread) are children of the span ``carrier`` names
    (from :func:`trace_carrier` in another process); an empty carrier, or traces off, changes nothing::

        carrier = trace_carrier()        # in the Airflow task process, sent with the work
        with beneath(carrier):           # where the run is driven and recorded
            LLMCompilerRun(...).execute()
    """
    if not carrier or not _traces_on():
        yield
        return
    from opentelemetry import context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    token = context.attach(TraceContextTextMapPropagator().extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


def _traces_on() -> bool:
    """Cheap (no OpenTelemetry import): an SDK tracer provider is installed, or OTEL_* asks for traces."""
    return _installed_sdk_provider() is not None or traces_configured()


def _active_provider() -> Any:
    """The tracer provider spans go to, or None when traces are off; a failure to set one up from
    the ``OTEL_*`` variables (an exporter that is not installed) is logged and gives None."""
    if not _traces_on():
        return None
    try:
        return _installed_sdk_provider() or _provider_from_env()
    except Exception as exc:
        log.warning("could not set up OpenTelemetry traces: %s", exc)
        return None


@dataclass
class BatchTrace:
    """A batch's open span, from :func:`start_batch_trace`; its runs' spans go beneath it."""

    batch_id: str
    span: Any
    context: Any  # an OpenTelemetry Context in which the batch's span is current
    provider: Any
    last_end: float = field(default=0.0)  # the latest end of a run traced beneath it (epoch seconds)


_open_batches: dict[str, BatchTrace] = {}  # batch id -> its open trace, for runs recorded without `parent`


def start_batch_trace(batch_id: str, name: str | None = None, airflow: AirflowIdentity | None = None,
                      started: float | None = None) -> BatchTrace | None:
    """Open the ``invoke_workflow llmcompiler.batch`` span of a batch; None when traces are off.

    Call it once when the batch starts (``started``: its start, epoch seconds; default now) and
    :func:`end_batch_trace` once when it ends, in the same process. Until then every run traced
    in this process with ``result.batch_id == batch_id`` (or ``emit_run_trace(result, parent=it)``)
    is a child of this span. The batch's span itself is a child of the current span (Airflow's
    task span under ``LLMCompilerBatchOperator``), else of ``TRACEPARENT``, else a root. Never
    raises: a tracing failure is logged and gives None::

        trace = start_batch_trace(summary.batch_id, summary.name, summary.airflow, summary.started)
        ...  # runs whose RunResult.batch_id is summary.batch_id, recorded with record_run
        end_batch_trace(trace, summary)
    """
    provider = _active_provider()
    if provider is None:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": "llmcompiler.batch",
            "llmcompiler.batch.id": batch_id,
            **_airflow_attributes(airflow),
        }
        if name:
            attributes["llmcompiler.batch.name"] = name
        span = provider.get_tracer("llmcompiler_provider").start_span(
            BATCH_SPAN_NAME, context=_parent_context(), kind=SpanKind.INTERNAL, attributes=attributes,
            start_time=_ns(started if started is not None else time.time()))
        batch = BatchTrace(batch_id, span, trace.set_span_in_context(span), provider)
    except Exception as exc:  # tracing is a side channel: it must not fail a batch
        log.warning("could not start the batch's trace: %s", exc)
        return None
    with _lock:
        _open_batches[batch_id] = batch
    return batch


def end_batch_trace(batch: BatchTrace | None, summary: BatchSummary) -> None:
    """Close a batch's span with ``summary``'s figures as attributes, and send it; never raises.

    The span ends at ``summary.finished`` (now when unset), or at the end of its last run if that
    is later. Status ERROR with ``summary.error`` unless the batch's status is ``success``.
    Does nothing when ``batch`` is None (traces off)."""
    if batch is None:
        return
    with _lock:
        if _open_batches.get(batch.batch_id) is batch:
            del _open_batches[batch.batch_id]
    try:
        batch.span.set_attributes(_batch_attributes(summary))
        if summary.status != "success":
            _set_error(batch.span, summary.error or f"the batch ended {summary.status}: "
                                                    f"{summary.failed} of {summary.total} prompts failed")
        end = max(summary.finished or time.time(), batch.last_end)
        batch.span.end(end_time=_ns(end))
        batch.provider.force_flush(FLUSH_TIMEOUT_MS)
    except Exception as exc:
        log.warning("could not send the batch's trace: %s", exc)


def _batch_attributes(summary: BatchSummary) -> dict[str, Any]:
    """The summary's figures (never its options, which may name connections and paths)."""
    attributes: dict[str, Any] = {
        "llmcompiler.batch.status": summary.status,
        "llmcompiler.batch.total": summary.total,
        "llmcompiler.batch.succeeded": summary.succeeded,
        "llmcompiler.batch.failed": summary.failed,
        "llmcompiler.batch.skipped": summary.skipped,
        "llmcompiler.batch.resumed": summary.resumed,
        "llmcompiler.batch.wall_s": summary.wall_s,
        "llmcompiler.batch.runs_per_minute": summary.runs_per_minute,
        "llmcompiler.batch.llm_requests": summary.llm_requests,
        "llmcompiler.batch.rate_limited": summary.rate_limited,
        "llmcompiler.batch.tool_calls": summary.tool_calls,
        "llmcompiler.batch.tool_calls_deduplicated": summary.tool_calls_deduplicated,
        "gen_ai.usage.input_tokens": summary.tokens.prompt,
        "gen_ai.usage.output_tokens": summary.tokens.completion,
    }
    if summary.cost is not None:
        attributes["llmcompiler.batch.cost"] = summary.cost
    return attributes


def emit_run_trace(result: RunResult, parent: BatchTrace | None = None) -> None:
    """Send ``result`` as a trace when traces are configured; never fails the run.

    ``parent``: the batch trace the run's span goes beneath; by default the open batch trace of
    ``result.batch_id`` in this process, if any. A run inside a batch is not flushed on its own:
    the exporter sends it in the background and :func:`end_batch_trace` flushes the rest."""
    if parent is None:
        if not _traces_on():
            return
        if result.batch_id is not None:
            with _lock:
                parent = _open_batches.get(result.batch_id)
    provider = parent.provider if parent is not None else _active_provider()
    if provider is None:
        return
    try:
        end = _write_spans(provider.get_tracer("llmcompiler_provider"), result,
                           parent.context if parent is not None else _parent_context())
        if parent is None:
            provider.force_flush(FLUSH_TIMEOUT_MS)
        else:
            with _lock:
                parent.last_end = max(parent.last_end, end)
    except Exception as exc:  # tracing is a side channel: a broken collector must not fail a run
        log.warning("could not send the run's trace: %s", exc)


def _airflow_attributes(airflow: AirflowIdentity | None) -> dict[str, Any]:
    """The Airflow task try as the names Airflow's own task spans use."""
    if airflow is None:
        return {}
    named = {"airflow.dag_id": airflow.dag_id, "airflow.task_id": airflow.task_id,
             "airflow.dag_run.run_id": airflow.run_id, "airflow.task_instance.map_index": airflow.map_index,
             "airflow.task_instance.try_number": airflow.try_number}
    return {key: value for key, value in named.items() if value is not None}


def _set_error(span: Any, error: str | None) -> None:
    from opentelemetry.trace import Status, StatusCode

    if error:
        span.set_attribute("error.type", error.split(":", 1)[0][:100] if ":" in error[:100] else "_OTHER")
        span.set_status(Status(StatusCode.ERROR, error))


def _write_spans(tracer: Any, result: RunResult, parent: Any) -> float:
    """Write the run's spans beneath ``parent`` (an OTel Context, or None: a root); returns their end."""
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
    if result.batch_id is not None:
        attributes["llmcompiler.batch.id"] = result.batch_id
    if result.prompt_id is not None:
        attributes["llmcompiler.batch.prompt_id"] = result.prompt_id
    attributes.update(_airflow_attributes(result.airflow))
    run_span = tracer.start_span(SPAN_NAME, context=parent, kind=SpanKind.INTERNAL,
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
        if call.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [call.finish_reason])
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
    return end
