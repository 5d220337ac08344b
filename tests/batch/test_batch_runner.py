"""A batch runs every prompt on one client and one LLM, records each run under its batch, writes a row
per prompt, and resumes: a rerun with the same batch id plans only the prompts that did not succeed."""

from __future__ import annotations

import json

import pytest

from llmcompiler_provider.agent.run import RunConfig
from llmcompiler_provider.batch import BatchOptions, BatchRunner
from llmcompiler_provider.batch_results import BatchPrompt
from llmcompiler_provider.store import batch_prompt_states, get_batch, get_run

BROKEN_PLAN = '1. serch("x")\n2. join()\n<END_OF_PLAN>'  # an unknown tool: the run fails after two attempts


def prompts(n: int) -> list[BatchPrompt]:
    return [BatchPrompt(id=f"q{i}", prompt=f"question {i}") for i in range(n)]


def run(prompts_, server, client, store, **options):
    output = options.pop("output", None)
    batch_id = options.pop("batch_id", None)
    runner = BatchRunner(prompts_, llm=server.settings(), config=RunConfig(store_url=store), client=client,
                         options=BatchOptions(**{"share_tool_calls": False, **options}), output=output,
                         batch_id=batch_id)
    return runner.execute()


def rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_prompt_runs_and_gets_a_row_and_a_stored_run(planning_server, dask_client, sqlite_url, tmp_path):
    out = tmp_path / "rows.jsonl"
    summary = run(prompts(6), planning_server, dask_client, sqlite_url, max_active_runs=3, output=out)

    assert (summary.status, summary.total, summary.succeeded, summary.failed) == ("success", 6, 6, 0)
    written = rows(out)
    assert sorted(r["id"] for r in written) == [f"q{i}" for i in range(6)]
    for row in written:
        assert row["status"] == "success"
        assert row["answer"] == f"answer to question {row['id'][1:]}"
        stored = get_run(row["run_id"], sqlite_url)
        assert (stored.batch_id, stored.prompt_id) == (summary.batch_id, row["id"])
    assert summary.tokens.total > 0 and summary.llm_requests == 12 and summary.tool_calls == 6
    assert get_batch(summary.batch_id, sqlite_url).succeeded == 6


def test_a_failed_prompt_is_recorded_with_its_cause_and_fails_the_batch(planning_server, dask_client, sqlite_url,
                                                                         tmp_path):
    planning_server.plans["question 2"] = BROKEN_PLAN
    out = tmp_path / "rows.jsonl"
    summary = run(prompts(4), planning_server, dask_client, sqlite_url, output=out)

    assert (summary.status, summary.succeeded, summary.failed, summary.failed_ids) == ("failed", 3, 1, ["q2"])
    assert "1 of 4 prompts failed" in summary.error and "q2" in summary.error
    failed = [r for r in rows(out) if r["status"] != "success"]
    assert [r["id"] for r in failed] == ["q2"] and "serch" in failed[0]["error"]
    assert get_run(failed[0]["run_id"], sqlite_url).status == "failed"


def test_max_failed_fraction_lets_a_batch_with_few_failures_succeed(planning_server, dask_client, sqlite_url):
    planning_server.plans["question 1"] = BROKEN_PLAN
    summary = run(prompts(4), planning_server, dask_client, sqlite_url, max_failed_fraction=0.25)
    assert (summary.status, summary.failed) == ("success", 1)


def test_a_rerun_with_the_same_batch_id_plans_only_what_did_not_succeed(planning_server, dask_client, sqlite_url,
                                                                         tmp_path):
    planning_server.plans["question 3"] = BROKEN_PLAN
    first = run(prompts(5), planning_server, dask_client, sqlite_url, batch_id="nightly-1")
    assert first.failed == 1
    del planning_server.plans["question 3"]  # whatever broke it is mended

    out = tmp_path / "rows.jsonl"
    second = run(prompts(5), planning_server, dask_client, sqlite_url, batch_id="nightly-1", output=out)

    assert (second.status, second.succeeded, second.resumed, second.failed) == ("success", 5, 4, 0)
    assert planning_server.planned["question 0"] == 1  # never planned twice
    assert planning_server.planned["question 3"] == 2 + 1  # two failed attempts, then the rerun
    by_id = {r["id"]: r for r in rows(out)}
    assert [i for i, r in sorted(by_id.items()) if r["resumed"]] == ["q0", "q1", "q2", "q4"]
    assert by_id["q0"]["answer"] == "answer to question 0"  # a resumed row still carries its answer
    assert {status for status, _ in batch_prompt_states("nightly-1", sqlite_url).values()} == {"success"}


