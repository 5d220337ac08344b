"""``llmcompiler run --llm openai --grammar``: the plan language's GBNF grammar goes to an endpoint
that takes grammars (llama.cpp's server), and only when asked (a real HTTP server, the real CLI)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scripted_llm import ScriptedModelServer

PLAN = '1. search("Nile length")\n2. join()\n<END_OF_PLAN>'
ANSWER = "Thought: found it\nAction: Finish(The Nile is 6650 km long.)"


class RecordingServer(ScriptedModelServer):
    """Also keeps each request's JSON body, by scenario name."""

    def __init__(self, replies):
        super().__init__(replies)
        self.bodies: dict[str, list[dict]] = {}

    def respond(self, handler, name, n, body):
        self.bodies.setdefault(name, []).append(json.loads(body))
        super().respond(handler, name, n, body)


@pytest.fixture(scope="module")
def server():
    with RecordingServer({"with": [PLAN, ANSWER], "without": [PLAN, ANSWER]}) as server:
        yield server


def run_cli(*args, store):
    return subprocess.run(
        [sys.executable, "-m", "llmcompiler_provider", "run", "How long is the Nile?", *args,
         "--store", store, "--max-replans", "0", "--json"],
        capture_output=True, text=True, timeout=240,
    )


@pytest.mark.parametrize("scenario, flags", [("with", ["--grammar"]), ("without", [])])
def test_the_plan_grammar_is_sent_only_with_grammar(server, tmp_path, scenario, flags):
    ran = run_cli("--llm", "openai", "--base-url", server.url(scenario), "--model", "m", *flags,
                  store=f"sqlite:///{tmp_path / 'm.db'}")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert json.loads(ran.stdout)["answer"] == "The Nile is 6650 km long."
    planner_request = server.bodies[scenario][0]
    if flags:
        assert "join()" in planner_request["grammar"] and "search" in planner_request["grammar"]
    else:
        assert "grammar" not in planner_request


def test_grammar_without_an_endpoint_is_a_usage_error(tmp_path):
    ran = run_cli("--grammar", store=f"sqlite:///{tmp_path / 'm.db'}")
    assert ran.returncode == 2
    assert "--grammar is for --llm openai" in ran.stderr
