"""Run a batch of prompts: many runs in flight on one Dask client and one LLM, checkpointed per prompt.

``BatchRunner`` starts (or is given) one Dask client and builds one chat model, then keeps
``max_active_runs`` runs (``agent.run.LLMCompilerRun``) in flight in threads until every
prompt ran. Each run is saved in the metrics store when it ends, tagged with the batch id
and the prompt id: that is the checkpoint. Running the same batch id again (an Airflow
retry, ``llmcompiler batch --batch-id``) skips every prompt whose run succeeded and runs
the rest, so a SIGKILL loses at most the runs in flight. A failed prompt is recorded with
its cause and the batch goes on; the summary says whether more failed than allowed. With
OpenTelemetry configured, the batch is one ``invoke_workflow`` span with its runs beneath.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig, error_text
from llmcompiler_provider.batch.options import BatchOptions
from llmcompiler_provider.batch.output_files import OutputWriter
from llmcompiler_provider.batch.prompt_files import ReadablePath
from llmcompiler_provider.batch_results import BatchItem, BatchPrompt, BatchSummary
from llmcompiler_provider.execution.cluster import ClientStart
from llmcompiler_provider.llm import ChatModel
from llmcompiler_provider.llm.settings import OPENAI, LLMSettings
from llmcompiler_provider.results import ClusterInfo, RunResult, one_line
from llmcompiler_provider.store.location import NO_STORE
from llmcompiler_provider.tracing import end_batch_trace, start_batch_trace

#: (summary) -> None, called every ``progress_every_s`` and once at the end
ProgressCallback = Callable[[BatchSummary], None]
#: failed ids named in the batch's error
NAMED_FAILURES = 20


class BatchRunner:
    """One batch. Call ``execute()``; ``cancel()`` may be called from any thread."""

    def __init__(
        self,
        prompts: Iterable[BatchPrompt],
        *,
        llm: LLMSettings | ChatModel | None,
        config: RunConfig | None = None,
        options: BatchOptions | None = None,
        output: ReadablePath | None = None,
        batch_id: str | None = None,
        name: str | None = None,
        client: Any = None,
        cluster_info: ClusterInfo | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.prompts = list(prompts)
        self.llm_source = llm
        self.config = config or RunConfig()
        self.options = options or BatchOptions()
        self.output = output
        self.client = client
        self.on_progress = on_progress or (lambda summary: None)
        self.summary = BatchSummary(batch_id=batch_id or uuid.uuid4().hex, name=name, airflow=self.config.airflow,
                                    total=len(self.prompts), options=self.options.describe())
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._active: dict[str, LLMCompilerRun] = {}
        self._writer: OutputWriter | None = None
        self._cluster_info = cluster_info  # of a given client (else the embedded cluster's, once started)
        self._llm: ChatModel | None = None
        self._shared_calls: Any = None

    @property
    def batch_id(self) -> str:
        return self.summary.batch_id

    @property
    def store_url(self) -> str | None:
        return self.config.store_url

    @property
    def keeps_checkpoints(self) -> bool:
        return not (self.store_url is not None and self.store_url.lower() == NO_STORE)

    # control ------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop starting prompts and cancel the runs in flight (they are recorded as cancelled)."""
        self._cancelled.set()
        with self._lock:
            active = list(self._active.values())
        for run in active:
            run.cancel()

    # the batch ----------------------------------------------------------------------------
    def execute(self) -> BatchSummary:
        summary = self.summary
        start: ClientStart | None = None
        progress = _Ticker(self.options.progress_every_s, self._report_progress)
        trace = start_batch_trace(summary.batch_id, summary.name, summary.airflow, summary.started)
        try:
            shared_cluster = self.client is not None or self.config.cluster.address is not None
            if self.client is None:  # the cluster starts while the checkpoint is read
                start = ClientStart(self.config.cluster)
            done = self._checkpoint()
            if start is not None:
                self.client = start.wait()
                self._cluster_info = start.info
            self._llm = self._make_llm(share_limits=shared_cluster)
            self._shared_calls = self._make_shared_calls()
            self._writer = OutputWriter(self.output) if self.output is not None else None
            self._save()
            progress.start()
            self._run_all(done)
            summary.status = self._verdict()
        except Exception as exc:  # a batch that cannot go on is recorded with its cause
            self.cancel()
            summary.status, summary.error = "failed", error_text(exc)
            raise
        except BaseException as exc:  # interrupted from outside (Ctrl-C, an Airflow task timeout)
            self.cancel()
            summary.status, summary.error = "cancelled", f"interrupted: {error_text(exc)}"
            raise
        finally:
            progress.stop()
            summary.finished = time.time()
            summary.wall_s = summary.finished - summary.started
            summary.in_flight = 0
            if self._writer is not None:
                self._writer.close()
            if self._shared_calls is not None:  # their results leave the cluster's memory
                self._shared_calls.close()
            if start is not None:
                start.close()
            self._save()
            end_batch_trace(trace, summary)
            self.on_progress(summary)
        return summary

    def _run_all(self, done: dict[str, str]) -> None:
        """Every prompt: taken from the checkpoint, or run with at most ``max_active_runs`` in flight.
        A finished run's thread future is not kept (a batch of 10,000 would keep 10,000): only an
        error escaping ``_run_one``, a bug there, which is raised once the runs in flight end."""
        slots = threading.BoundedSemaphore(self.options.max_active_runs)
        bugs: list[BaseException] = []

        def finished(future: Future) -> None:
            slots.release()
            if future.exception() is not None:
                bugs.append(future.exception())

        with ThreadPoolExecutor(self.options.max_active_runs, thread_name_prefix="llmcompiler-batch") as pool:
            try:
                self._start_all(pool, slots, finished, done)
            except BaseException:
                self.cancel()  # before the pool waits for the runs in flight
                raise
        if bugs:
            raise bugs[0]

    def _start_all(self, pool: ThreadPoolExecutor, slots: threading.BoundedSemaphore,
                   finished: Callable[[Future], None], done: dict[str, str]) -> None:
        for prompt in self.prompts:
            earlier = self._stored_run(done.get(prompt.id))
            if earlier is not None:
                self._finish(prompt, earlier, resumed=True)
                continue
            if not self._take_slot(slots):
                self._finish_unrun(prompt, "cancelled", "the batch was cancelled before this prompt started")
                continue
            reason = self._budget_reached()
            if reason is not None:
                slots.release()
                self._finish_unrun(prompt, "skipped", reason)
                continue
            with self._lock:
                self.summary.in_flight += 1
            pool.submit(self._run_one, prompt).add_done_callback(finished)

    def _take_slot(self, slots: threading.BoundedSemaphore) -> bool:
        """Wait for a free slot; False (holding none) once the batch is cancelled, so the prompts left
        are recorded at once rather than each after a wait."""
        while not self._cancelled.is_set():
            if slots.acquire(timeout=0.5):
                if not self._cancelled.is_set():
                    return True
                slots.release()
        return False

    def _run_one(self, prompt: BatchPrompt) -> None:
        config = replace(self.config, prices=self.options.prices, **self._sharing())
        run = LLMCompilerRun(prompt.prompt, plan=prompt.plan, llm=self._llm, config=config, client=self.client,
                             cluster_info=self._cluster_info)
        run.result.batch_id, run.result.prompt_id = self.batch_id, prompt.id
        with self._lock:
            self._active[prompt.id] = run
        try:
            if self._cancelled.is_set():
                run.cancel()
            result = run.execute()
        except Exception as exc:  # never lose a prompt: execute() records its own failures; this is a bug
            result = run.result
            result.status, result.error = "failed", error_text(exc)
        finally:
            with self._lock:
                self._active.pop(prompt.id, None)
                self.summary.in_flight -= 1
        self._finish(prompt, result, resumed=False)

    def _sharing(self) -> dict[str, Any]:
        """Each run's share of the batch: its shared tool calls (when switched on)."""
        return {} if self._shared_calls is None else {"shared_calls": self._shared_calls}

    # bookkeeping ---------------------------------------------------------------------------
    def _finish(self, prompt: BatchPrompt, result: RunResult, *, resumed: bool) -> None:
        prices, tokens, cost = self.options.prices, result.tokens, result.cost
        if cost is None and prices is not None:  # a run stored without its cost, or one that never ran
            cost = prices.cost(tokens.prompt, tokens.completion)
        item = BatchItem(id=prompt.id, status=result.status, answer=result.answer, run_id=result.run_id,
                         error=result.error, prompt_tokens=tokens.prompt, completion_tokens=tokens.completion,
                         cost=cost, wall_s=result.timings.wall_s, resumed=resumed)
        with self._lock:
            summary = self.summary
            if result.status == "success":
                summary.succeeded += 1
                summary.resumed += resumed
            else:
                summary.failed += 1
                summary.failed_ids.append(prompt.id)
            if not resumed:
                summary.tokens.prompt += tokens.prompt
                summary.tokens.completion += tokens.completion
                if cost is not None:
                    summary.cost = (summary.cost or 0.0) + cost
                summary.llm_requests += sum(1 + call.retries for call in result.llm_calls)
                summary.rate_limited += sum(call.rate_limited for call in result.llm_calls)
                counts = result.counts
                summary.tool_calls += counts.tasks
                summary.tool_calls_deduplicated += counts.shared_calls + counts.cache_hits
            self._write(item)

    def _finish_unrun(self, prompt: BatchPrompt, status: str, reason: str) -> None:
        with self._lock:
            if status == "skipped":
                self.summary.skipped += 1
            else:
                self.summary.failed += 1
                self.summary.failed_ids.append(prompt.id)
            self._write(BatchItem(id=prompt.id, status=status, error=reason))

    def _write(self, item: BatchItem) -> None:
        if self._writer is not None:
            self._writer.write(item)

    def _budget_reached(self) -> str | None:
        options, summary = self.options, self.summary
        with self._lock:
            used, cost = summary.tokens.total, summary.cost or 0.0
        if options.max_total_tokens is not None and used >= options.max_total_tokens:
            return f"the batch's token budget was reached ({used:,} of max_total_tokens {options.max_total_tokens:,})"
        if options.max_cost is not None and cost >= options.max_cost:
            return f"the batch's cost budget was reached ({cost:.4g} of max_cost {options.max_cost:g})"
        return None

    def _verdict(self) -> str:
        summary = self.summary
        if self._cancelled.is_set():
            summary.error = "the batch was cancelled"
            return "cancelled"
        if summary.failed and summary.failed / max(1, summary.total) > self.options.max_failed_fraction:
            named = ", ".join(summary.failed_ids[:NAMED_FAILURES])
            more = f" and {summary.failed - NAMED_FAILURES} more" if summary.failed > NAMED_FAILURES else ""
            summary.error = (f"{summary.failed} of {summary.total} prompts failed (max_failed_fraction "
                             f"{self.options.max_failed_fraction:g}): {named}{more}")
            return "failed"
        return "success"

    # set-up -----------------------------------------------------------------------------------
    def _checkpoint(self) -> dict[str, str]:
        """Prompt id -> run id, for the runs of this batch id that need not run again: succeeded
        ones (and failed ones, when ``rerun_failed`` is off)."""
        if not self.keeps_checkpoints:
            return {}
        from llmcompiler_provider.store import batch_prompt_states

        keep = ("success",) if self.options.rerun_failed else ("success", "failed")
        states = batch_prompt_states(self.batch_id, self.store_url)
        return {prompt_id: run_id for prompt_id, (status, run_id) in states.items() if status in keep}

    def _stored_run(self, run_id: str | None) -> RunResult | None:
        """An earlier attempt's run, loaded when its row is written (one at a time: memory stays bounded)."""
        if run_id is None:
            return None
        from llmcompiler_provider.store import get_run

        return get_run(run_id, self.store_url)

    def _make_llm(self, *, share_limits: bool) -> ChatModel | None:
        """One chat model for the whole batch, limited by the batch's request limits; on a cluster other
        processes use too (a scheduler's address, the driver of a deferred batch) the limits are shared
        with them through the scheduler (llm/admission.py)."""
        source = self.llm_source
        if not isinstance(source, LLMSettings):
            return source
        limits: dict[str, Any] = dict(self.options.request_limits())
        if limits and source.kind != OPENAI:
            raise ValueError(f"request limits ({', '.join(limits)}) apply to an OpenAI-compatible endpoint, "
                             f"not {source.describe()}")
        if limits and share_limits:
            limits["share_limits"] = True
        return replace(source, options={**source.options, **limits}).make()

    def _make_shared_calls(self) -> Any:
        if not self.options.share_tool_calls:
            return None
        from llmcompiler_provider.execution.shared_calls import SharedCalls

        return SharedCalls()

    def _save(self) -> None:
        if not self.keeps_checkpoints:
            return
        from llmcompiler_provider.store import save_batch

        with self._lock:
            snapshot = self.summary.model_copy(deep=True)
        try:
            save_batch(snapshot, self.store_url)
        except Exception as exc:  # the runs themselves are saved (or spooled) one by one: go on
            self.summary.error = self.summary.error or f"the batch's record could not be saved: {one_line(exc)}"

    def _report_progress(self) -> None:
        with self._lock:
            self.summary.wall_s = time.time() - self.summary.started
            snapshot = self.summary.model_copy(deep=True)
        self._save()
        self.on_progress(snapshot)


class _Ticker:
    """Calls ``tick`` every ``every_s`` seconds on a daemon thread until stopped."""

    def __init__(self, every_s: float, tick: Callable[[], None]) -> None:
        self._every_s = every_s
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="llmcompiler-batch-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._tick()
            except Exception:  # progress is best effort; the batch goes on
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def run_batch(prompts: Iterable[BatchPrompt], **kwargs: Any) -> BatchSummary:
    """Run a batch to its end; see ``BatchRunner`` for the arguments."""
    return BatchRunner(prompts, **kwargs).execute()
