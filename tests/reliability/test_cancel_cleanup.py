"""``cancel()`` (what the operator's ``on_kill`` calls): the run is recorded as cancelled, with the
work that had finished, and its Dask tasks are really gone from the scheduler."""

from __future__ import annotations

import gc
import threading
import time

from fault_tools import called_pids

from llmcompiler_provider.store import get_run

WAIT_S = 60.0


def keys_the_scheduler_still_has(client, keys: list[str]) -> list[str]:
    def known(dask_scheduler, keys):
        return [key for key in keys if key in dask_scheduler.tasks]

    return client.run_on_scheduler(known, keys=keys)


def test_a_cancelled_run_is_recorded_cancelled_and_its_futures_leave_the_scheduler(
    make_run, cluster, sqlite_url, tmp_path
):
    client, _info = cluster
    marker, release = tmp_path / "calls", tmp_path / "release"
    plan = (f'1. never_returns("{marker}", "{release}")\n2. echo("after $1")\n3. echo("independent")\n'
            f'4. never_returns("{tmp_path / "other-calls"}", "{release}")\n5. join()')
    run = make_run(plan)

    def cancel_once_running() -> None:
        deadline = time.monotonic() + WAIT_S
        while not called_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        run.cancel()

    canceller = threading.Thread(target=cancel_once_running, daemon=True)
    canceller.start()
    # with the cyclic collector off, a future that only a reference cycle keeps alive stays
    # alive (and its key on the scheduler): the run must release its futures itself
    gc.disable()
    try:
        result = run.execute()
    finally:
        gc.enable()
        release.touch()
    canceller.join(timeout=5)

    assert (result.status, result.error) == ("cancelled", "the run was cancelled")
    stored = get_run(result.run_id, sqlite_url)
    assert (stored.status, stored.error) == ("cancelled", "the run was cancelled")
    statuses = {task.id: task.status for task in stored.all_tasks}
    assert {i: statuses[i] for i in (1, 2, 4)} == {1: "cancelled", 2: "cancelled", 4: "cancelled"}
    # the independent call is kept as finished when it beat the cancel (on a busy machine it may not have)
    assert statuses[3] in ("success", "cancelled")

    keys = sorted({task.unit for task in stored.all_tasks})
    assert len(keys) >= 3
    deadline = time.monotonic() + WAIT_S
    while keys_the_scheduler_still_has(client, keys) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert keys_the_scheduler_still_has(client, keys) == []
