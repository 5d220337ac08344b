"""The batches pages and their JSON endpoints over real stores (SQLite and PostgreSQL), via FastAPI's TestClient."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from llmcompiler_provider.ui import create_app, create_standalone_app
from llmcompiler_provider.ui.access import Viewer
from llmcompiler_provider.ui.throughput_chart import buckets

from batch_samples import BATCH_AIRFLOW, BATCH_ID, CLI_BATCH_ID, RATE_LIMIT_CAUSE, SECRET, T0, SeededBatch, seed_batches

PREFIX = "/llmcompiler"


@pytest.fixture
def seeded(store_url: str) -> SeededBatch:
    return seed_batches(store_url)


@pytest.fixture
def client(seeded: SeededBatch) -> Iterator[TestClient]:
    with TestClient(create_standalone_app(seeded.url)) as test_client:
        yield test_client


def run_rows(page: str) -> list[str]:
    return re.findall(r'<tr class="run-row" data-run-id="([^"]+)"', page)


def only_dag(dag_id: str) -> Viewer:
    return Viewer(readable_dag_ids=frozenset({dag_id}), reads_runs_outside_airflow=False)


def test_the_batch_list_endpoint_gives_the_newest_batch_first(client: TestClient):
    listed = client.get(f"{PREFIX}/api/batches").json()

    assert listed["count"] == 2
    assert [b["batch_id"] for b in listed["batches"]] == [BATCH_ID, CLI_BATCH_ID]
    first = listed["batches"][0]
    assert (first["total"], first["succeeded"], first["failed"], first["skipped"]) == (14, 8, 4, 2)
    assert first["runs_per_minute"] == 2.5  # (8 - 2 resumed + 4 failed) runs in 4 minutes
    assert [b["batch_id"] for b in client.get(f"{PREFIX}/api/batches", params={"dag_id": "nightly_batch"})
            .json()["batches"]] == [BATCH_ID]


def test_the_batch_endpoint_gives_its_summary_also_by_a_prefix(client: TestClient, seeded: SeededBatch):
    batch = client.get(f"{PREFIX}/api/batches/{BATCH_ID}").json()

    assert batch["failed_ids"] == ["q-003", "q-006", "q-008", "q-009"]
    assert batch["tokens"] == {"prompt": 1000, "completion": 200}
    assert batch["cost"] == pytest.approx(0.0123)
    assert batch["airflow"]["task_id"] == "answer_prompts"
    assert client.get(f"{PREFIX}/api/batches/{BATCH_ID[:8]}").json()["batch_id"] == BATCH_ID


def test_an_unknown_batch_is_a_404_page_and_a_404_json(client: TestClient):
    response = client.get(f"{PREFIX}/api/batches/no-such-batch")
    assert response.status_code == 404
    assert response.json() == {"detail": "No batch with id 'no-such-batch' is recorded in the metrics store."}
    page = client.get(f"{PREFIX}/batches/no-such-batch")
    assert page.status_code == 404 and "No batch with id" in page.text


def test_the_batch_runs_endpoint_lists_its_runs_and_filters_by_status(client: TestClient, seeded: SeededBatch):
    every = client.get(f"{PREFIX}/api/batches/{BATCH_ID}/runs").json()
    failed = client.get(f"{PREFIX}/api/batches/{BATCH_ID}/runs", params={"status": "failed"}).json()

    assert every["count"] == 10
    assert {r["prompt_id"] for r in every["runs"]} == set(seeded.runs)
    assert {r["batch_id"] for r in every["runs"]} == {BATCH_ID}
    assert [r["prompt_id"] for r in failed["runs"]] == ["q-008", "q-006", "q-003"]  # newest first
    assert every["runs"][0]["counts"]["cache_hits"] == 1


def test_the_batches_page_lists_each_batch_linking_to_its_page(client: TestClient):
    page = client.get(f"{PREFIX}/batches").text

    assert re.findall(r'data-batch-id="([^"]+)"', page) == [BATCH_ID, CLI_BATCH_ID]
    assert f'href="{PREFIX}/batches/{BATCH_ID}"' in page
    assert "14 / 14" in page  # done of total
    assert "0.0123" in page and "outside Airflow" in page


def test_every_page_links_to_the_batches_page(client: TestClient):
    for path in ("/runs", "/trends", "/batches"):
        assert f'href="{PREFIX}/batches"' in client.get(f"{PREFIX}{path}").text, path


def test_the_batch_page_shows_progress_throughput_failures_tokens_and_runs(client: TestClient,
                                                                         seeded: SeededBatch):
    page = client.get(f"{PREFIX}/batches/{BATCH_ID}").text

    assert re.findall(r'class="part part-(\w+)" style="width:([\d.]+)%', page) == [
        ("success", "57.143"), ("failed", "28.571"), ("skipped", "14.286")]
    assert re.findall(r'class="bar" data-finished="(\d+)"', page) == ["4", "3", "2", "1"]
    causes = re.findall(r'<td class="cause">([^<]*)</td><td class="num">(\d+)</td>', page)
    assert causes[0] == (str(escape(RATE_LIMIT_CAUSE)), "2")
    assert [count for _cause, count in causes] == ["2", "1", "1"]
    assert "q-003" in page and "q-008" in page
    assert "1,200" in page and "9 rate-limited" in page and "2 from an earlier attempt" in page
    assert sorted(run_rows(page)) == sorted(r.run_id for r in seeded.runs.values())
    for result in seeded.runs.values():
        assert f'href="{PREFIX}/runs/{result.run_id}"' in page


def test_the_batch_page_filters_its_runs_by_status(client: TestClient, seeded: SeededBatch):
    page = client.get(f"{PREFIX}/batches/{BATCH_ID}", params={"status": "cancelled"}).text
    assert run_rows(page) == [seeded.runs["q-009"].run_id]
    assert 'data-finished="4"' in page  # the charts still count every run


def test_secrets_in_failure_causes_are_masked(client: TestClient):
    page = client.get(f"{PREFIX}/batches/{BATCH_ID}").text
    runs = client.get(f"{PREFIX}/api/batches/{BATCH_ID}/runs").text
    assert SECRET not in page and SECRET not in runs
    assert "https://bot:***@example.com/x" in page


def test_a_run_of_a_batch_links_to_its_batch(client: TestClient, seeded: SeededBatch):
    page = client.get(f"{PREFIX}/runs/{seeded.runs['q-001'].run_id}").text
    assert f'href="{PREFIX}/batches/{BATCH_ID}"' in page and "q-001" in page


def test_the_runs_page_names_the_batch_of_each_batch_run(client: TestClient, seeded: SeededBatch):
    page = client.get(f"{PREFIX}/runs").text
    assert page.count(f'class="batch-link mono" href="{PREFIX}/batches/{BATCH_ID}"') == len(seeded.runs)


@pytest.mark.parametrize("try_number", [None, 2])
def test_the_task_instance_view_of_a_batch_task_opens_its_batch_page(client: TestClient, try_number):
    query = {"dag_id": BATCH_AIRFLOW["dag_id"], "run_id": BATCH_AIRFLOW["run_id"],
             "task_id": BATCH_AIRFLOW["task_id"], "map_index": "{MAP_INDEX}", "try_number": try_number}
    response = client.get(f"{PREFIX}/ti", params={k: v for k, v in query.items() if v is not None},
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{PREFIX}/batches/{BATCH_ID}"


def test_a_viewer_limited_to_another_dag_sees_none_of_its_batches(seeded: SeededBatch):
    root = FastAPI()
    root.mount(PREFIX, create_app(seeded.url, viewer=lambda: only_dag("llm_research")))
    with TestClient(root) as limited:
        assert limited.get(f"{PREFIX}/api/batches").json() == {"batches": [], "count": 0}
        assert limited.get(f"{PREFIX}/batches/{BATCH_ID}").status_code == 403
        assert limited.get(f"{PREFIX}/api/batches/{BATCH_ID}").status_code == 403
        assert limited.get(f"{PREFIX}/api/batches/{BATCH_ID}/runs").status_code == 403
        assert limited.get(f"{PREFIX}/api/batches/{CLI_BATCH_ID}").status_code == 403  # outside Airflow


def test_a_viewer_of_the_batchs_dag_sees_it(seeded: SeededBatch):
    root = FastAPI()
    root.mount(PREFIX, create_app(seeded.url, viewer=lambda: only_dag("nightly_batch")))
    with TestClient(root) as limited:
        assert [b["batch_id"] for b in limited.get(f"{PREFIX}/api/batches").json()["batches"]] == [BATCH_ID]
        assert limited.get(f"{PREFIX}/batches/{BATCH_ID}").status_code == 200


def test_an_empty_store_says_no_batches_are_recorded_yet(store_url: str):
    with TestClient(create_standalone_app(store_url)) as empty:
        assert "No batches recorded yet." in empty.get(f"{PREFIX}/batches").text


def test_a_batch_with_no_finished_run_says_so_instead_of_a_chart(store_url: str):
    from llmcompiler_provider.batch_results import BatchSummary
    from llmcompiler_provider.store import save_batch

    save_batch(BatchSummary(batch_id="just-started", total=100, in_flight=8), store_url)
    with TestClient(create_standalone_app(store_url)) as app:
        page = app.get(f"{PREFIX}/batches/just-started").text
    assert "No run of this batch has finished yet." in page and "No run of this batch failed." in page
    assert re.findall(r'class="part part-(\w+)" style="width:([\d.]+)%', page) == [("running", "8.000")]


def test_a_long_batch_counts_runs_in_buckets_of_several_minutes():
    on_the_minute = T0 + 20  # 15:07:00 UTC
    outcomes = [{"finished": on_the_minute + i * 60.0, "status": "success" if i % 3 else "failed"}
                for i in range(600)]

    width, bars = buckets(outcomes)

    assert width == 300.0 and len(bars) == 120  # ten hours in 5-minute buckets
    assert sum(bar.finished for bar in bars) == 600
    assert sum(bar.failed for bar in bars) == 200
