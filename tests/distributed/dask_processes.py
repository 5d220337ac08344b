"""Real Dask deployments for the tests: a ``dask scheduler`` process and ``dask worker`` processes.

Everything listens on 127.0.0.1 on free ports; each process runs in its own session
so stopping it also stops the worker process its nanny started. Waits are bounded,
and a process that does not come up is reported with the end of its log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from distributed import Client

DASK_CLI = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    resources: dict[str, float] = field(default_factory=dict)
    nthreads: int = 1
    env: dict[str, str] = field(default_factory=dict)
    preload: tuple[str, ...] = ()
    pythonpath: tuple[Path, ...] = ()  # put ahead of the cluster's own path (e.g. a package-metadata shim)


@dataclass
class Started:
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class ProcessCluster:
    """A scheduler and named workers, each a process of its own."""

    scheduler_address: str
    log_dir: Path
    pythonpath: str
    scheduler: Started | None = None
    workers: dict[str, Started] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)  # worker name -> worker address

    def client(self, **kwargs) -> Client:
        return Client(self.scheduler_address, timeout="20s", **kwargs)

    def start_workers(self, specs: list[WorkerSpec]) -> list[str]:
        """Start workers side by side and wait until the scheduler knows them all; their addresses."""
        addresses = [self._launch(spec) for spec in specs]
        with self.client() as client:
            for spec, address in zip(specs, addresses, strict=True):
                _wait_for(
                    lambda joined=address: joined in client.scheduler_info(n_workers=-1)["workers"],
                    f"worker {spec.name} to join",
                    self.workers[spec.name],
                )
        return addresses

    def start_worker(self, spec: WorkerSpec) -> str:
        return self.start_workers([spec])[0]

    def start_cuda_workers(
        self, name: str, gpus: int, resources: dict[str, float], nthreads: int = 2
    ) -> list[str]:
        """``dask cuda worker``: one worker process per visible GPU; waits for them all; their addresses."""
        with self.client() as client:
            before = set(client.scheduler_info(n_workers=-1)["workers"])
            args = [
                DASK_CLI,
                "cuda",
                "worker",
                self.scheduler_address,
                "--host",
                "127.0.0.1",
                "--name",
                name,
                "--nthreads",
                str(nthreads),
                "--no-dashboard",
                "--death-timeout",
                "60",
                *_resource_args(resources),
            ]
            self.workers[name] = _start(args, self.log_dir / f"worker-{name}.log", self._env({}))
            _wait_for(
                lambda: len(set(client.scheduler_info(n_workers=-1)["workers"]) - before) >= gpus,
                f"{gpus} dask-cuda workers to join",
                self.workers[name],
            )
            return sorted(set(client.scheduler_info(n_workers=-1)["workers"]) - before)

    def _launch(self, spec: WorkerSpec) -> str:
        port = free_port()
        args = [
            DASK_CLI,
            "worker",
            self.scheduler_address,
            "--host",
            "127.0.0.1",
            "--worker-port",
            str(port),
            "--nworkers",
            "1",
            "--nthreads",
            str(spec.nthreads),
            "--name",
            spec.name,
            "--no-dashboard",
            "--death-timeout",
            "60",
            *_resource_args(spec.resources),
        ]
        for module in spec.preload:
            args += ["--preload", module]
        env = self._env(spec.env)
        env["PYTHONPATH"] = os.pathsep.join([*map(str, spec.pythonpath), env["PYTHONPATH"]])
        self.workers[spec.name] = _start(args, self.log_dir / f"worker-{spec.name}.log", env)
        self.addresses[spec.name] = address = f"tcp://127.0.0.1:{port}"
        return address

    def stop_worker(self, name: str, *, wait: bool = False) -> None:
        """Stop a worker; with ``wait``, until the scheduler has let it go."""
        started = self.workers.pop(name, None)
        address = self.addresses.pop(name, None)
        if started is None:
            return
        _stop(started.process)
        if wait and self.scheduler is not None:
            with self.client() as client:
                _wait_for(
                    lambda: address not in client.scheduler_info(n_workers=-1)["workers"],
                    f"the scheduler to forget worker {name}",
                    self.scheduler,
                )

    def stop(self) -> None:
        for name in list(self.workers):
            self.stop_worker(name)
        if self.scheduler is not None:
            _stop(self.scheduler.process)
            self.scheduler = None

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": self.pythonpath, **extra}


@contextmanager
def process_cluster(
    workers: list[WorkerSpec], log_dir: Path, pythonpath: list[Path] = (), scheduler_preload: tuple[str, ...] = ()
) -> Iterator[ProcessCluster]:
    """A running scheduler (with ``--preload`` of each of ``scheduler_preload``) with ``workers`` joined;
    everything stopped on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([*map(str, pythonpath), str(HERE), os.environ.get("PYTHONPATH", "")]).strip(
        os.pathsep
    )
    port = free_port()
    cluster = ProcessCluster(f"tcp://127.0.0.1:{port}", log_dir, path)
    try:
        cluster.scheduler = _start(
            [DASK_CLI, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
            + [arg for module in scheduler_preload for arg in ("--preload", module)],
            log_dir / "scheduler.log",
            cluster._env({}),
        )
        _wait_for(lambda: _accepts(port), "the scheduler to listen", cluster.scheduler)
        cluster.start_workers(workers)
        yield cluster
    finally:
        cluster.stop()


def _resource_args(resources: dict[str, float]) -> list[str]:
    return ["--resources", " ".join(f"{k}={v:g}" for k, v in resources.items())] if resources else []


def unrunnable_keys(dask_scheduler) -> list[str]:
    """``client.run_on_scheduler(unrunnable_keys)``: tasks stuck in no-worker (no worker can run them)."""
    return [ts.key for ts in dask_scheduler.unrunnable]


def _start(args: list[str], log: Path, env: dict[str, str]) -> Started:
    handle = open(log, "wb")
    process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    handle.close()
    return Started(process, log)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(condition, what: str, started: Started, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            raise RuntimeError(f"gave up waiting for {what}: the process exited\n{started.log_tail()}")
        with suppress(OSError, TimeoutError):
            if condition():
                return
        time.sleep(0.2)
    raise RuntimeError(f"gave up waiting for {what} after {timeout:g} s\n{started.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's session (nanny and worker), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
