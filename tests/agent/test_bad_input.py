"""Bad input and misbehaving models: each ends with one clear error and a recorded failed run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scripted_llm import ScriptedModelServer

from llmcompiler_provider.agent.run import LLMCompilerRun, RunConfig
from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.store import get_run

NO_JOIN = '1. search("Nile length")\n2. search("Amazon length")\n'
GARBAGE = "Sure! Here is what I think about rivers: they are long. (;;) 1.. ??"
GOOD_PLAN = '1. search("Nile length")\n2. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(The Nile is 6650 km long.)"


@pytest.fixture(scope="module")
def model_server():
    replies = {
        "nojoin": [NO_JOIN],
        "garbage": [GARBAGE],
        "fixes-itself": [GARBAGE, GOOD_PLAN, ANSWER],
    }
    with ScriptedModelServer(replies) as server:
        yield server


def run_with(cluster_client, store, llm, prompt="How long is the Nile?"):
    client, info = cluster_client
    config = RunConfig(store_url=store, max_replans=0)
    return LLMCompilerRun(prompt, llm=llm, config=config, client=client, cluster_info=info).execute()


def test_a_model_that_never_writes_join_fails_with_the_compile_error(cluster_client, model_server, sqlite_url):
    llm = OpenAIChatModel(model_server.url("nojoin"), None, "scripted", max_retries=0)
    result = run_with(cluster_client, sqlite_url, llm)
    assert result.status == "failed"
    assert result.error == "<planner>:2:1: error: the plan does not end with join()"
    assert model_server.calls["nojoin"] == 2  # asked again once with the errors, then gave up
    stored = get_run(result.run_id, sqlite_url)
    assert stored.status == "failed" and stored.error == result.error


def test_a_model_that_writes_garbage_fails_clearly(cluster_client, model_server, sqlite_url):
    llm = OpenAIChatModel(model_server.url("garbage"), None, "scripted", max_retries=0)
    result = run_with(cluster_client, sqlite_url, llm)
    assert result.status == "failed" and result.error.startswith("<planner>:1:")
    assert [p.compile_errors != [] for p in result.plans] == [True, True]


def test_the_planner_is_shown_its_errors_and_can_correct_them(cluster_client, model_server, sqlite_url):
    llm = OpenAIChatModel(model_server.url("fixes-itself"), None, "scripted", max_retries=0)
    result = run_with(cluster_client, sqlite_url, llm)
    assert result.status == "success", result.error
    assert result.answer == "The Nile is 6650 km long."
    assert [c.role for c in result.llm_calls] == ["planner", "planner", "joiner"]


def test_a_one_megabyte_prompt_is_refused_and_recorded(cluster_client, model_server, sqlite_url):
    llm = OpenAIChatModel(model_server.url("garbage"), None, "scripted", max_retries=0)
    result = run_with(cluster_client, sqlite_url, llm, prompt="x" * 1_000_000)
    assert result.status == "failed" and result.error == "the prompt is 1,000,000 characters; the limit is 100,000"
    assert get_run(result.run_id, sqlite_url).status == "failed"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [("http://127.0.0.1:9/v1", "cannot reach http://127.0.0.1:9/v1"), ("{scripted}/unauthorized", "401")],
)
def test_cli_an_unreachable_or_refusing_endpoint_is_one_line_and_a_recorded_failure(tmp_path, base_url, expected):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class Refuse(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}')

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = base_url.replace("{scripted}", f"http://127.0.0.1:{httpd.server_address[1]}")
    store = f"sqlite:///{tmp_path / 'm.db'}"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "llmcompiler_provider", "run", "How long is the Nile?", "--llm", "openai",
             "--base-url", url, "--model", "m", "--api-key-env", "SCRIPTED_KEY", "--store", store, "--max-replans", "0"],
            capture_output=True, text=True, timeout=240, env={**__import__("os").environ, "SCRIPTED_KEY": "sk-secret-123"},
        )
    finally:
        httpd.shutdown()
    assert proc.returncode == 1
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("llmcompiler run:")]
    assert len(error_lines) == 1 and "Traceback" not in proc.stderr
    assert expected in error_lines[0]
    assert "sk-secret-123" not in proc.stdout + proc.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "llmcompiler_provider", "runs", "list", "--store", store, "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert '"failed"' in listed.stdout
