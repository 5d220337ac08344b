"""`llmcompiler runs list|show` and `llmcompiler db upgrade|flush`, run as a person would (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from llmcompiler_provider.store import save_run, save_run_safely, unsaved_dir
from llmcompiler_provider.store.engine import alembic_config

PROJECT = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("LLMCOMPILER_TEST_PYTHON", str(PROJECT / ".venv" / "bin" / "python"))
if not Path(PYTHON).exists():
    PYTHON = sys.executable


def llmcompiler(*args: str) -> subprocess.CompletedProcess:
    """Run the command with this test's environment (its private LLMCOMPILER_HOME)."""
    return subprocess.run([PYTHON, "-m", "llmcompiler_provider", *args], capture_output=True, text=True,
                          cwd=PROJECT, timeout=120)


@pytest.fixture
def stored_runs(store_url, make_result, make_task):
    ok = make_result(airflow={"dag_id": "nightly", "run_id": "r1", "task_id": "ask", "map_index": None,
                              "try_number": 1})
    failed = make_result([make_task(1, 0, 1), make_task(2, 0, 2, status="failed", error="search service down")],
                         status="failed", error="task 2 (search) failed", started_offset=60)
    for result in (ok, failed):
        save_run(result, store_url)
    return ok, failed


def test_db_upgrade_migrates_the_given_store(store_url):
    done = llmcompiler("db", "upgrade", "--store", store_url)
    assert done.returncode == 0, done.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert done.stdout.strip().endswith(f"is at revision {head}")


def test_db_upgrade_uses_the_home_folder_by_default():
    done = llmcompiler("db", "upgrade")
    assert done.returncode == 0, done.stderr
    home = Path(os.environ["LLMCOMPILER_HOME"])
    assert (home / "llmcompiler.db").is_file()
    assert str(home / "llmcompiler.db") in done.stdout


def test_runs_list_json_gives_the_runs_newest_first(store_url, stored_runs):
    ok, failed = stored_runs
    done = llmcompiler("runs", "list", "--store", store_url, "--json")
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert [r["run_id"] for r in runs] == [failed.run_id, ok.run_id]
    assert runs[0]["status"] == "failed" and runs[1]["dag_id"] == "nightly"
    assert runs[1]["timings"]["speedup"] == 2.0 and runs[1]["tokens"] == {"prompt": 320, "completion": 50}


def test_runs_list_filters(store_url, stored_runs):
    ok, failed = stored_runs
    by_status = json.loads(llmcompiler("runs", "list", "--store", store_url, "--status", "failed", "--json").stdout)
    by_dag = json.loads(llmcompiler("runs", "list", "--store", store_url, "--dag", "nightly", "--json").stdout)
    limited = json.loads(llmcompiler("runs", "list", "--store", store_url, "--limit", "1", "--json").stdout)
    assert [r["run_id"] for r in by_status] == [failed.run_id]
    assert [r["run_id"] for r in by_dag] == [ok.run_id]
    assert [r["run_id"] for r in limited] == [failed.run_id]


def test_runs_list_prints_a_table(store_url, stored_runs):
    done = llmcompiler("runs", "list", "--store", store_url)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["RUN", "ID", "STARTED", "STATUS", "DAG", "TASKS", "WALL", "SPEEDUP", "TOKENS", "PROMPT"]
    assert [row.split()[0] for row in rows] == [stored_runs[1].run_id, stored_runs[0].run_id]
    assert "2.00x" in rows[1] and "nightly" in rows[1]


def test_runs_list_on_an_empty_store_says_so(store_url):
    done = llmcompiler("runs", "list", "--store", store_url)
    assert (done.returncode, done.stdout.strip()) == (0, "no runs recorded yet")


def test_runs_show_json_has_the_status_and_each_tasks_times(store_url, stored_runs):
    _, failed = stored_runs
    done = llmcompiler("runs", "show", failed.run_id, "--store", store_url, "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["run_id"] == failed.run_id
    assert (run["status"], run["error"]) == ("failed", "task 2 (search) failed")
    tasks = run["plans"][0]["tasks"]
    assert [(t["id"], t["status"]) for t in tasks] == [(1, "success"), (2, "failed")]
    for task, original in zip(tasks, failed.plans[0].tasks):
        assert task["start"] == pytest.approx(original.start, abs=1e-5)
        assert task["stop"] == pytest.approx(original.stop, abs=1e-5)
    assert [p["text"] for p in run["plans"]] == [failed.plans[0].text]
    assert [c["role"] for c in run["llm_calls"]] == ["planner", "joiner"]


def test_runs_show_prints_the_run_and_its_task_table_from_an_id_prefix(store_url, stored_runs):
    _, failed = stored_runs
    done = llmcompiler("runs", "show", failed.run_id[:8], "--store", store_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["run", failed.run_id]
    assert "status          failed: task 2 (search) failed" in lines
    table_start = next(i for i, line in enumerate(lines) if line.startswith("IT"))
    task_lines = lines[table_start + 1:]
    assert [line.split()[:4] for line in task_lines] == [["0", "1", "search", "success"], ["0", "2", "search", "failed"]]
    assert task_lines[1].rstrip().endswith("search service down")
    assert "2.000s" in task_lines[1]  # its duration


def test_runs_show_of_an_unknown_run_fails_with_one_clear_line(store_url, stored_runs):
    done = llmcompiler("runs", "show", "0123456789abcdef", "--store", store_url)
    assert done.returncode == 1
    assert done.stderr.strip() == "llmcompiler: no run '0123456789abcdef' in the metrics store"


def test_an_unreachable_store_fails_with_one_clear_line():
    done = llmcompiler("runs", "list", "--store", "postgresql+psycopg2://postgres:pw@127.0.0.1:1/test")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("llmcompiler: cannot use the metrics store at postgresql+psycopg2://postgres:***@")
    assert "Connection refused" in done.stderr


def test_db_flush_saves_runs_kept_while_the_store_was_away(sqlite_url, tmp_path, make_result):
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    result = make_result()
    assert save_run_safely(result, f"sqlite:///{blocked / 'x.db'}")[0] is False

    done = llmcompiler("db", "flush", "--store", sqlite_url)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"saved 1 kept run(s) from {unsaved_dir()}")
    shown = json.loads(llmcompiler("runs", "show", result.run_id, "--store", sqlite_url, "--json").stdout)
    assert shown["run_id"] == result.run_id
    assert list(unsaved_dir().glob("*.json")) == []
