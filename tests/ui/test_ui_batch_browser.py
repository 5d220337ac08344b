"""The batches pages in a real headless Chromium, served by uvicorn on 127.0.0.1 from a real SQLite store.

Screenshots go to test-artifacts/ui/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from browser_support import WatchedPage, chromium, serving, watch
from batch_samples import BATCH_ID, RATE_LIMIT_CAUSE, SeededBatch, seed_batches

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory) -> SeededBatch:
    return seed_batches(f"sqlite:///{tmp_path_factory.mktemp('store') / 'metrics.db'}")


@pytest.fixture(scope="module")
def server(seeded_sqlite: SeededBatch) -> Iterator[str]:
    with serving(seeded_sqlite.url) as base_url:
        yield base_url


@pytest.fixture
def tab(tmp_path) -> Iterator[WatchedPage]:
    with chromium(tmp_path / "chromium-profile") as browser:
        page = browser.new_page()
        watched = watch(page)
        yield watched
        assert watched.problems == []


def test_the_batch_page_shows_its_runs_and_failure_causes_and_opens_a_run(
    tab: WatchedPage, server: str, seeded_sqlite: SeededBatch
):
    tab.page.goto(f"{server}/runs")
    tab.page.click("header nav >> text=Batches")
    tab.page.wait_for_url(f"{server}/batches")
    tab.page.locator(f'tr.batch-row[data-batch-id="{BATCH_ID}"] a.batch-link').click()
    tab.page.wait_for_url(f"{server}/batches/{BATCH_ID}")

    assert tab.page.locator("h1").inner_text().split() == ["Batch", BATCH_ID, "failed"]
    assert tab.page.locator("tr.run-row").count() == len(seeded_sqlite.runs)
    causes = tab.page.locator("tr.cause-row")
    assert causes.count() == 3
    assert causes.first.locator("td.cause").inner_text() == RATE_LIMIT_CAUSE
    assert causes.first.locator("td.num").inner_text() == "2"
    bars = tab.page.locator("svg.throughput g.bar rect")
    assert bars.count() >= 4
    for index in range(bars.count()):
        box = bars.nth(index).bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    for part in ("success", "failed", "skipped"):
        box = tab.page.locator(f".progress .part-{part}").bounding_box()
        assert box is not None and box["width"] > 0
    tab.screenshot("batch")

    causes.first.locator("a", has_text="q-003").click()
    tab.page.wait_for_url(f"{server}/runs/{seeded_sqlite.runs['q-003'].run_id}")
    assert tab.page.locator("a.batch-link").inner_text() == BATCH_ID
