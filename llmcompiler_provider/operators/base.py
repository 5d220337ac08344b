"""What the LLMCompiler operators share: the tools, the LLM, the cluster, the store and the run settings.

``LLMCompilerOperator`` (one prompt) and ``LLMCompilerBatchOperator`` (many) take the same
arguments for these and turn them into the core's ``RunConfig`` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from llmcompiler_provider.agent.run import RunConfig
from llmcompiler_provider.execution.cluster import ClusterOptions
from llmcompiler_provider.hooks.dask import DaskHook, check_embedded_cluster, embedded_cluster_options
from llmcompiler_provider.hooks.llm import LLMCompilerLLMHook
from llmcompiler_provider.hooks.store import MetricsStoreHook
from llmcompiler_provider.results import AirflowIdentity, one_line

if TYPE_CHECKING:
    from airflow.sdk import Context

    from llmcompiler_provider.tools.registry import Toolset

GPU_FALLBACKS = ("cpu", "fail")


def task_try_identity(context: Context) -> AirflowIdentity:
    """The task try a run belongs to, as the metrics store records it."""
    ti = context["ti"]
    return AirflowIdentity(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
                           try_number=ti.try_number)


class LLMCompilerBaseOperator(BaseOperator):
    """The arguments every LLMCompiler operator takes (see ``LLMCompilerOperator`` for each)."""

    ui_color = "#e7f0fd"

    def __init__(
        self,
        *,
        toolset: str | Toolset | None = None,
        tools: Sequence[Callable[..., Any]] | None = None,
        llm_conn_id: str | None = None,
        model: str | None = None,
        dask_conn_id: str | None = None,
        store_conn_id: str | None = None,
        max_replans: int = 1,
        optimize: bool = True,
        disabled_passes: Sequence[str] = (),
        streaming: bool = True,
        repair_plans: bool = True,
        gpu_fallback: str = "cpu",
        embedded_cluster: Mapping[str, Any] | None = None,
        run_timeout: float = 900.0,
        deferrable: bool | None = None,
        poll_interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if gpu_fallback not in GPU_FALLBACKS:
            raise ValueError(f"gpu_fallback must be 'cpu' or 'fail', not {gpu_fallback!r}")
        if max_replans < 0:
            raise ValueError(f"max_replans must be 0 or more, not {max_replans}")
        check_embedded_cluster(embedded_cluster or {})
        if deferrable is None:
            deferrable = bool(dask_conn_id) and _deferrable_by_default()
        if deferrable and not dask_conn_id:
            raise ValueError(
                "deferrable=True needs a dask_conn_id: a deferred run runs on a remote Dask scheduler"
            )
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.toolset = toolset
        self.tools = list(tools or [])
        self.llm_conn_id = llm_conn_id
        self.model = model
        self.dask_conn_id = dask_conn_id
        self.store_conn_id = store_conn_id
        self.max_replans = max_replans
        self.optimize = optimize
        self.disabled_passes = tuple(disabled_passes)
        self.streaming = streaming
        self.repair_plans = repair_plans
        self.gpu_fallback = gpu_fallback
        self.embedded_cluster = dict(embedded_cluster or {})
        self.run_timeout = run_timeout

    # hooks and settings -----------------------------------------------------------------
    @cached_property
    def llm_hook(self) -> LLMCompilerLLMHook:
        return LLMCompilerLLMHook(self.llm_conn_id, model=self.model)

    @cached_property
    def dask_hook(self) -> DaskHook:
        """The Dask connection's hook (only with a ``dask_conn_id``)."""
        return DaskHook(self.dask_conn_id)

    @cached_property
    def store_hook(self) -> MetricsStoreHook:
        return MetricsStoreHook(self.store_conn_id)

    def _cluster_options(self) -> ClusterOptions:
        if self.dask_conn_id:
            return self.dask_hook.get_cluster_options(self.gpu_fallback)
        return embedded_cluster_options(self.gpu_fallback, self.embedded_cluster)

    def _config(self, context: Context, store_url: str, cluster: ClusterOptions) -> RunConfig:
        """The runs' settings; the toolset is filled in by ``execute``."""
        return RunConfig(
            max_replans=self.max_replans,
            optimize=self.optimize,
            disabled_passes=self.disabled_passes,
            streaming=self.streaming,
            repair_plans=self.repair_plans,
            run_timeout=self.run_timeout,
            store_url=store_url,
            airflow=task_try_identity(context),
            cluster=cluster,
        )


def _deferrable_by_default() -> bool:
    from airflow.sdk import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


def cause(exc: BaseException) -> str:
    return one_line(exc) or type(exc).__name__


def llm_failure(exc: BaseException) -> str:
    return f"the LLM could not be set up: {cause(exc)}"