def test_the_token_budget_stops_new_prompts_and_records_the_rest_as_skipped(planning_server, dask_client,
                                                                            sqlite_url, tmp_path):
    out = tmp_path / "rows.jsonl"
    summary = run(prompts(5), planning_server, dask_client, sqlite_url, max_active_runs=1, max_total_tokens=1,
                  output=out)

    assert (summary.succeeded, summary.skipped, summary.failed) == (1, 4, 0)
    skipped = [r for r in rows(out) if r["status"] == "skipped"]
    assert len(skipped) == 4 and all("token budget was reached" in r["error"] for r in skipped)
    assert summary.status == "success"  # a budget is the user's choice, not a failure


def test_each_run_records_its_cost_at_the_batchs_prices(planning_server, dask_client, sqlite_url, tmp_path):
    from llmcompiler_provider.llm.prices import Prices

    out = tmp_path / "rows.jsonl"
    summary = run(prompts(2), planning_server, dask_client, sqlite_url, prices=Prices(1.0, 2.0), output=out)

    for row in rows(out):
        stored = get_run(row["run_id"], sqlite_url)
        assert stored.tokens.total > 0
        assert stored.cost == pytest.approx((stored.tokens.prompt + 2 * stored.tokens.completion) / 1e6)
        assert row["cost"] == pytest.approx(stored.cost)
    assert summary.cost == pytest.approx(sum(row["cost"] for row in rows(out)))


def test_a_batch_without_a_store_runs_but_cannot_resume(planning_server, dask_client, tmp_path):
    out = tmp_path / "rows.jsonl"
    summary = run(prompts(2), planning_server, dask_client, "none", output=out)
    assert summary.succeeded == 2 and len(rows(out)) == 2


def test_request_limits_need_an_openai_compatible_endpoint(dask_client):
    from llmcompiler_provider.llm.settings import LLMSettings

    runner = BatchRunner(prompts(1), llm=LLMSettings(kind="local"), config=RunConfig(store_url="none"),
                         client=dask_client, options=BatchOptions(max_concurrent_requests=2))
    with pytest.raises(ValueError, match="apply to an OpenAI-compatible endpoint"):
        runner.execute()
    assert runner.summary.status == "failed" and "OpenAI-compatible" in runner.summary.error


def test_identical_tool_calls_of_different_prompts_run_once(planning_server, dask_client, sqlite_url):
    from tests.batch import batch_tools

    batch_tools.LOOKUPS.clear()
    for i in range(4):
        planning_server.plans[f"question {i}"] = (f'1. lookup("shared")\n2. lookup("own {i}")\n3. join()\n'
                                                  "<END_OF_PLAN>")
    runner = BatchRunner(prompts(4), llm=planning_server.settings(), client=dask_client,
                         config=RunConfig(store_url=sqlite_url, toolset=batch_tools.tools),
                         options=BatchOptions(max_active_runs=4))
    summary = runner.execute()

    assert summary.succeeded == 4
    assert sorted(batch_tools.LOOKUPS) == ["own 0", "own 1", "own 2", "own 3", "shared"]
    assert (summary.tool_calls, summary.tool_calls_deduplicated) == (8, 3)


@pytest.mark.timeout(60)
def test_cancelling_a_batch_records_every_prompt_left_at_once(dask_client, sqlite_url):
    """Cancelled with 198 prompts still to start, the batch records each of them as cancelled without
    waiting for a slot per prompt (it once waited half a second for each: 99 s here)."""
    import threading

    from tests.batch import batch_tools

    batch = [BatchPrompt(id=f"q{i}", prompt=f"question {i}", plan='1. pause(5)\n2. join()\n') for i in range(200)]
    runner = BatchRunner(batch, llm=None, client=dask_client,
                         config=RunConfig(store_url=sqlite_url, toolset=batch_tools.tools),
                         options=BatchOptions(max_active_runs=2, share_tool_calls=False))
    threading.Timer(1.0, runner.cancel).start()
    summary = runner.execute()

    assert (summary.status, summary.succeeded, summary.failed) == ("cancelled", 0, 200)
    assert summary.error == "the batch was cancelled" and summary.in_flight == 0
    assert sorted(summary.failed_ids) == sorted(p.id for p in batch)
    assert get_batch(summary.batch_id, sqlite_url).failed == 200
