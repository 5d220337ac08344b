"""The embedded cluster's settings from Airflow: the ``[llmcompiler]`` config section (declared in the
provider info, so ``airflow config`` knows it), then the operator's ``embedded_cluster``."""

from __future__ import annotations

import pytest

from airflow_test_support import airflow_cli
from llmcompiler_provider.hooks.dask import TASK_PROCESS_CHILD_ENV, embedded_cluster_options
from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator


def test_an_unknown_setting_or_value_fails_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="embedded_cluster has no setting 'processes'; it takes embedded_processes"):
        LLMCompilerOperator(task_id="a", plan="1. join()", embedded_cluster={"processes": True})
    with pytest.raises(ValueError, match=r"embedded_cluster\['embedded_workers'\] must be 1 or more, not 0"):
        LLMCompilerOperator(task_id="b", plan="1. join()", embedded_cluster={"embedded_workers": 0})
    with pytest.raises(ValueError, match=r"must be true or false, not 'maybe'"):
        LLMCompilerOperator(task_id="c", plan="1. join()", embedded_cluster={"embedded_processes": "maybe"})


def test_the_config_section_sets_defaults_and_the_operator_overrides_them(monkeypatch):
    defaults = embedded_cluster_options("cpu")
    assert (defaults.processes, defaults.n_workers, defaults.threads_per_worker) == (False, 2, 32)
    assert defaults.worker_env == TASK_PROCESS_CHILD_ENV  # for worker processes started from a task

    monkeypatch.setenv("AIRFLOW__LLMCOMPILER__EMBEDDED_PROCESSES", "True")
    monkeypatch.setenv("AIRFLOW__LLMCOMPILER__EMBEDDED_THREADS_PER_WORKER", "4")
    configured = embedded_cluster_options("fail", {"embedded_workers": 1})
    assert (configured.processes, configured.n_workers, configured.threads_per_worker) == (True, 1, 4)
    assert configured.gpu_fallback == "fail" and configured.address is None


def test_airflow_config_lists_the_section_with_its_defaults(airflow_db):
    done = airflow_cli("config", "get-value", "llmcompiler", "embedded_threads_per_worker")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "32"
