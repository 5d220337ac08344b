"""Secrets (an LLM API key, a store password) never reach the logs, the run result (what XCom
carries), the metrics store, the trace sent to an OTLP collector (content opt-in on; a run alone
and a batch's span with its runs), the command line's output or the UI's pages and JSON.

The endpoint is a scripted OpenAI-compatible server that checks nothing but records what it
got, so each test first proves the key was really sent; one scenario echoes the key back in
its error message, as real endpoints do for a wrong key.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from faulty_model import Fault, FaultyModelServer
from fastapi.testclient import TestClient
from otlp_receiver import OTLPReceiver, otlp_env, run_tree

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.batch.runner import run_batch
from llmcompiler_provider.batch_results import BatchPrompt
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.operators.summaries import metrics_summary
from llmcompiler_provider.ui.app import URL_PREFIX, create_standalone_app

API_KEY = "sk-llmcompiler-sec-Yq2v9Lw7-do-not-leak"
STORE_PASSWORD = "pg-pass-Hx81-do-not-leak"
PLAN = '1. search("Nile length")\n2. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(6650 km)"
ECHOES_THE_KEY = Fault(status=401, message=f"Incorrect API key provided: {API_KEY}. Check it and try again.")


@pytest.fixture(scope="module")
def server() -> Iterator[FaultyModelServer]:
    with FaultyModelServer({"ok": [PLAN, ANSWER], "echoes-key": [ECHOES_THE_KEY], "cli": [PLAN, ANSWER]}) as scripted:
        yield scripted


@pytest.fixture(scope="module")
def tcp_scheduler() -> Iterator[str]:
    """An in-process cluster that a command-line subprocess can reach over TCP."""
    with LocalCluster(n_workers=1, threads_per_worker=4, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=":0", resources={"GPU": 1}) as cluster, Client(cluster):
        yield cluster.scheduler_address


def sent_key(server: FaultyModelServer, name: str) -> bool:
    return all(h.get("authorization") == f"Bearer {API_KEY}" for h in server.headers[name])


def store_bytes(sqlite_url: str) -> bytes:
    """Every byte of the SQLite store, its write-ahead log included (freed pages too)."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def ui_responses(sqlite_url: str, run_id: str) -> str:
    with TestClient(create_standalone_app(sqlite_url)) as client:
        paths = ["/runs", f"/runs/{run_id}", "/trends", "/api/runs", f"/api/runs/{run_id}",
                 f"/api/runs/{run_id}/gantt", "/api/trends"]
        responses = [client.get(URL_PREFIX + path) for path in paths]
    assert [r.status_code for r in responses] == [200] * len(paths)
    return "\n".join(r.text for r in responses)


def run_with(server, name, threaded_cluster, sqlite_url):
    client, info = threaded_cluster
    llm = OpenAIChatModel(server.url(name), API_KEY, "scripted", max_retries=1, backoff_s=0.05)
    config = RunConfig(toolset="demo", store_url=sqlite_url, max_replans=0)
    return LLMCompilerRun("How long is the Nile?", llm=llm, config=config, client=client, cluster_info=info).execute()


