"""Limits shared across processes through Dask: two clients of one real LocalCluster scheduler
(as two batch tasks, or a task and its workers' ``llm`` tool calls, would be), each with its own
``DaskAdmission``, against the scripted server on a real loopback socket."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest

from llmcompiler_provider.llm import OpenAIChatModel
from llmcompiler_provider.llm.admission import AdmissionLimits, DaskAdmission, admission_for

distributed = pytest.importorskip("distributed")
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://", dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def two_clients(scheduler):
    with distributed.Client(scheduler, set_as_default=False) as first, \
            distributed.Client(scheduler, set_as_default=False) as second:
        yield first, second


def models(url: str, clients, limits: AdmissionLimits) -> list[OpenAIChatModel]:
    """One model per client, each with an admission control of its own (as in separate processes)."""
    endpoint = f"{url} (model scripted)"
    return [OpenAIChatModel(url, None, "scripted", timeout=5, backoff_s=0.05,
                            admission=DaskAdmission(endpoint, limits, client)) for client in clients]


def test_two_clients_share_max_concurrent_requests_through_a_dask_semaphore(scripted_server, two_clients):
    url = scripted_server.script("dask-busy", "busy", capacity=2, piece_s=0.1)
    both = models(url, two_clients, AdmissionLimits(max_concurrent_requests=2, adaptive=False))
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: both[i % 2].complete(HELLO)[0], range(12)))
    assert answers == ["Hello, world"] * 12
    assert scripted_server.peak["dask-busy"] == 2  # each alone would have let 2 in: 4 at once
    assert 429 not in scripted_server.statuses["dask-busy"]


def test_a_retry_after_one_client_met_pauses_the_other(scripted_server, two_clients):
    url = scripted_server.script("dask-pause", "pause", first=1, retry_after="1")
    first, second = models(url, two_clients, AdmissionLimits())
    waiting = threading.Thread(target=first.complete, args=(HELLO,))
    waiting.start()
    deadline = time.monotonic() + 10
    while not (two_clients[1].get_metadata([first.admission.name], None) or {}).get("pause_until"):
        assert time.monotonic() < deadline, "the first client's 429 never reached the shared state"
        time.sleep(0.01)
    text, _ = second.complete(HELLO)
    waiting.join()
    assert text == "Hello, world"
    refused, *later = scripted_server.arrivals["dask-pause"]
    assert len(later) == 2 and min(later) >= refused + 1.0  # neither came before Retry-After


def test_requests_per_minute_are_shared_through_the_scheduler(scripted_server, two_clients):
    url = scripted_server.script("dask-rpm", "pause", first=0, retry_after="0")
    both = models(url, two_clients, AdmissionLimits(requests_per_minute=120, adaptive=False))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: both[i % 2].complete(HELLO), range(8)))
    arrivals = scripted_server.arrivals["dask-rpm"]
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 2 + 2 + 1  # one bucket for both: a burst of 2, 2 a second, one of slack


def test_admission_for_with_a_client_is_the_dask_variant(scripted_server, two_clients):
    control = admission_for("http://127.0.0.1:9/v1 (model registry)", client=two_clients[0])
    assert isinstance(control, DaskAdmission)
    assert admission_for("http://127.0.0.1:9/v1 (model registry)", client=two_clients[0]) is control
    assert not isinstance(admission_for("http://127.0.0.1:9/v1 (model registry)"), DaskAdmission)


def test_share_limits_uses_the_dask_client_of_the_process(scheduler):
    with distributed.Client(scheduler) as client:  # the default client, as a worker's is on the worker
        shared = OpenAIChatModel("http://127.0.0.1:9/v1", None, "shared", share_limits=True)
        assert isinstance(shared.admission, DaskAdmission)
        assert shared.admission is admission_for(shared.where, client=client)


def test_share_limits_without_a_dask_client_says_what_it_needs():
    """In a process of its own: an earlier test of this session may have left a default client here."""
    code = ("from llmcompiler_provider.llm import OpenAIChatModel\n"
            "try:\n"
            "    OpenAIChatModel('http://127.0.0.1:9/v1', None, 'alone', share_limits=True)\n"
            "except ValueError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert re.search(r"share_limits=True for http://127\.0\.0\.1:9/v1 \(model alone\) needs a "
                     r"Dask client in this process", done.stdout), done.stdout + done.stderr
