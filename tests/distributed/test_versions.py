"""A worker whose packages differ from the client's is refused before any task runs.

The mismatched worker is a real separate process: its PYTHONPATH starts with a folder
holding package metadata (``msgpack-9.9.9.dist-info``, ``llmcompiler_provider-0.0.1.dist-info``),
so ``importlib.metadata``, and with it ``distributed.versions``, reports those versions
there, exactly as it would for a worker built from a different image.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from dask_processes import WorkerSpec, process_cluster
from llmcompiler_provider.execution.cluster import ClusterOptions, VersionMismatch, open_client
from llmcompiler_provider.store import get_run

SHIMMED = {"msgpack": "9.9.9", "llmcompiler_provider": "0.0.1"}


def write_package_metadata(folder: Path, name: str, reported: str) -> None:
    info = folder / f"{name}-{reported}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {reported}\n"
    )


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory):
    shim = tmp_path_factory.mktemp("package-shim")
    for name, reported in SHIMMED.items():
        write_package_metadata(shim, name, reported)
    spec = WorkerSpec("mismatched", pythonpath=(shim,))
    with process_cluster([spec], tmp_path_factory.mktemp("mismatched-deployment")) as cluster:
        yield cluster


def expected_phrases(cluster) -> list[str]:
    worker = cluster.addresses["mismatched"]
    return [
        f"msgpack 9.9.9 on worker {worker} (here {version('msgpack')})",
        f"llmcompiler-provider 0.0.1 on worker {worker} (here {version('llmcompiler-provider')})",
    ]


def test_connecting_to_a_mismatched_cluster_names_each_difference(mismatched):
    with pytest.raises(VersionMismatch) as raised:
        with open_client(ClusterOptions(address=mismatched.scheduler_address)):
            pytest.fail("the client was handed out despite the mismatch")

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("the Dask cluster's packages differ from this client's: ")
    for phrase in expected_phrases(mismatched):
        assert phrase in message


def test_a_run_on_a_mismatched_cluster_fails_before_any_task_runs(mismatched, run_plan, sqlite_url, tmp_path):
    proof = tmp_path / "ran.txt"
    result = run_plan(f'1. touch("{proof}")\n2. join()', address=mismatched.scheduler_address)

    assert result.status == "failed"
    assert result.error.startswith("VersionMismatch: the Dask cluster's packages differ")
    assert all(phrase in result.error for phrase in expected_phrases(mismatched))
    assert not proof.exists()
    assert result.all_tasks == []
    stored = get_run(result.run_id, sqlite_url)
    assert stored.status == "failed" and stored.error == result.error
