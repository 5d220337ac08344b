"""A Dask worker process dies under a run: its task is rescheduled and the run completes; a tool
that kills its worker every time ends as a failed task with a clear cause, never a hung run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from fault_tools import called_pids

from llmcompiler_provider.store import get_run

WAIT_S = 120.0


def kill_first_caller(marker: Path) -> threading.Thread:
    """In the background: once the tool has noted its pid in ``marker``, SIGKILL that process."""

    def kill() -> None:
        deadline = time.monotonic() + WAIT_S
        while not called_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        if called_pids(marker):
            os.kill(called_pids(marker)[0], signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_mid_task_is_rescheduled_the_run_completes_and_the_store_shows_the_retry(
    make_run, sqlite_url, tmp_path
):
    marker = tmp_path / "calls"
    plan = f'1. slow_step("{marker}", 3)\n2. echo("after: $1")\n3. echo("independent")\n4. join()'
    killer = kill_first_caller(marker)
    result = make_run(plan).execute()
    killer.join(timeout=5)

    assert result.status == "success", result.error
    first, second = called_pids(marker)
    assert first != second  # the second try ran in another process: the killed one is gone
    stored = get_run(result.run_id, sqlite_url)
    tasks = {task.id: task for task in stored.all_tasks}
    assert tasks[1].status == "success" and tasks[1].attempts == 2
    assert tasks[2].status == "success" and tasks[2].result == f"after: done by {second}"
    assert tasks[3].status == "success"


def test_a_tool_that_kills_its_worker_every_time_fails_with_killed_worker_and_the_run_ends(
    make_run, sqlite_url, tmp_path
):
    marker = tmp_path / "calls"
    plan = f'1. kill_my_worker("{marker}")\n2. echo("after: $1")\n3. echo("independent")\n4. join()'
    result = make_run(plan).execute()

    assert len(called_pids(marker)) == 2  # allowed-failures=1: tried on two workers, then given up
    stored = get_run(result.run_id, sqlite_url)
    assert result.status == stored.status == "success"  # the run ended; its failed task says why
    tasks = {task.id: task for task in stored.all_tasks}
    assert tasks[1].status == "failed" and tasks[1].attempts == 2
    assert tasks[1].error.startswith("KilledWorker: ") and "workers died while running it" in tasks[1].error
    assert tasks[2].status in ("failed", "skipped") and "KilledWorker" in tasks[2].error
    assert tasks[3].status == "success" and tasks[3].result == "independent"
    assert stored.counts.failed_tasks == sum(task.status == "failed" for task in tasks.values())
