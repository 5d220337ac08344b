"""Fixtures for the LLM backend tests: the real local model, a real llama.cpp OpenAI-compatible
server in a subprocess, and the scripted HTTP server of ``scripted_server.py`` (a real socket
server) for failures that a healthy server never produces on demand."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Iterator

import pytest
from scripted_server import ScriptedServer, free_port

from llmcompiler_provider.llm import get_local_model, local_model_path
from llmcompiler_provider.plan.signature import Param, ToolSignature

SERVER_MODEL_ALIAS = "smollm2"
SERVER_START_TIMEOUT_S = 90.0


@pytest.fixture(scope="session")
def local_model():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    return get_local_model()


@pytest.fixture
def refused_url() -> str:
    """An OpenAI-style base URL on a local port where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture(scope="session")
def planner_messages() -> list[dict]:
    """A few-shot planner prompt for ``small_catalogue``."""
    return [
        {
            "role": "system",
            "content": (
                "You write plans of tool calls. Tools:\n"
                "1. search(query): look a fact up.\n"
                "2. math(question, context=[]): compute, using earlier results ($N) as context.\n"
                "3. join(): ends the plan.\n"
                "Example:\n"
                "Question: How much taller is the Eiffel Tower than Big Ben?\n"
                'Thought: look both up, then subtract\n1. search("Eiffel Tower height")\n'
                '2. search("Big Ben height")\n3. math("difference of the heights", [$1, $2])\n'
                "4. join()\n<END_OF_PLAN>"
            ),
        },
        {"role": "user", "content": "Question: What is the population of France plus the population of Spain?"},
    ]


@pytest.fixture(scope="session")
def small_catalogue() -> dict[str, ToolSignature]:
    return {
        "search": ToolSignature("search", (Param("query", annotation="str"),), "Look a fact up on the web."),
        "math": ToolSignature(
            "math",
            (Param("question", annotation="str"), Param("context", required=False, annotation="list")),
            "Solve a math problem, optionally using earlier results as context.",
        ),
    }


@dataclass
class LlamaServer:
    base_url: str
    model: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[LlamaServer]:
    """llama-cpp-python's own OpenAI-compatible server, serving the packaged GGUF on 127.0.0.1."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", local_model_path(),
        "--model_alias", SERVER_MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
        "--n_threads", str(max(1, (os.cpu_count() or 1) - 1)),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(base_url, process, log_path)
        yield LlamaServer(base_url, SERVER_MODEL_ALIAS, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(base_url: str, process: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not answer within {SERVER_START_TIMEOUT_S}s: {log_path.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server
