"""The planner: the LLM writes a plan, and each task is dispatched as its line completes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from llmcompiler_provider.agent.prompts import planner_messages
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.llm import ChatModel, LLMError, Usage, plan_grammar
from llmcompiler_provider.llm.base import TextStream
from llmcompiler_provider.plan import END_OF_PLAN, Diagnostic, PlanError, PlanStream, compile_plan
from llmcompiler_provider.plan.ir import Task, TaskGraph
from llmcompiler_provider.results import LLMCall
from llmcompiler_provider.tools.registry import Toolset


class PlanFailed(Exception):
    """The planner's text did not compile; ``text`` is what it wrote, ``warnings`` the
    repairs made before it failed (``FILE:LINE:COL: warning: MESSAGE`` lines)."""

    def __init__(self, error: PlanError, text: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.text = text
        self.warnings = [str(w) for w in error.warnings]


@dataclass
class Planned:
    """A plan the planner wrote that compiled: its graph, its text, its warnings (repairs)."""

    graph: TaskGraph
    text: str
    warnings: list[str]


def llm_call_record(role: str, llm: ChatModel, stream: TextStream, started: float,
                    error: str | None = None) -> LLMCall:
    """What one finished (or failed) call cost; a backend that could not count says nothing (zeros)."""
    usage = stream.usage or llm.last_usage or Usage()
    return LLMCall(
        role=role,
        model=llm.model_name,
        provider=getattr(llm, "provider_name", None),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        latency_s=usage.latency_s or (time.time() - started),
        ttft_s=usage.ttft_s,
        started=started,
        error=error,
        finish_reason=usage.finish_reason,
        queued_s=usage.queued_s,
        retries=usage.retries,
        rate_limited=usage.rate_limited,
    )


def stream_plan(
    llm: ChatModel,
    question: str,
    toolset: Toolset,
    dispatcher: Dispatcher,
    *,
    previous: list[tuple[str, str]] | None = None,
    compile_errors: str | None = None,
    streaming: bool = True,
    optimize: bool = True,
    disabled_passes: tuple[str, ...] = (),
    max_tokens: int = 384,
    repair: bool = True,
    calls: list[LLMCall],
    cancelled: threading.Event | None = None,
    on_task: Callable[[Task], None] = lambda task: None,
) -> Planned:
    """Ask ``llm`` for a plan and dispatch it; returns the compiled graph, the plan text and its warnings.

    Streaming, every task goes to Dask the moment its line is complete (only the
    streaming-safe optimizations apply); otherwise the whole plan is compiled and
    optimized first. With ``repair`` (the default) the compiler repairs the slips
    planners make (``plan.repair``), each with a warning. Raises ``PlanFailed``
    when the text does not compile.
    """
    catalogue = toolset.signatures()
    messages = planner_messages(question, toolset, previous=previous, compile_errors=compile_errors)
    stream = PlanStream(
        catalogue, source="<planner>", optimize=optimize, disabled_passes=disabled_passes, repair=repair
    )
    text = ""
    started = time.time()
    llm_error: str | None = None  # the LLM call's failure, recorded with the call
    pieces = llm.stream(messages, stop=[END_OF_PLAN], max_tokens=max_tokens, grammar=plan_grammar(catalogue))
    try:
        for piece in pieces:
            if cancelled is not None and cancelled.is_set():
                break
            text += piece
            if not streaming:
                continue
            try:
                ready = stream.feed(piece)
            except PlanError as error:
                raise PlanFailed(error, text) from None
            if ready:
                dispatcher.submit(ready, stream.graph)
                for task in ready:
                    on_task(task)
            if stream.done:
                break
    except LLMError as exc:
        llm_error = str(exc)
        raise
    finally:
        pieces.close()
        calls.append(llm_call_record("planner", llm, pieces, started, llm_error))
    warnings: list[Diagnostic] = []
    try:
        if streaming:
            return Planned(stream.close(require_join=True), text, [str(w) for w in stream.warnings])
        graph = compile_plan(
            text, catalogue, source="<planner>", optimize=optimize, disabled_passes=disabled_passes,
            require_join=True, repair=repair, warnings=warnings,
        )
    except PlanError as error:
        raise PlanFailed(error, text) from None
    dispatcher.submit_graph(graph)
    for task in graph:
        on_task(task)
    return Planned(graph, text, [str(w) for w in warnings])
