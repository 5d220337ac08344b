"""``LLMCompilerBatchOperator``: many prompts in one task, on one Dask cluster and one LLM, resumable.

The prompts come from a list (templated, or an XCom), a file (JSONL, CSV, Parquet) at any
``ObjectStoragePath``, or the rows of a SQL query through a common-sql connection. The core
(``batch.BatchRunner``) runs them with ``max_active_runs`` in flight, within the endpoint's
limits, and checkpoints each prompt in the metrics store under the batch id: the default id
is derived from the task's DAG run, task id and map index, so an Airflow retry of the task
skips every prompt that already succeeded. The task returns the batch's summary and fails,
naming the failed prompt ids, when more prompts failed than ``max_failed_fraction`` allows.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowException

from llmcompiler_provider.batch import BatchOptions, BatchRunner, Prices, progress_line, read_prompts
from llmcompiler_provider.batch.remote import RemoteBatch, submit_remote_batch
from llmcompiler_provider.batch_results import BatchPrompt, BatchSummary
from llmcompiler_provider.operators.base import LLMCompilerBaseOperator, cause, llm_failure
from llmcompiler_provider.operators.toolsets import build_toolset
from llmcompiler_provider.tracing import trace_carrier

if TYPE_CHECKING:
    from airflow.sdk import Context

BATCH_ID_XCOM_KEY = "llmcompiler_batch_id"


class LLMCompilerBatchOperator(LLMCompilerBaseOperator):
    """Run every prompt of a batch and return the batch's summary.

    Give exactly one source of prompts:

    :param prompts: a list of prompt strings or ``{"id", "prompt"}`` mappings (templated;
        an ``XComArg`` works too).
    :param input_path: a ``.jsonl``, ``.csv`` or ``.parquet`` file of ``id``/``prompt`` rows:
        a path or URL (templated) or an ``ObjectStoragePath`` (s3://, gs://, file://, ...).
    :param sql: a query whose rows are the prompts (columns ``id`` and ``prompt``, optionally
        ``plan``), run through ``sql_conn_id``'s common-sql hook.

    :param output_path: where to write one row per prompt (``.jsonl`` or ``.parquet``), optional.
    :param batch_id: the batch's id (templated); default: derived from the DAG run, task and
        map index, so retries of the task resume the batch.
    :param max_active_runs: runs in flight at once.
    :param max_concurrent_requests: LLM requests in flight at once, across the batch.
    :param requests_per_minute: LLM requests started per minute.
    :param tokens_per_minute: LLM tokens per minute.
    :param max_total_tokens: start no new prompt once the batch used this many tokens.
    :param max_cost: start no new prompt once the batch cost this much (prices per model come
        from the LLM connection's extra: ``{"prices": {"MODEL": {"input_per_million": 0.15,
        "output_per_million": 0.6}}}``).
    :param max_failed_fraction: the share of prompts that may fail (0 to 1) before the task fails.
    :param rerun_failed: on a retry, run the prompts that failed before again (default True).
    :param share_tool_calls: identical pure tool calls of different prompts execute once.
    :param progress_every_s: seconds between progress lines in the task log.
    :param deferrable: hand the whole batch to the ``dask_conn_id`` cluster (its driver runs on
        a worker there) and wait in the triggerer instead of holding a worker slot; the output
        path must then be one the cluster's workers can write (object storage). Default as for
        ``LLMCompilerOperator``.

    The other arguments are ``LLMCompilerOperator``'s.
    """

    template_fields: Sequence[str] = (
        "prompts", "input_path", "sql", "output_path", "batch_id", "model", "toolset", "llm_conn_id",
        "dask_conn_id", "store_conn_id", "sql_conn_id",
    )
    template_fields_renderers = {"sql": "sql", "prompts": "json"}

    def __init__(
        self,
        *,
        prompts: Sequence[Any] | None = None,
        input_path: Any = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        output_path: Any = None,
        batch_id: str | None = None,
        max_active_runs: int = 8,
        max_concurrent_requests: int | None = None,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        max_total_tokens: int | None = None,
        max_cost: float | None = None,
        max_failed_fraction: float = 0.0,
        rerun_failed: bool = True,
        share_tool_calls: bool = True,
        progress_every_s: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = [name for name, value in (("prompts", prompts), ("input_path", input_path), ("sql", sql))
                 if value is not None]
        if len(given) != 1:
            raise ValueError("LLMCompilerBatchOperator needs exactly one of prompts, input_path or sql"
                             + (f", not {' and '.join(given)}" if given else ""))
        if sql is not None and not sql_conn_id:
            raise ValueError("sql needs a sql_conn_id: the connection to run the query on")
        self.prompts = prompts
        self.input_path = input_path
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.output_path = output_path
        self.batch_id = batch_id
        self.options = BatchOptions(  # checked here, so a DAG with bad limits fails to parse
            max_active_runs=max_active_runs,
            max_concurrent_requests=max_concurrent_requests,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            max_total_tokens=max_total_tokens,
            max_cost=max_cost,
            prices=Prices() if max_cost is not None else None,  # the connection's prices replace these
            max_failed_fraction=max_failed_fraction,
            rerun_failed=rerun_failed,
            share_tool_calls=share_tool_calls,
            progress_every_s=progress_every_s,
        )
        self._runner: BatchRunner | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        prompts = self._read_prompts()
        store_url = self.store_hook.get_url()
        config = self._config(context, store_url, self._cluster_options())
        try:
            config.toolset = build_toolset(self.toolset, self.tools)
        except Exception as exc:
            raise AirflowException(f"the tools could not be loaded: {cause(exc)}") from exc
        try:
            settings = self.llm_hook.get_settings()
            prices = self.llm_hook.get_prices(settings.model)
        except Exception as exc:
            raise AirflowException(llm_failure(exc)) from exc
        options = self.options
        if prices is not None or options.max_cost is not None:
            options = _with_prices(options, prices, settings.model)
        batch_id = self.batch_id or default_batch_id(context)
        context["ti"].xcom_push(key=BATCH_ID_XCOM_KEY, value=batch_id)
        self.log.info("batch %s: %d prompts, LLM %s, up to %d runs at once", batch_id, len(prompts),
                      settings.describe(), options.max_active_runs)
        name = f"{context['ti'].dag_id}.{context['ti'].task_id}"
        if self.deferrable:
            self._submit_and_defer(RemoteBatch(batch_id, prompts, settings, config, options, self._output(), name,
                                               carrier=trace_carrier()))
        self._runner = BatchRunner(
            prompts, llm=settings, config=config, options=options, output=self._output(), batch_id=batch_id,
            name=name, on_progress=lambda summary: self.log.info("%s", progress_line(summary)),
        )
        try:
            summary = self._runner.execute()
        finally:
            self._runner = None
        return self._report(context, summary)

    def _submit_and_defer(self, spec: RemoteBatch) -> NoReturn:
        from llmcompiler_provider.execution.cluster import check_versions
        from llmcompiler_provider.triggers.run import SETTLE_S, LLMCompilerRunTrigger

        cluster = spec.config.cluster
        try:
            with self.dask_hook.get_conn() as client:
                check_versions(client)
                submit_remote_batch(client, spec)
        except Exception as exc:
            raise AirflowException(f"could not submit batch {spec.batch_id} to the Dask scheduler at "
                                   f"{cluster.address}: {cause(exc)}") from exc
        self.log.info("submitted batch %s to %s; deferring until it finishes", spec.batch_id, cluster.address)
        self.defer(
            trigger=LLMCompilerRunTrigger(
                run_id=spec.batch_id, kind="batch", store_url=spec.config.store_url, scheduler=cluster.address,
                tls=self.dask_hook.get_tls_options(), poll_interval=self.poll_interval,
                not_before=time.time() + SETTLE_S,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: report the batch from the store, as a batch run here reports."""
        from llmcompiler_provider.store import get_batch

        summary = get_batch(event["run_id"], self.store_hook.get_url())
        if summary is None or event.get("status") == "error":
            cause_text = event.get("message") or "it is not in the store"
            raise AirflowException(f"batch {event['run_id']} failed: {cause_text}")
        return self._report(context, summary)

    def on_kill(self) -> None:
        """Stop starting prompts and cancel the runs in flight (each is recorded as cancelled)."""
        runner = self._runner
        if runner is not None:
            self.log.info("cancelling batch %s", runner.batch_id)
            runner.cancel()

    # prompts in, rows out -----------------------------------------------------------------
    def _read_prompts(self) -> list[BatchPrompt]:
        try:
            if self.prompts is not None:
                return read_prompts(list(self.prompts))
            if self.input_path is not None:
                return read_prompts(_storage_path(self.input_path))
            return read_prompts(self._sql_rows())
        except ValueError as exc:
            raise AirflowException(f"the batch's prompts cannot be read: {exc}") from exc

    def _sql_rows(self) -> list[dict[str, Any]]:
        from airflow.providers.common.sql.hooks.handlers import fetch_all_handler
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(self.sql_conn_id).get_hook()
        rows = hook.run(self.sql, handler=fetch_all_handler) or []
        columns = [d[0].lower() for d in (hook.descriptions[-1] or ())]
        if "prompt" not in columns:
            raise ValueError(f"the query on {self.sql_conn_id!r} must return a 'prompt' column (and "
                             f"optionally 'id' and 'plan'), not {columns}")
        return [dict(zip(columns, row)) for row in rows]

    def _output(self) -> Any:
        return _storage_path(self.output_path) if self.output_path else None  # a template may render ''


    def _report(self, context: Context, summary: BatchSummary) -> dict[str, Any]:
        self.log.info("%s", progress_line(summary))
        result = summary.to_dict()
        if summary.status != "success":
            context["ti"].xcom_push(key="return_value", value=result)  # the summary still reports every prompt
            raise AirflowException(f"batch {summary.batch_id} {summary.status}: {summary.error}")
        return result


def default_batch_id(context: Context) -> str:
    """The same for every try of this task instance, so a retry resumes the batch."""
    ti = context["ti"]
    key = f"{ti.dag_id}\0{ti.run_id}\0{ti.task_id}\0{ti.map_index}"
    return "af-" + hashlib.sha256(key.encode()).hexdigest()[:29]


def _storage_path(value: Any) -> Any:
    from airflow.sdk import ObjectStoragePath

    return value if hasattr(value, "open") else ObjectStoragePath(str(value))


def _with_prices(options: BatchOptions, prices: Prices | None, model: str | None) -> BatchOptions:
    from dataclasses import replace

    if prices is None:
        raise AirflowException(f"max_cost needs the prices of {model!r}: set them in the LLM connection's "
                               'extra as {"prices": {"MODEL": {"input_per_million": ..., "output_per_million": ...}}}')
    return replace(options, prices=prices)
