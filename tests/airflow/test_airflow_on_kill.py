"""``on_kill``: Airflow's SIGTERM handler calls it; the run's Dask futures are cancelled and the
run is recorded as cancelled."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from airflow_test_support import task_states, wait_for, xcoms
from llmcompiler_provider.store import get_run

pytestmark = pytest.mark.slow


def test_sigterm_kills_the_task_and_the_run_is_recorded_cancelled(run_dag, tmp_path):
    marker = tmp_path / "slow_step_started"

    def terminate_once_the_tool_runs() -> None:
        wait_for(marker.exists, 180, "the slow tool never started")
        os.kill(os.getpid(), signal.SIGTERM)  # what the supervisor sends a task it kills

    killer = threading.Thread(target=terminate_once_the_tool_runs, daemon=True)
    killer.start()
    dag_run = run_dag("llmcompiler_test_kill", run_conf={"marker": str(marker)})
    killer.join(timeout=5)

    assert task_states(dag_run) == {("slow", -1): "failed"}
    pushed = xcoms(dag_run, "slow")
    stored = get_run(pushed["run_id"])
    assert stored.status == "cancelled"
    assert stored.error == "the run was cancelled"
    assert [t.status for t in stored.all_tasks] == ["cancelled"]
    assert pushed["metrics"]["status"] == "cancelled"
    assert "return_value" not in pushed
