"""The pages in a real headless Chromium, served by uvicorn on 127.0.0.1 from a real SQLite store.

Screenshots go to test-artifacts/ui/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from browser_support import WatchedPage, chromium, serving, watch
from ui_samples import HOSTILE_PROMPT, SeededStore, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory) -> SeededStore:
    return seed(f"sqlite:///{tmp_path_factory.mktemp('store') / 'metrics.db'}")


@pytest.fixture(scope="module")
def server(seeded_sqlite: SeededStore) -> Iterator[str]:
    with serving(seeded_sqlite.url) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[BrowserContext]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def tab(browser: BrowserContext) -> Iterator[WatchedPage]:
    page = browser.new_page()
    watched = watch(page)
    yield watched
    page.close()
    assert watched.problems == []


def test_runs_page_shows_a_row_per_run_and_opens_a_run(tab: WatchedPage, server: str,
                                                        seeded_sqlite: SeededStore):
    tab.page.goto(f"{server}/runs")
    rows = tab.page.locator("tr.run-row")
    assert rows.count() == len(seeded_sqlite.results)
    assert rows.first.locator("td").nth(2).inner_text().startswith("llm_research")
    assert rows.first.locator("td.prompt").inner_text().startswith("Compare <b>heights</b>")
    tab.screenshot("runs")
    rows.first.locator("a.run-link").click()
    tab.page.wait_for_url(f"{server}/runs/{seeded_sqlite.main_run_id}")
    assert tab.page.locator("h1").inner_text().startswith("Run")


def test_the_filter_form_narrows_the_runs_to_failed_ones(tab: WatchedPage, server: str,
                                                          seeded_sqlite: SeededStore):
    tab.page.goto(f"{server}/runs")
    tab.page.select_option("select[name=status]", "failed")
    tab.page.click("form.filters button")
    tab.page.wait_for_url("**/runs?*status=failed*")
    expected = sum(1 for r in seeded_sqlite.results if r.status == "failed")
    assert tab.page.locator("tr.run-row").count() == expected
    assert set(tab.page.locator("tr.run-row .badge").all_inner_texts()) == {"failed"}
    tab.screenshot("runs-failed")


def test_run_page_draws_the_gantt_bars_and_task_graphs_and_shows_the_prompt_as_typed(
    tab: WatchedPage, server: str, seeded_sqlite: SeededStore
):
    tab.page.goto(f"{server}/runs/{seeded_sqlite.main_run_id}")
    bars = tab.page.locator("svg.gantt rect.bar")
    assert bars.count() == 14
    for index in range(bars.count()):
        box = bars.nth(index).bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    assert tab.page.locator("svg.gantt rect.bar.gpu").count() == 4
    assert tab.page.locator("svg.task-graph").count() == 2
    assert tab.page.locator("svg.task-graph rect.node").count() == 9
    assert tab.page.locator("pre.prompt-text").inner_text() == HOSTILE_PROMPT
    assert tab.page.locator(".problems > li").count() == 2
    assert "taller than the Statue of Liberty" in tab.page.locator("pre.answer-text").inner_text()
    tab.screenshot("run")


def test_trends_page_plots_three_charts_with_a_point_per_run(tab: WatchedPage, server: str,
                                                              seeded_sqlite: SeededStore):
    tab.page.goto(f"{server}/trends")
    assert tab.page.locator("svg.trend").count() == 3
    assert tab.page.locator("svg.trend circle.point").count() == 3 * len(seeded_sqlite.results)
    assert tab.page.locator("table.summary tbody tr").count() == 3
    tab.screenshot("trends")


def test_a_missing_run_is_a_readable_not_found_page(tab: WatchedPage, server: str):
    response = tab.page.goto(f"{server}/runs/does-not-exist")
    assert response is not None and response.status == 404
    tab.problems.clear()  # Chromium logs the 404 of the document itself as a console error
    assert tab.page.locator("h1").inner_text() == "Not found"
    assert "No run with id 'does-not-exist'" in tab.page.locator("[role=alert]").inner_text()
    tab.screenshot("not-found")