@pytest.mark.parametrize("name", ["ok", "echoes-key"])
def test_the_api_key_is_sent_but_never_logged_returned_stored_or_shown(
    name, server, threaded_cluster, sqlite_url, caplog, capfd, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    with OTLPReceiver() as collector:
        otlp_env(monkeypatch, collector, LLMCOMPILER_TRACE_CONTENT="true")  # the most a trace can hold
        result = run_with(server, name, threaded_cluster, sqlite_url)
    assert sent_key(server, name)
    _, chats, _ = run_tree(collector.spans)
    assert chats and any(c.status_message for c in chats) is (name == "echoes-key")  # the trace was sent
    assert result.status == ("success" if name == "ok" else "failed"), result.error
    if name == "echoes-key":
        assert "the server said: Incorrect API key provided: ***." in result.error  # its words, not the key

    output = capfd.readouterr()
    places = {
        "logs": caplog.text + output.out + output.err,
        "run result": json.dumps(result.to_dict(), default=str),
        "XCom summary": json.dumps(metrics_summary(result), default=str),
        "store": store_bytes(sqlite_url).decode("latin-1"),
        "UI": ui_responses(sqlite_url, result.run_id),
        "trace": b"".join(collector.bodies).decode("latin-1"),
    }
    for where, text in places.items():
        assert API_KEY not in text, f"the API key leaked into the {where}"


def test_the_api_key_never_reaches_a_batch_s_trace(server, threaded_cluster, sqlite_url, monkeypatch):
    """A batch whose endpoint echoes the key in every error: the batch's span, its runs' spans and
    their chat spans all reach the collector, without the key."""
    client, _ = threaded_cluster
    llm = OpenAIChatModel(server.url("echoes-key"), API_KEY, "scripted", max_retries=0)
    prompts = [BatchPrompt(prompt="How long is the Nile?"), BatchPrompt(prompt="How high is K2?")]
    with OTLPReceiver() as collector:
        otlp_env(monkeypatch, collector, LLMCOMPILER_TRACE_CONTENT="true")
        summary = run_batch(prompts, llm=llm, client=client, name="secret-batch",
                            config=RunConfig(toolset="demo", store_url=sqlite_url, max_replans=0))
    assert sent_key(server, "echoes-key")
    assert (summary.status, summary.failed) == ("failed", 2)
    [batch] = [s for s in collector.spans if s.name == "invoke_workflow llmcompiler.batch"]
    runs = [s for s in collector.spans if s.name == "invoke_workflow llmcompiler"]
    assert len(runs) == 2 and all(r.parent_span_id == batch.span_id for r in runs)
    chats = [s for s in collector.spans if s.name.startswith("chat ")]
    assert chats and all("Incorrect API key provided: ***" in c.status_message for c in chats)
    assert batch.status_code == 2 and batch.attributes["llmcompiler.batch.name"] == "secret-batch"
    assert API_KEY not in b"".join(collector.bodies).decode("latin-1")


def cli(*args: str, home: Path, key: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLMCOMPILER_HOME": str(home)}
    env.pop("LLMCOMPILER_STORE_URL", None)
    if key:
        env["SECURITY_TEST_KEY"] = key
    return subprocess.run([sys.executable, "-m", "llmcompiler_provider", *args], capture_output=True, text=True,
                          timeout=240, env=env)


def test_the_command_line_never_prints_the_api_key(server, tcp_scheduler, sqlite_url, tmp_path):
    ran = cli("run", "How long is the Nile?", "--llm", "openai", "--base-url", server.url("cli"), "--model", "scripted",
              "--api-key-env", "SECURITY_TEST_KEY", "--scheduler", tcp_scheduler, "--store", sqlite_url,
              "--max-replans", "0", "--json", home=tmp_path, key=API_KEY)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert sent_key(server, "cli")
    run_id = json.loads(ran.stdout)["run_id"]
    shown = cli("runs", "show", run_id, "--store", sqlite_url, home=tmp_path)
    listed = cli("runs", "list", "--store", sqlite_url, "--json", home=tmp_path)
    assert shown.returncode == listed.returncode == 0
    for step in (ran, shown, listed):
        assert API_KEY not in step.stdout + step.stderr
    assert API_KEY not in store_bytes(sqlite_url).decode("latin-1")


def test_a_store_password_is_never_printed_kept_or_recorded(tcp_scheduler, tmp_path):
    store = f"postgresql+psycopg2://llmcompiler:{STORE_PASSWORD}@127.0.0.1:1/metrics?connect_timeout=1"
    plan = tmp_path / "nile.plan"
    plan.write_text('1. search("Nile length")\n2. join()\n')
    ran = cli("run", "--plan", str(plan), "--scheduler", tcp_scheduler, "--store", store, "--json", home=tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    result = json.loads(ran.stdout)
    assert result["metrics_saved"] is False
    assert "could not write to the metrics store at postgresql+psycopg2://llmcompiler:***@127.0.0.1:1/metrics" in (
        result["metrics_error"])
    kept = list((tmp_path / "unsaved").glob("*.json"))
    assert len(kept) == 1  # the run waits on disk for the store to come back
    for where, text in {"output": ran.stdout + ran.stderr, "kept run": kept[0].read_text()}.items():
        assert STORE_PASSWORD not in text, f"the store password leaked into the {where}"

    with TestClient(create_standalone_app(store)) as client:
        page, api = client.get(f"{URL_PREFIX}/runs"), client.get(f"{URL_PREFIX}/api/runs")
    assert page.status_code == api.status_code == 503
    assert STORE_PASSWORD not in page.text + api.text
