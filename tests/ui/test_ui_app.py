"""The app's pages and JSON endpoints over real stores (SQLite and PostgreSQL), via FastAPI's TestClient."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from llmcompiler_provider.results import LLMCall, PlanIteration, RunResult
from llmcompiler_provider.store import save_run
from llmcompiler_provider.ui import create_app, create_standalone_app
from llmcompiler_provider.ui.access import Viewer

from ui_samples import HOSTILE_PROMPT, LEAKED_SECRET, MAIN_AIRFLOW, SeededStore

PREFIX = "/llmcompiler"


def rows_of(page: str) -> list[str]:
    """The run ids of the runs table's rows, in order."""
    return re.findall(r'<tr class="run-row" data-run-id="([^"]+)"', page)


def newest_first(results: list[RunResult]) -> list[str]:
    return [r.run_id for r in sorted(results, key=lambda r: r.started, reverse=True)]


def only_nightly_batch() -> Viewer:
    return Viewer(readable_dag_ids=frozenset({"nightly_batch"}), reads_runs_outside_airflow=False)


def test_runs_page_lists_every_run_newest_first_each_linking_to_its_page(client: TestClient,
                                                                         seeded: SeededStore):
    response = client.get(f"{PREFIX}/runs")
    assert response.status_code == 200
    assert rows_of(response.text) == newest_first(seeded.results)
    for run_id in seeded.run_ids:
        assert f'href="{PREFIX}/runs/{run_id}"' in response.text
    for heading in ("Wall time", "Speedup", "Efficiency", "Tasks", "Tokens", "Status"):
        assert f">{heading}</th>" in response.text


def test_runs_page_filters_by_dag_status_and_date(client: TestClient, seeded: SeededStore):
    nightly = client.get(f"{PREFIX}/runs", params={"dag_id": "nightly_batch"}).text
    of_nightly = [r for r in seeded.results if r.dag_id == "nightly_batch"]
    assert rows_of(nightly) == newest_first(of_nightly)
    failed = client.get(f"{PREFIX}/runs", params={"status": "failed"}).text
    assert rows_of(failed) == newest_first([r for r in seeded.results if r.status == "failed"])
    cutoff = datetime(2025, 6, 15, tzinfo=timezone.utc).timestamp()
    recent = client.get(f"{PREFIX}/runs", params={"since": "2025-06-15"}).text
    assert rows_of(recent) == newest_first([r for r in seeded.results if r.started >= cutoff])
    both = client.get(f"{PREFIX}/runs", params={"dag_id": "llm_research", "status": "failed", "limit": 1})
    assert len(rows_of(both.text)) == 1
    nothing = client.get(f"{PREFIX}/runs", params={"dag_id": "no_such_dag"})
    assert "No runs match these filters." in nothing.text


def test_the_prompt_and_answer_are_shown_as_text_never_as_markup(client: TestClient, seeded: SeededStore):
    for page in (client.get(f"{PREFIX}/runs").text, client.get(f"{PREFIX}/runs/{seeded.main_run_id}").text):
        assert "<script>" not in page
        assert "<b>heights</b>" not in page
    run_page = client.get(f"{PREFIX}/runs/{seeded.main_run_id}").text
    assert str(escape(HOSTILE_PROMPT)) in run_page
    assert "by &lt;237 m&gt;." in run_page


