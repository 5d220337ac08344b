"""Helpers for tests that run servers as processes of their own (importable from every test folder:
``tests/`` is on ``sys.path`` through ``tests/conftest.py``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(base_url: str, check_alive: Callable[[], None], timeout: float, log: Callable[[], str]) -> None:
    """Until an Airflow api-server at ``base_url`` answers its health check; ``check_alive`` raises
    when a process it depends on has exited."""
    deadline = time.monotonic() + timeout
    while True:
        check_alive()
        assert time.monotonic() < deadline, f"no answer from {base_url} in {timeout} s:\n{log()}"
        try:
            if httpx.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)


def stop_process_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the process's session (it was started with ``start_new_session``), then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
