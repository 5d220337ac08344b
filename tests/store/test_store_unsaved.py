"""When the store is unreachable the run is kept on disk and the reason is clear; flushing saves it later."""

from __future__ import annotations

import json

import pytest

from llmcompiler_provider.store import StoreError, flush_unsaved, get_run, save_run_safely, unsaved_dir

UNREACHABLE_POSTGRES = "postgresql+psycopg2://postgres:secret@127.0.0.1:1/test"  # nothing listens on port 1


@pytest.fixture
def unwritable_sqlite_url(tmp_path) -> str:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return f"sqlite:///{blocker / 'metrics.db'}"


def test_a_saved_run_returns_true_and_no_reason(sqlite_url, make_result):
    result = make_result()
    assert save_run_safely(result, sqlite_url) == (True, None)
    assert get_run(result.run_id, sqlite_url) is not None
    assert not unsaved_dir().exists() or not list(unsaved_dir().iterdir())


def test_an_unreachable_server_is_tried_again_then_reported_and_the_run_kept(make_result):
    result = make_result()

    saved, reason = save_run_safely(result, UNREACHABLE_POSTGRES)

    assert saved is False
    assert reason.startswith("could not write to the metrics store at postgresql+psycopg2://postgres:***@127.0.0.1:1/test")
    assert "secret" not in reason and "\n" not in reason
    kept = unsaved_dir() / f"{result.run_id}.json"
    assert str(kept) in reason and "llmcompiler db flush" in reason
    assert json.loads(kept.read_text())["run_id"] == result.run_id


def test_strict_mode_raises_a_store_error_after_keeping_the_run(unwritable_sqlite_url, make_result):
    result = make_result()
    with pytest.raises(StoreError, match="^metrics were not saved: could not write to the metrics store at sqlite"):
        save_run_safely(result, unwritable_sqlite_url, strict=True)
    assert (unsaved_dir() / f"{result.run_id}.json").exists()


def test_a_malformed_url_is_reported_not_raised(make_result):
    saved, reason = save_run_safely(make_result(), "no-such-dialect://somewhere")
    assert saved is False and "no-such-dialect://somewhere" in reason


def test_flush_saves_the_kept_runs_and_removes_their_files(unwritable_sqlite_url, sqlite_url, make_result):
    results = [make_result(), make_result(status="failed", error="boom")]
    for result in results:
        assert save_run_safely(result, unwritable_sqlite_url)[0] is False
    (unsaved_dir() / "broken.json").write_text("{not json")

    report = flush_unsaved(sqlite_url)

    assert sorted(report.saved) == sorted(r.run_id for r in results)
    assert list(report.failed) == ["broken.json"]
    assert sorted(p.name for p in unsaved_dir().iterdir()) == ["broken.json"]
    assert get_run(results[1].run_id, sqlite_url).error == "boom"


def test_flush_stops_at_an_unreachable_store_and_keeps_every_file(unwritable_sqlite_url, make_result):
    for _ in range(2):
        save_run_safely(make_result(), unwritable_sqlite_url)

    report = flush_unsaved(UNREACHABLE_POSTGRES)

    assert report.saved == [] and len(report.failed) == 1
    assert len(list(unsaved_dir().glob("*.json"))) == 2


def test_flush_with_nothing_kept_does_nothing(sqlite_url):
    report = flush_unsaved(sqlite_url)
    assert (report.saved, report.failed) == ([], {})