def test_run_page_shows_plans_task_graphs_gantt_figures_errors_and_answer(client: TestClient,
                                                                          seeded: SeededStore):
    response = client.get(f"{PREFIX}/runs/{seeded.main_run_id}")
    assert response.status_code == 200
    page = response.text
    assert "Plan 1</h2>" in page and "Plan 2 (replan)</h2>" in page
    assert str(escape('1. search("Statue of Liberty height in metres")')) in page
    graphs = re.findall(r'<svg [^>]*class="task-graph".*?</svg>', page, flags=re.S)
    assert [len(re.findall(r'class="node ', g)) for g in graphs] == [7, 2]
    gantt = re.search(r'<svg [^>]*class="gantt".*?</svg>', page, flags=re.S).group(0)
    # 8 tasks that ran + their 2 GPU tasks again on the GPU slot lanes + 4 LLM calls
    assert len(re.findall(r'<rect [^>]*class="bar ', gantt)) == 14
    assert len(re.findall(r'class="bar bar-task status-success gpu"', gantt)) == 4
    assert re.findall(r">(GPU slot \d)</text>", gantt) == ["GPU slot 1", "GPU slot 2"]
    lanes = ("10.0.0.11:40101 · slot 1", "10.0.0.11:40101 · slot 2", "10.0.0.12:40102",
             "10.0.0.13:40103 · slot 1")
    for lane in lanes:
        assert f">{lane}</text>" in gantt
    figures = dict(re.findall(r'<div class="label">([^<]+)</div><div class="value">([^<]+)</div>', page))
    assert figures["Wall time"] == "5.00 s" and figures["Tasks"] == "9" and figures["Tokens"] == "2,524"
    assert figures["Speedup"].endswith("×") and figures["Efficiency"].endswith("%")
    assert figures["Cost"] == "0.0123"  # kept with the run in the store
    assert "task $5 fetch" in page and "connection refused" in page
    assert "depends on $5 fetch, which failed" in page
    assert "The Eiffel Tower (330 m) is taller" in page


def test_secrets_in_stored_text_are_masked_on_pages_and_in_json(client: TestClient, seeded: SeededStore):
    shown = [
        client.get(f"{PREFIX}/runs/{seeded.main_run_id}").text,
        client.get(f"{PREFIX}/api/runs/{seeded.main_run_id}").text,
        client.get(f"{PREFIX}/api/runs/{seeded.main_run_id}/gantt").text,
    ]
    for text in shown:
        assert LEAKED_SECRET not in text
    assert "https://bot:***@example.com/h" in shown[0]


def test_json_endpoints_return_what_the_pages_show(client: TestClient, seeded: SeededStore):
    listed = client.get(f"{PREFIX}/api/runs").json()
    assert listed["count"] == len(seeded.results)
    assert [r["run_id"] for r in listed["runs"]] == newest_first(seeded.results)
    detail = client.get(f"{PREFIX}/api/runs/{seeded.main_run_id}").json()
    tasks = [task for plan in detail["plans"] for task in plan["tasks"]]
    assert (len(detail["plans"]), len(tasks), len(detail["llm_calls"])) == (2, 9, 4)
    assert detail["prompt"] == HOSTILE_PROMPT and detail["airflow"]["dag_id"] == MAIN_AIRFLOW["dag_id"]
    gantt = client.get(f"{PREFIX}/api/runs/{seeded.main_run_id}/gantt").json()
    assert sum(len(lane["bars"]) for lane in gantt["lanes"]) == 14
    assert [lane["name"] for lane in gantt["lanes"] if lane["group"] == "gpu"] == ["GPU slot 1", "GPU slot 2"]
    trend = client.get(f"{PREFIX}/api/trends", params={"dag_id": "nightly_batch"}).json()
    assert trend["count"] == 6
    assert [p["started"] for p in trend["points"]] == sorted(p["started"] for p in trend["points"])
    assert client.get(f"{PREFIX}/api/runs", params={"limit": 0}).status_code == 422


def test_openapi_documents_the_json_endpoints_but_not_the_pages(client: TestClient):
    document = client.get(f"{PREFIX}/api/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/gantt", "/api/trends", "/api/ti", "/api/batches",
        "/api/batches/{batch_id}", "/api/batches/{batch_id}/runs"}
    schemas = set(document["components"]["schemas"])
    assert {"RunSummary", "RunResult", "Gantt", "Trend", "TaskInstanceRun", "BatchSummary", "BatchList"} <= schemas
    assert document["paths"]["/api/runs"]["get"]["summary"] == "Recent runs, newest first"


