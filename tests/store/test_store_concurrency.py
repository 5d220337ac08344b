"""Many writers at once lose nothing: threads in one process and separate processes.

The processes start against an empty store, so they also race to migrate it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from llmcompiler_provider.results import RunResult
from llmcompiler_provider.store import get_run, list_runs, save_run

SAVE_FROM_STDIN = (
    "import sys\n"
    "from llmcompiler_provider.results import RunResult\n"
    "from llmcompiler_provider.store import save_run\n"
    "print(save_run(RunResult.model_validate_json(sys.stdin.read()), sys.argv[1]))\n"
)


def save_all_at_once(results: list[RunResult], url: str) -> list[str]:
    start = threading.Barrier(len(results))

    def save(result: dict) -> str:
        start.wait()
        return save_run(result, url)

    with ThreadPoolExecutor(max_workers=len(results)) as pool:
        return list(pool.map(save, results))


def save_in_processes(results: list[RunResult], url: str) -> list[str]:
    processes = [
        subprocess.Popen([sys.executable, "-c", SAVE_FROM_STDIN, url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in results
    ]
    for process, result in zip(processes, results):  # all are started before any gets its run
        process.stdin.write(json.dumps(result.to_dict()))
        process.stdin.close()
    saved = []
    for process in processes:
        out, err = process.stdout.read(), process.stderr.read()
        assert process.wait(timeout=300) == 0, err
        saved.append(out.strip())
    return saved


@pytest.mark.postgres
def test_sixteen_threads_saving_at_once_against_postgres(postgres_url, make_result):
    results = [make_result() for _ in range(16)]
    assert sorted(save_all_at_once(results, postgres_url)) == sorted(r.run_id for r in results)
    stored = list_runs(postgres_url, limit=100)
    assert sorted(r.run_id for r in stored) == sorted(r.run_id for r in results)
    assert all(len(get_run(r.run_id, postgres_url).all_tasks) == 4 for r in results)


@pytest.mark.postgres
def test_sixteen_processes_saving_at_once_into_an_empty_postgres_store(postgres_url, make_result):
    results = [make_result() for _ in range(16)]
    assert sorted(save_in_processes(results, postgres_url)) == sorted(r.run_id for r in results)
    assert sorted(r.run_id for r in list_runs(postgres_url, limit=100)) == sorted(r.run_id for r in results)


def test_threads_saving_at_once_against_sqlite(sqlite_url, make_result):
    results = [make_result() for _ in range(8)]
    save_all_at_once(results, sqlite_url)
    assert sorted(r.run_id for r in list_runs(sqlite_url, limit=100)) == sorted(r.run_id for r in results)


def test_processes_saving_at_once_into_an_empty_sqlite_store(sqlite_url, make_result):
    results = [make_result() for _ in range(4)]
    save_in_processes(results, sqlite_url)
    assert sorted(r.run_id for r in list_runs(sqlite_url, limit=100)) == sorted(r.run_id for r in results)


def test_the_same_airflow_try_saved_by_many_writers_at_once_is_stored_once(store_url, make_result):
    identity = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": 3, "try_number": 1}
    results = [make_result(airflow=identity) for _ in range(8)]
    saved = save_all_at_once(results, store_url)
    stored = list_runs(store_url, dag_id="d")
    assert len(stored) == 1 and stored[0].run_id in saved
    assert len(get_run(stored[0].run_id, store_url).all_tasks) == 4
