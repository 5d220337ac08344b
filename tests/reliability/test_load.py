"""200 prompts through one batch on the embedded cluster (``benchmarks/load_bench.py``, which prints the
figures): all complete, every run is recorded, GPU slots are never shared, memory stays bounded.

The prompts are ``plan=`` runs with cheap tools: the real local model is far too slow to
plan 200 prompts on two cores (benchmarks/planner_bench.py measures planning)."""

from __future__ import annotations

import pytest

from benchmarks.load_bench import run_batch

RUNS = 200
CONCURRENCY = 16
PEAK_MEMORY_MB = 2048  # growth of this process and the cluster over the load, from its start
GROWTH_MB = 256  # from a quarter of the way through the batch to its end


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('load') / 'load.db'}"
    return run_batch(RUNS, CONCURRENCY, store)


def test_every_run_of_the_batch_completes_and_is_recorded(report):
    assert report.failures == {}
    assert report.succeeded == report.recorded == RUNS
    assert report.unsaved == 0


def test_gpu_slots_are_never_oversubscribed(report):
    assert report.gpu_calls == RUNS
    assert report.gpu_overlaps == []


def test_memory_stays_bounded(report):
    # measured against the process as the load began: earlier tests in the same session (the local
    # model, Airflow) make the absolute figure meaningless
    assert report.peak_rss_mb - report.rss_after_warmup_mb < PEAK_MEMORY_MB
    assert report.rss_end_mb - report.rss_after_warmup_mb < GROWTH_MB
