"""The run loop: plan (streamed) -> dispatch to Dask -> join -> answer or replan.

``LLMCompilerRun`` holds one run's state so another thread (Airflow's ``on_kill``)
can cancel it; ``run_llmcompiler`` is the one-call form.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from llmcompiler_provider.agent.joiner import JoinDecision, join
from llmcompiler_provider.agent.planner import PlanFailed, stream_plan
from llmcompiler_provider.agent.result_cache import result_cache_for
from llmcompiler_provider.execution.cluster import ClientStart, ClusterOptions
from llmcompiler_provider.execution.dispatch import Dispatcher
from llmcompiler_provider.execution.result_cache import ResultCache
from llmcompiler_provider.execution.shared_calls import SharedCalls
from llmcompiler_provider.execution.tool_calls import Observation
from llmcompiler_provider.plan import Diagnostic, PlanError, compile_plan
from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.results import AirflowIdentity, ClusterInfo, PlanIteration, RunResult, preview
from llmcompiler_provider.store.location import NO_STORE
from llmcompiler_provider.llm import ChatModel, LLMError
from llmcompiler_provider.llm.prices import Prices
from llmcompiler_provider.tools.registry import Toolset, ToolsetNotFound, load_toolset
from llmcompiler_provider.tracing import emit_run_trace

#: (event name, details) -> None; events: planned, dispatched, finished, joined, status
EventCallback = Callable[[str, dict[str, Any]], None]

MAX_PROMPT_CHARS = 100_000
OBSERVATION_CHARS = 4_000  # per task, in the joiner's prompt (the full result stays on the worker side)


class RunCancelled(Exception):
    pass


@dataclass
class RunConfig:
    toolset: Toolset | str = "demo"
    max_replans: int = 1
    max_plan_attempts: int = 2  # planner attempts per iteration when its plan does not compile
    optimize: bool = True
    disabled_passes: tuple[str, ...] = ()
    streaming: bool = True  # dispatch each task the moment its line is complete
    run_timeout: float | None = 900.0  # seconds for a plan iteration's tasks to finish
    planner_max_tokens: int = 384
    repair_plans: bool = True  # repair the planner's slips with warnings (plan.repair); given plans stay exact
    store_url: str | None = None  # None: the default store; NO_STORE ("none"): do not record
    store_strict: bool = False
    airflow: AirflowIdentity | None = None
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    #: one per batch, given to each of its runs: their identical pure tool calls run once (None: no sharing)
    shared_calls: SharedCalls | None = None
    #: where tools with a ``cache_ttl`` keep their results; None: the store's tool cache when the toolset has
    #: such a tool and a store is configured (``agent.result_cache.result_cache_for``)
    result_cache: ResultCache | None = None
    #: the model's token prices: the run records what its tokens cost (``RunResult.cost``); None: no cost
    prices: Prices | None = None


class LLMCompilerRun:
    """One run. Call ``execute()``; ``cancel()`` may be called from any thread."""

    def __init__(
        self,
        prompt: str | None = None,
        *,
        plan: str | None = None,
        llm: ChatModel | None = None,
        config: RunConfig | None = None,
        client: Any = None,
        cluster_info: ClusterInfo | None = None,
        on_event: EventCallback | None = None,
        run_id: str | None = None,
    ) -> None:
        self.config = config or RunConfig()
        self.prompt = prompt
        self.plan_text = plan
        self.llm = llm
        self.client = client
        self.on_event = on_event or (lambda name, details: None)
        self.result = RunResult(prompt=prompt, airflow=self.config.airflow)
        if run_id:
            self.result.run_id = run_id
        if cluster_info:
            self.result.cluster = cluster_info
        self._cancelled = threading.Event()
        self._dispatcher: Dispatcher | None = None
        self._planning_since: float | None = None  # when the planning under way started

    # control --------------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancelled.set()
        if self._dispatcher is not None:
            self._dispatcher.cancel()

    def _check_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise RunCancelled("the run was cancelled")

    # the loop -------------------------------------------------------------------------
    def execute(self) -> RunResult:
        result = self.result
        start: ClientStart | None = None
        try:
            self._validate()
            toolset = load_toolset(self.config.toolset)
            result.toolset = toolset.name
            if self.client is None:  # the cluster starts while the planner starts writing
                start = self.client = ClientStart(self.config.cluster)
            self._iterations(toolset)
            result.status = "success"
        except RunCancelled as exc:
            result.status, result.error = "cancelled", str(exc)
            self._keep_unfinished_iteration()
        except Exception as exc:  # every failure is recorded with its cause
            result.status, result.error = "failed", error_text(exc)
            self._keep_unfinished_iteration()
        except BaseException as exc:  # interrupted from outside (Ctrl-C, an Airflow task timeout): cancel, record, re-raise
            self.cancel()
            result.status, result.error = "cancelled", f"interrupted: {error_text(exc)}"
            self._keep_unfinished_iteration()
            raise
        finally:
            result.finished = time.time()
            if start is not None:
                result.cluster = start.info or result.cluster
            self._fill_timings()
            self._release_futures()
            if start is not None:  # after what finished was collected and released
                start.close()
            self._record()
            self.on_event("status", {"status": result.status, "error": result.error})
        return result

    def _release_futures(self) -> None:
        """Drop the last iteration's futures once recorded, so Dask frees their results on the cluster."""
        if self._dispatcher is not None:
            self._dispatcher.release()

    def _validate(self) -> None:
        if self.plan_text is None:
            if self.prompt is None or not self.prompt.strip():
                raise ValueError("the prompt is empty: give a question, or a plan to run")
            if self.llm is None:
                raise ValueError("no LLM to plan with: give an LLM, or a plan to run")
        if self.prompt is not None and len(self.prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt is {len(self.prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")

    def _iterations(self, toolset: Toolset) -> None:
        result = self.result
        previous: list[tuple[str, str]] = []
        cache = result_cache_for(toolset, self.config.result_cache, self.config.store_url)
        for iteration in range(self.config.max_replans + 1):
            self._check_cancelled()
            dispatcher = Dispatcher(self.client, toolset, result.run_id, len(result.plans),
                                    shared_calls=self.config.shared_calls, result_cache=cache)
            self._dispatcher = dispatcher
            plan_started = self._planning_since = time.time()
            warnings: list[str] = []  # the compiler's, as FILE:LINE:COL: warning: lines
            if self.plan_text is not None and iteration == 0:
                graph = self._compile_given_plan(toolset, dispatcher, warnings)
                text = self.plan_text
            else:
                graph, text, warnings = self._plan(toolset, dispatcher, iteration, previous)
            planned = time.time()
            result.timings.planning_s += planned - plan_started
            self._planning_since = None
            if dispatcher.first_dispatch is not None:
                if result.timings.first_dispatch_s is None:
                    result.timings.first_dispatch_s = dispatcher.first_dispatch - result.started
                result.timings.overlap_s += max(0.0, planned - dispatcher.first_dispatch)
            observations = self._wait(dispatcher)
            result.timings.execution_s += time.time() - (dispatcher.first_dispatch or planned)
            # Dask's reschedule counts are added after the joiner started (they are not in its input)
            records = dispatcher.records(observations, graph, with_reschedules=False)
            result.plans.append(PlanIteration(iteration=len(result.plans), text=text, tasks=records,
                                              thought=graph.thought, warnings=warnings))
            self.on_event("finished", {"iteration": iteration, "tasks": len(records)})
            dispatcher.ask_reschedules()  # answered while the joiner runs
            try:
                if self.llm is None or self.prompt is None:
                    return  # no joiner: the observations are the result
                observed = _observations_text(graph, observations, records)
                decision = self._join(text, observed, can_replan=iteration < self.config.max_replans)
            finally:
                dispatcher.add_reschedules(records)
            if not decision.replan:
                result.answer = decision.answer
                return
            previous.append((text, observed))
        raise RuntimeError(f"no answer after {self.config.max_replans} replans")

    def _compile_given_plan(self, toolset: Toolset, dispatcher: Dispatcher, warnings: list[str]) -> TaskGraph:
        found: list[Diagnostic] = []
        graph = compile_plan(
            self.plan_text or "",
            toolset.signatures(),
            source="<plan>",
            optimize=self.config.optimize,
            disabled_passes=self.config.disabled_passes,
            warnings=found,
        )
        warnings += map(str, found)
        self._check_cancelled()
        dispatcher.submit_graph(graph)
        self.on_event("planned", {"tasks": len(graph)})
        return graph

    def _plan(
        self, toolset: Toolset, dispatcher: Dispatcher, iteration: int, previous: list[tuple[str, str]]
    ) -> tuple[TaskGraph, str, list[str]]:
        errors: str | None = None
        last_error: PlanError | None = None
        for _attempt in range(self.config.max_plan_attempts):
            self._check_cancelled()
            try:
                planned = stream_plan(
                    self.llm,
                    self.prompt or "",
                    toolset,
                    dispatcher,
                    previous=previous,
                    compile_errors=errors,
                    streaming=self.config.streaming,
                    optimize=self.config.optimize,
                    disabled_passes=self.config.disabled_passes,
                    max_tokens=self.config.planner_max_tokens,
                    repair=self.config.repair_plans,
                    calls=self.result.llm_calls,
                    cancelled=self._cancelled,
                    on_task=lambda task: self.on_event("planned", {"task": task.id, "tool": task.tool}),
                )
                return planned.graph, planned.text, planned.warnings
            except PlanFailed as failure:
                dispatcher.reset()
                last_error, errors = failure.error, str(failure.error)
                dispatcher.iteration = len(self.result.plans) + 1
                self.result.plans.append(
                    PlanIteration(iteration=len(self.result.plans), text=failure.text,
                                  compile_errors=errors.splitlines(), warnings=failure.warnings)
                )
        assert last_error is not None
        raise last_error

    def _wait(self, dispatcher: Dispatcher) -> dict[int, Observation]:
        deadline = None if self.config.run_timeout is None else time.time() + self.config.run_timeout
        while True:
            self._check_cancelled()
            remaining = None if deadline is None else deadline - time.time()
            if remaining is not None and remaining <= 0:
                dispatcher.cancel()
                raise TimeoutError(f"the plan's tasks did not finish within {self.config.run_timeout:g} s")
            try:
                observations = dispatcher.wait(timeout=min(1.0, remaining) if remaining is not None else 1.0)
            except TimeoutError:
                continue
            self._check_cancelled()
            return observations

    def _join(self, plan_text: str, observed: str, *, can_replan: bool) -> JoinDecision:
        started = time.time()
        decision = join(self.llm, self.prompt or "", plan_text, observed, can_replan=can_replan, calls=self.result.llm_calls)
        self.result.timings.joining_s += time.time() - started
        self.result.joiner_model = self.llm.model_name
        self.on_event("joined", {"replan": decision.replan})
        return decision

    def _keep_unfinished_iteration(self) -> None:
        """A run that stops mid-iteration still records the tasks it dispatched and those that finished."""
        dispatcher = self._dispatcher
        if dispatcher is None or not dispatcher.tasks:
            return
        if any(p.iteration == dispatcher.iteration and p.tasks for p in self.result.plans):
            return
        graph = TaskGraph(tasks=dict(dispatcher.tasks))
        records = dispatcher.records(dispatcher.observations(), graph)
        self.result.plans.append(PlanIteration(iteration=dispatcher.iteration, text=self.plan_text or "", tasks=records))

    # after the run --------------------------------------------------------------------
    def _fill_timings(self) -> None:
        result = self.result
        result.timings.wall_s = (result.finished or time.time()) - result.started
        if self._planning_since is not None:  # the run failed or stopped while planning: every attempt counts
            result.timings.planning_s += (result.finished or time.time()) - self._planning_since
        result.fill_figures()
        if self.llm is not None:
            result.planner_model = self.llm.model_name

    def _record(self) -> None:
        if self.config.prices is not None:
            tokens = self.result.tokens
            self.result.cost = self.config.prices.cost(tokens.prompt, tokens.completion)
        record_run(self.result, self.config.store_url, strict=self.config.store_strict)


def _observations_text(graph: TaskGraph, observations: dict[int, Observation], records: list) -> str:
    lines = []
    for record in records:
        call = f"{record.tool}({', '.join(map(repr, record.args))}{', ' if record.args and record.kwargs else ''}"
        call += ", ".join(f"{k}={v!r}" for k, v in record.kwargs.items()) + ")"
        source = graph.resolve(record.id)
        obs = observations.get(record.id) or observations.get(source)
        text = preview(obs.as_text(), OBSERVATION_CHARS) if obs else f"ERROR: {record.status}"
        lines.append(f"${record.id} = {call}\nObservation: {text}")
    return "\n".join(lines)


def record_run(result: RunResult, store_url: str | None, *, strict: bool = False) -> None:
    """Save ``result`` in the metrics store (``store_url`` None: the default one; ``NO_STORE``: none),
    and note on it whether that worked; send it as a trace when OpenTelemetry is configured."""
    emit_run_trace(result)
    if store_url is not None and store_url.lower() == NO_STORE:
        return
    from llmcompiler_provider.store import save_run_safely

    result.metrics_saved, result.metrics_error = save_run_safely(result, store_url, strict=strict)


def error_text(exc: BaseException) -> str:
    """What a failed run records: the message, after the exception's type unless the message is one
    of this project's clear sentences."""
    text = str(exc).strip() or type(exc).__name__
    clear = (PlanError, ValueError, TimeoutError, LLMError, ToolsetNotFound)
    return text if isinstance(exc, clear) else f"{type(exc).__name__}: {text}"


def run_llmcompiler(prompt: str | None = None, **kwargs: Any) -> RunResult:
    """Run one prompt (or ``plan=``) to the end; see ``LLMCompilerRun`` for the arguments."""
    return LLMCompilerRun(prompt, **kwargs).execute()
