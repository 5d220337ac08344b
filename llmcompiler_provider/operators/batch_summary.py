"""``LLMCompilerBatchSummaryOperator``: the outcome of every prompt of a mapped batch, and a verdict.

A batch is ``LLMCompilerOperator.partial(task_id="ask", ...).expand(prompt=[...])``;
this operator runs after it (``trigger_rule="all_done"``, so failed prompts do not
skip it), reads each map index's task state from Airflow and its run from the
metrics store, logs one line per prompt, returns the summary, and fails when more
prompts failed than ``max_failed_fraction`` allows: the DAG run then fails too,
naming the failed map indexes and their run ids, instead of reporting success over
failed prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from llmcompiler_provider.hooks.store import MetricsStoreHook
from llmcompiler_provider.operators.summaries import batch_verdict, prompt_outcomes, summarize_outcomes

if TYPE_CHECKING:
    from airflow.sdk import Context


class LLMCompilerBatchSummaryOperator(BaseOperator):
    """Summarize the mapped ``LLMCompilerOperator`` task ``batch_task_id`` of this DAG run.

    :param batch_task_id: the mapped task whose prompts to summarize.
    :param max_failed_fraction: the share of prompts that may fail (0 to 1) before this
        task fails; the default 0 fails it on any failed prompt.
    :param store_conn_id: the metrics store the batch wrote to (as on the batch's operator).
    """

    template_fields: Sequence[str] = ("batch_task_id", "store_conn_id")
    ui_color = "#e7f0fd"

    def __init__(
        self,
        *,
        batch_task_id: str,
        max_failed_fraction: float = 0.0,
        store_conn_id: str | None = None,
        trigger_rule: str = "all_done",
        **kwargs: Any,
    ) -> None:
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        if not 0.0 <= max_failed_fraction <= 1.0:
            raise ValueError(f"max_failed_fraction must be between 0 and 1, not {max_failed_fraction}")
        self.batch_task_id = batch_task_id
        self.max_failed_fraction = max_failed_fraction
        self.store_conn_id = store_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from llmcompiler_provider.store import list_runs

        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[self.batch_task_id], run_ids=[ti.run_id])
        runs = list_runs(
            MetricsStoreHook(self.store_conn_id).get_url(),
            dag_id=ti.dag_id,
            airflow_run_id=ti.run_id,
            task_id=self.batch_task_id,
            limit=None,
        )
        outcomes = prompt_outcomes(self.batch_task_id, states.get(ti.run_id, {}), runs)
        summary = summarize_outcomes(outcomes, runs)
        for outcome in outcomes:
            self.log.info("prompt %(map_index)s: %(status)s, run %(run_id)s%(error_text)s",
                          {**outcome, "error_text": f": {outcome['error']}" if outcome["error"] else ""})
        self.log.info("batch: %d prompts, %d succeeded, %d failed", summary["runs"], summary["succeeded"],
                      summary["failed"])
        failure = batch_verdict(outcomes, self.max_failed_fraction)
        if failure:
            ti.xcom_push(key="return_value", value=summary)  # the summary still reports every prompt
            raise AirflowException(failure)
        return summary