@pytest.mark.parametrize("map_index", ["{MAP_INDEX}", "-1", ""])
def test_task_instance_view_opens_the_run_of_that_task_instance(client: TestClient, seeded: SeededStore,
                                                                 map_index: str):
    query = {key: MAIN_AIRFLOW[key] for key in ("dag_id", "run_id", "task_id")} | {"map_index": map_index}
    response = client.get(f"{PREFIX}/ti", params=query, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{PREFIX}/runs/{seeded.main_run_id}"
    assert client.get(f"{PREFIX}/ti", params=query).url.path == f"{PREFIX}/runs/{seeded.main_run_id}"


def test_task_instance_view_of_a_mapped_task_opens_that_map_index(client: TestClient, seeded: SeededStore):
    mapped = next(r for r in seeded.results if r.dag_id == "nightly_batch" and r.airflow.map_index == 1)
    expected = mapped.run_id
    query = {"dag_id": "nightly_batch", "run_id": mapped.airflow.run_id, "task_id": "answer",
             "map_index": 1}
    found = client.get(f"{PREFIX}/api/ti", params=query).json()
    assert found == {"run_id": expected, "url": f"{PREFIX}/runs/{expected}"}


def test_a_task_instance_without_a_run_is_a_clear_404(client: TestClient):
    query = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": "3"}
    response = client.get(f"{PREFIX}/ti", params=query)
    assert response.status_code == 404
    expected = "No LLMCompiler run is recorded for task 't' (map index 3) of DAG 'd', run 'r'."
    assert str(escape(expected)) in response.text


def test_an_unknown_run_is_a_404_page_and_a_404_json(client: TestClient):
    page = client.get(f"{PREFIX}/runs/nope")
    assert page.status_code == 404 and "No run with id &#39;nope&#39; is recorded" in page.text
    assert client.get(f"{PREFIX}/api/runs/nope").json() == {
        "detail": "No run with id 'nope' is recorded in the metrics store."}


def test_an_unreadable_date_filter_is_a_400_with_one_sentence(client: TestClient):
    response = client.get(f"{PREFIX}/api/runs", params={"since": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "'since' must be a date like 2025-06-15 or a time like 2025-06-15T12:00:00Z, not 'last tuesday'.")
    assert client.get(f"{PREFIX}/runs", params={"since": "last tuesday"}).status_code == 400


def test_trends_page_plots_latency_speedup_and_tokens_with_a_line_per_dag(client: TestClient,
                                                                          seeded: SeededStore):
    page = client.get(f"{PREFIX}/trends").text
    charts = re.findall(r'<svg [^>]*class="trend trend-(\w+)".*?</svg>', page, flags=re.S)
    assert charts == ["wall_s", "speedup", "tokens"]
    for chart in re.findall(r'<svg [^>]*class="trend .*?</svg>', page, flags=re.S):
        assert len(re.findall(r'class="series"', chart)) == 3  # llm_research, nightly_batch, outside Airflow
        assert len(re.findall(r'class="point"', chart)) == len(seeded.results)
    one_dag = client.get(f"{PREFIX}/trends", params={"dag_id": "llm_research"}).text
    assert len(re.findall(r'class="series"', one_dag)) == 3  # one line in each of the three charts


def test_a_viewer_limited_to_some_dags_sees_only_their_runs(seeded: SeededStore):
    root = FastAPI()
    root.mount(PREFIX, create_app(seeded.url, viewer=only_nightly_batch))
    with TestClient(root) as limited:
        listed = limited.get(f"{PREFIX}/api/runs").json()["runs"]
        assert {r["dag_id"] for r in listed} == {"nightly_batch"} and len(listed) == 6
        assert rows_of(limited.get(f"{PREFIX}/runs").text) == [r["run_id"] for r in listed]
        points = limited.get(f"{PREFIX}/api/trends").json()["points"]
        assert {p["dag_id"] for p in points} == {"nightly_batch"}
        assert limited.get(f"{PREFIX}/runs/{seeded.main_run_id}").status_code == 403
        assert limited.get(f"{PREFIX}/api/runs/{seeded.main_run_id}/gantt").status_code == 403
        assert limited.get(f"{PREFIX}/api/runs", params={"dag_id": "llm_research"}).json() == {
            "detail": "You are not allowed to read the runs of DAG 'llm_research'."}
        query = {"dag_id": MAIN_AIRFLOW["dag_id"], "run_id": MAIN_AIRFLOW["run_id"], "task_id": "ask"}
        assert limited.get(f"{PREFIX}/ti", params=query).status_code == 403


def test_an_unreachable_store_is_a_503_saying_so_in_one_sentence_without_its_password():
    app = create_standalone_app("postgresql+psycopg2://reader:hunter2@127.0.0.1:9/metrics")
    with TestClient(app) as unreachable:
        response = unreachable.get(f"{PREFIX}/api/runs")
        page = unreachable.get(f"{PREFIX}/runs")
    assert response.status_code == 503 and page.status_code == 503
    detail = response.json()["detail"]
    where = "postgresql+psycopg2://reader:***@127.0.0.1:9/metrics"
    assert detail.startswith(f"The metrics store at {where} cannot be read: ")
    assert "\n" not in detail and "hunter2" not in detail and "hunter2" not in page.text


def test_an_empty_store_says_no_runs_are_recorded_yet(store_url: str):
    with TestClient(create_standalone_app(store_url)) as empty:
        assert "No runs recorded yet." in empty.get(f"{PREFIX}/runs").text
        assert "No runs recorded yet." in empty.get(f"{PREFIX}/trends").text


def test_pages_forbid_scripts_and_framing_by_other_sites(client: TestClient):
    headers = client.get(f"{PREFIX}/runs").headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert client.get("/", follow_redirects=False).headers["location"] == f"{PREFIX}/runs"
    assert client.get(f"{PREFIX}/icon.svg").headers["content-type"] == "image/svg+xml"


def test_a_run_that_failed_before_any_plan_shows_its_error_and_no_charts(store_url: str):
    failed = RunResult(
        status="failed", prompt="hello", error="the planner could not reach http://llm:8000/v1",
        started=1_750_000_000.0, finished=1_750_000_001.0,
        llm_calls=[LLMCall(role="planner", model="m", error="connection refused", started=1_750_000_000.0)],
    )
    save_run(failed, store_url)
    with TestClient(create_standalone_app(store_url)) as one_run:
        page = one_run.get(f"{PREFIX}/runs/{failed.run_id}").text
    assert "the planner could not reach http://llm:8000/v1" in page and "connection refused" in page
    assert 'class="task-graph"' not in page and "No answer (the run failed)." in page
    assert len(re.findall(r'<rect [^>]*class="bar ', page)) == 1  # the planner call


def test_a_plans_repairs_are_shown_as_warnings_next_to_its_compile_errors(store_url: str):
    unquoted = '<planner>:1:11: warning: unquoted argument text taken as one string: "Pulp Fiction"'
    fence = "<planner>:1:1: warning: Markdown code fence dropped"
    run = RunResult(
        status="success", prompt="a movie like Pulp Fiction?", started=1_750_000_000.0,
        plans=[PlanIteration(iteration=0, text="```\n1. serch(Pulp Fiction)", warnings=[fence],
                             compile_errors=["<planner>:2:4: error: unknown tool 'serch'"]),
               PlanIteration(iteration=1, text="1. search(Pulp Fiction)\n2. join()", warnings=[unquoted])],
    )
    save_run(run, store_url)
    with TestClient(create_standalone_app(store_url)) as one_run:
        page = one_run.get(f"{PREFIX}/runs/{run.run_id}").text
        detail = one_run.get(f"{PREFIX}/api/runs/{run.run_id}").json()
    first, second = page.split("<h2>Plan 2 (replan)</h2>")
    assert f'<p class="notice warning mono">{escape(fence)}</p>' in first
    assert '<p class="notice error mono">&lt;planner&gt;:2:4: error: unknown tool' in first
    assert f'<p class="notice warning mono">{escape(unquoted)}</p>' in second and "notice error" not in second
    assert [p["warnings"] for p in detail["plans"]] == [[fence], [unquoted]]


def test_a_run_still_running_shows_what_has_run_so_far(store_url: str):
    running = RunResult(status="running", prompt="hello", started=1_750_000_000.0)
    save_run(running, store_url)
    with TestClient(create_standalone_app(store_url)) as one_run:
        response = one_run.get(f"{PREFIX}/runs/{running.run_id}")
    assert response.status_code == 200
    assert "No task or LLM call of this run has recorded times." in response.text


def test_a_masked_prompt_keeps_the_hash_of_the_prompt_as_it_was(store_url: str):
    secret = RunResult(status="success", prompt="summarize with api_key=abc123 please", started=1_750_000_000.0)
    save_run(secret, store_url)
    with TestClient(create_standalone_app(store_url)) as one_run:
        detail = one_run.get(f"{PREFIX}/api/runs/{secret.run_id}").json()
        (listed,) = one_run.get(f"{PREFIX}/api/runs").json()["runs"]
    assert "abc123" not in detail["prompt"]
    assert detail["prompt_hash"] == listed["prompt_hash"] == secret.prompt_hash
