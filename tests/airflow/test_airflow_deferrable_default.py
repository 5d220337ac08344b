"""``deferrable`` follows Airflow's ``[operators] default_deferrable`` as Airflow's own providers do,
where a deferred run is possible (a ``dask_conn_id``); an embedded cluster is never deferred."""

from __future__ import annotations

import pytest

from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator


@pytest.mark.parametrize("configured", ["True", "False"])
def test_with_a_dask_connection_the_default_is_airflows(monkeypatch, configured):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", configured)
    operator = LLMCompilerOperator(task_id="ask", prompt="hi", dask_conn_id="dask_remote")
    assert operator.deferrable is (configured == "True")


def test_an_embedded_cluster_is_not_deferred_even_when_airflow_defers_by_default(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert LLMCompilerOperator(task_id="ask", prompt="hi").deferrable is False


def test_an_explicit_choice_wins_over_the_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert LLMCompilerOperator(task_id="ask", prompt="hi", dask_conn_id="d", deferrable=False).deferrable is False
    with pytest.raises(ValueError, match="deferrable=True needs a dask_conn_id"):
        LLMCompilerOperator(task_id="ask", prompt="hi", deferrable=True)
