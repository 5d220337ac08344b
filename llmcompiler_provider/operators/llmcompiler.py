"""``LLMCompilerOperator``: plan a prompt as a graph of tool calls, run it on Dask, answer.

The operator stays thin: hooks turn connections into settings, the core
(``agent.run.LLMCompilerRun``) does the run and records it in the metrics store,
``run_text`` and ``operators.summaries`` format what goes to the log and XCom.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowException

from llmcompiler_provider.agent.remote_run import RemoteRun, record_failure, submit_remote_run
from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig, record_run
from llmcompiler_provider.links import RUN_ID_XCOM_KEY, LLMCompilerRunLink
from llmcompiler_provider.llm.settings import LLMSettings
from llmcompiler_provider.operators.base import LLMCompilerBaseOperator, cause, llm_failure
from llmcompiler_provider.operators.summaries import metrics_summary
from llmcompiler_provider.operators.toolsets import build_toolset
from llmcompiler_provider.results import RunResult
from llmcompiler_provider.run_text import plans_text, task_table, timings_line
from llmcompiler_provider.tracing import trace_carrier

if TYPE_CHECKING:
    from airflow.sdk import Context

METRICS_XCOM_KEY = "metrics"
#: deferred runs: time allowed beyond the plan iterations' own timeouts (planning, joining, start-up)
DEFERRED_SLACK_S = 600.0


class LLMCompilerOperator(LLMCompilerBaseOperator):
    """Have an LLM plan ``prompt`` as a graph of tool calls, run the graph on Dask, and return the answer.

    :param prompt: the question (templated). Optional when ``plan`` is given.
    :param plan: a plan to run instead of asking the planner (templated); with a
        prompt, the joiner still writes the answer from the plan's results.
    :param toolset: ``"demo"`` or ``"package.module:attribute"`` naming a ``Toolset``,
        or a ``Toolset`` (default ``"demo"`` unless ``tools`` are given).
    :param tools: plain callables to offer as tools, added to ``toolset``.
    :param llm_conn_id: an ``llmcompiler_llm`` (or common-ai ``pydanticai``)
        connection; None: the local model.
    :param model: overrides the connection's model (templated).
    :param dask_conn_id: an ``llmcompiler_dask`` connection; None: an embedded cluster.
    :param store_conn_id: the metrics store: an Airflow connection id or a
        SQLAlchemy URL; None: the default store.
    :param max_replans: how many times the joiner may ask for a new plan.
    :param optimize: run the plan optimizer; ``disabled_passes`` switches single passes off.
    :param streaming: dispatch each task the moment its plan line is complete.
    :param repair_plans: let the compiler repair the slips planners make instead of
        asking the planner again (unquoted argument text, a missing final ``)``, code
        fences, ``$5`` in a string, text after ``join()``), each recorded as a warning
        with the run (default True). It governs the planner's plans, first plans and
        replans alike; a ``plan`` given here always compiles exactly.
    :param gpu_fallback: ``"cpu"`` runs GPU tools on CPU slots when no GPU is
        visible; ``"fail"`` refuses to.
    :param embedded_cluster: settings of the embedded cluster (without ``dask_conn_id``):
        ``embedded_processes`` (worker processes instead of threads of the task process,
        for CPU-bound Python tools), ``embedded_workers``, ``embedded_threads_per_worker``;
        defaults from Airflow's ``[llmcompiler]`` config section.
    :param run_timeout: seconds a plan iteration's tasks may take.
    :param deferrable: submit the run to the ``dask_conn_id`` cluster and wait in
        the triggerer instead of holding a worker slot. Default: Airflow's
        ``[operators] default_deferrable`` when a ``dask_conn_id`` is given; without one
        the run is never deferred (its embedded cluster lives in the task process), and
        an explicit ``deferrable=True`` is an error.
    :param poll_interval: seconds between the trigger's looks at the store.
    """

    template_fields: Sequence[str] = (
        "prompt", "plan", "model", "toolset", "llm_conn_id", "dask_conn_id", "store_conn_id",
    )
    template_fields_renderers = {"prompt": "md", "plan": "py"}
    operator_extra_links = (LLMCompilerRunLink(),)

    def __init__(self, *, prompt: str | None = None, plan: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # the arguments every LLMCompiler operator takes: operators/base.py
        if prompt is None and plan is None:
            raise ValueError("LLMCompilerOperator needs a prompt, a plan, or both")
        self.prompt = prompt
        self.plan = plan
        self._run: LLMCompilerRun | None = None
        self._killed = False

    # settings ---------------------------------------------------------------------------
    def _llm_settings(self) -> LLMSettings | None:
        """None when there is nothing for an LLM to do (a plan without a prompt)."""
        if self.prompt is None:
            return None
        settings = self.llm_hook.get_settings()
        self.log.info("LLM: %s", settings.describe())
        return settings

    # the run ----------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        store_url = self.store_hook.get_url()
        config = self._config(context, store_url, self._cluster_options())
        run_id = uuid.uuid4().hex
        try:  # a missing tool module or a bad LLM connection still leaves a recorded, failed run
            config.toolset = build_toolset(self.toolset, self.tools)
        except Exception as exc:
            self._fail_before_start(context, run_id, config, f"the tools could not be loaded: {cause(exc)}")
        try:
            settings = self._llm_settings()
            if settings is not None:  # the run records what its tokens cost at the connection's prices
                config.prices = self.llm_hook.get_prices(settings.model)
        except Exception as exc:
            self._fail_before_start(context, run_id, config, llm_failure(exc))
        if self.deferrable:
            spec = RemoteRun(run_id, self.prompt, self.plan, settings, config, carrier=trace_carrier())
            self._submit_and_defer(context, spec)
        return self._run_here(context, run_id, settings, config)

    def _run_here(
        self, context: Context, run_id: str, settings: LLMSettings | None, config: RunConfig
    ) -> Any:
        try:
            llm = settings.make() if settings is not None else None
        except Exception as exc:
            self._fail_before_start(context, run_id, config, llm_failure(exc))
        run = LLMCompilerRun(self.prompt, plan=self.plan, llm=llm, config=config, on_event=self._log_event,
                             run_id=run_id)
        self._run = run
        if self._killed:
            run.cancel()
        try:
            result = run.execute()
        except BaseException as stop:  # Airflow's task timeout or termination interrupts the run itself
            self._record_interrupted(run, stop)
            raise
        finally:
            self._run = None
        return self._report(context, result)

    def _fail_before_start(self, context: Context, run_id: str, config: RunConfig, reason: str) -> NoReturn:
        """Record a run that could not start, report it, and fail the task with ``reason``."""
        result = record_failure(run_id, self.prompt, config, reason)
        self._publish(context, result)
        raise _run_failed(result)

    def _record_interrupted(self, run: LLMCompilerRun, stop: BaseException) -> None:
        run.cancel()
        if run.result.status == "running":
            run.result.status = "cancelled"
            run.result.error = f"the Airflow task was stopped ({type(stop).__name__})"
            record_run(run.result, run.config.store_url)

    def _log_event(self, name: str, details: dict[str, Any]) -> None:
        if name == "planned" and "task" in details:
            self.log.info("planned task %s: %s", details["task"], details.get("tool"))
        elif name in ("finished", "joined"):
            self.log.info("%s: %s", name, details)

    def on_kill(self) -> None:
        """Cancel the run's Dask futures; the run is recorded as cancelled."""
        self._killed = True
        run = self._run
        if run is not None:
            self.log.info("cancelling LLMCompiler run %s", run.result.run_id)
            run.cancel()

    # deferrable mode --------------------------------------------------------------------
    def _submit_and_defer(self, context: Context, spec: RemoteRun) -> NoReturn:
        from llmcompiler_provider.execution.cluster import check_versions
        from llmcompiler_provider.triggers.run import SETTLE_S, LLMCompilerRunTrigger

        cluster = spec.config.cluster
        try:
            with self.dask_hook.get_conn() as client:
                check_versions(client)
                submit_remote_run(client, spec)
        except Exception as exc:  # the scheduler is down or refuses the run: recorded as a failed run
            reason = f"could not submit the run to the Dask scheduler at {cluster.address}: {cause(exc)}"
            self._fail_before_start(context, spec.run_id, spec.config, reason)
        context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=spec.run_id)
        self.log.info(
            "submitted LLMCompiler run %s to %s; deferring until it finishes", spec.run_id, cluster.address
        )
        timeout = self.run_timeout * (self.max_replans + 1) + DEFERRED_SLACK_S
        self.defer(
            trigger=LLMCompilerRunTrigger(
                run_id=spec.run_id,
                store_url=spec.config.store_url,
                scheduler=cluster.address,
                tls=self.dask_hook.get_tls_options(),
                poll_interval=self.poll_interval,
                timeout=timeout,
                not_before=time.time() + SETTLE_S,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 60),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger: report the run from the store, exactly as a direct run reports."""
        from llmcompiler_provider.store import get_run

        run_id = event["run_id"]
        result = get_run(run_id, self.store_hook.get_url())
        if result is None:
            context["ti"].xcom_push(key=RUN_ID_XCOM_KEY, value=run_id)
            cause = event.get("message") or "it is not in the store"
            raise AirflowException(f"LLMCompiler run {run_id} failed: {cause}")
        return self._report(context, result)

    # after the run ----------------------------------------------------------------------
    def _report(self, context: Context, result: RunResult) -> Any:
        """Publish the run; its answer, or the task fails with the run's cause."""
        self._publish(context, result)
        if result.status != "success":
            raise _run_failed(result)
        self.log.info("answer: %s", result.answer)
        return result.answer

    def _publish(self, context: Context, result: RunResult) -> None:
        """XCom (run id, metrics), the plan and task table in the log, and Airflow's Stats."""
        ti = context["ti"]
        ti.xcom_push(key=RUN_ID_XCOM_KEY, value=result.run_id)
        ti.xcom_push(key=METRICS_XCOM_KEY, value=metrics_summary(result))
        self.log.info("LLMCompiler run %s\n%s", result.run_id, plans_text(result))
        self.log.info("tasks (START: seconds from the run's start):\n%s\n%s", task_table(result), timings_line(result))
        _emit_stats(result, self.log)
        if result.metrics_saved is False:
            self.log.warning("metrics were not saved: %s", result.metrics_error)


def _run_failed(result: RunResult) -> AirflowException:
    return AirflowException(f"LLMCompiler run {result.run_id} {result.status}: {result.error}")


def _emit_stats(result: RunResult, log: Any) -> None:
    """Send the run's figures to Airflow's metrics (statsd/OpenTelemetry when configured)."""
    from airflow.sdk.observability.stats import Stats

    from llmcompiler_provider.run_metrics import emit_stats

    try:
        emit_stats(result, Stats)
    except Exception as exc:  # metrics are best effort: never fail a finished run over them
        log.warning("could not emit run metrics: %s", exc)
