"""docker/ and docker/k8s/ agree with the package (no Docker engine or Kubernetes here: the files are read).

Same scheduler address everywhere, same store URL, the resource name GPU tools ask for,
connection types the provider declares, the Dask packages pinned alike in both images,
and the environment Airflow gets turned into the right options by the provider's own hooks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from airflow.sdk import Connection
from sqlalchemy.engine import make_url

from llmcompiler_provider import get_provider_info
from llmcompiler_provider.execution.cluster import CHECKED_PACKAGES, GPU_RESOURCE
from llmcompiler_provider.execution.worker_state import WARM_ENV, import_factory, parse_warm_spec
from llmcompiler_provider.hooks.dask import DEFAULT_SCHEDULER_PORT, DaskHook, scheduler_address
from llmcompiler_provider.hooks.llm import LLMCompilerLLMHook
from llmcompiler_provider.plan import compile_plan
from llmcompiler_provider.store.location import STORE_URL_ENV
from llmcompiler_provider.tools.demo import demo

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
WORKER_STATE_MODULE = "llmcompiler_provider.execution.worker_state"
LATENCY_MODULE = "llmcompiler_provider.execution.latency"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
DASK_WORKERS = ("dask-cuda-worker", "dask-cpu-worker")
CONNECTION_PREFIX = "AIRFLOW_CONN_"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_env(services) -> dict[str, str]:
    return services["airflow-scheduler"]["environment"]


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict]:
    documents = []
    for path in sorted((DOCKER / "k8s").glob("*.yaml")):
        documents += list(yaml.safe_load_all(path.read_text()))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in documents}


def connections(env: dict[str, str]) -> dict[str, Connection]:
    """The ``AIRFLOW_CONN_<ID>`` variables, parsed as Airflow parses them (JSON form), by connection id."""
    return {
        name.removeprefix(CONNECTION_PREFIX).lower(): Connection.from_json(value, conn_id=name.lower())
        for name, value in env.items()
        if name.startswith(CONNECTION_PREFIX)
    }


def option(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def preloads(args: list[str]) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--preload"]


def resources_of(args: list[str]) -> dict[str, float]:
    text = option(args, "--resources") or ""
    return {name: float(amount) for name, amount in (item.split("=") for item in text.split())}


def declared_connection_types() -> set[str]:
    return {c["connection-type"] for c in get_provider_info()["connection-types"]}


# compose: services and commands ----------------------------------------------------------------


def test_compose_has_airflow_postgres_a_dask_scheduler_gpu_and_cpu_workers(services):
    assert set(services) == {"postgres", "airflow-init", "dask-scheduler", *AIRFLOW_SERVICES, *DASK_WORKERS}
    for service, command in AIRFLOW_SERVICES.items():
        assert services[service]["command"] == command
        assert services[service]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert "airflow db migrate" in services["airflow-init"]["command"][-1]
    for service in ("dask-scheduler", *DASK_WORKERS):
        assert services[service]["build"] == {"context": "..", "dockerfile": "docker/worker.Dockerfile"}
    for dockerfile in ("Dockerfile", "worker.Dockerfile"):
        assert (DOCKER / dockerfile).is_file() and (DOCKER / f"{dockerfile}.dockerignore").is_file()


def test_every_airflow_service_gets_the_same_environment_and_the_example_dags(services, airflow_env):
    for service in (*AIRFLOW_SERVICES, "airflow-init"):
        assert services[service]["environment"] == airflow_env
        assert services[service]["volumes"] == services["airflow-scheduler"]["volumes"]
    for volume in services["airflow-scheduler"]["volumes"]:
        source, target, _mode = volume.split(":")
        assert (DOCKER / source).resolve().is_dir()
        assert target.startswith(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"] + "/")
    assert (DOCKER / "../dags").resolve() == ROOT / "dags"


# compose: the scheduler address ----------------------------------------------------------------


def test_airflow_the_workers_and_the_scheduler_agree_on_the_scheduler_address(services, airflow_env):
    dask = connections(airflow_env)[DaskHook.default_conn_name]
    address = scheduler_address(dask, tls=False)
    scheduler = services["dask-scheduler"]["command"]
    assert address == f"tcp://dask-scheduler:{option(scheduler, '--port')}"
    assert int(option(scheduler, "--port")) == DEFAULT_SCHEDULER_PORT
    for worker in DASK_WORKERS:
        command = services[worker]["command"]
        assert command[: command.index(address)] in (["dask", "cuda", "worker"], ["dask", "worker"])


def test_connections_use_the_types_and_ids_the_provider_declares(airflow_env):
    found = connections(airflow_env)
    assert set(found) == {DaskHook.default_conn_name, LLMCompilerLLMHook.default_conn_name}
    assert {c.conn_type for c in found.values()} <= declared_connection_types()


def test_the_deployment_dag_loads_and_uses_the_compose_dask_connection(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DOCKER / "dags")
    assert bag.import_errors == {}
    tasks = [t for dag in bag.dags.values() for t in dag.tasks]
    assert tasks and {t.dask_conn_id for t in tasks} == {DaskHook.default_conn_name}
    assert DaskHook.default_conn_name in connections(airflow_env)
    gpu_plan = next(t.plan for t in tasks if t.plan)
    graph = compile_plan(gpu_plan, demo.signatures())
    assert any(
        t.resources == {GPU_RESOURCE: 1} for t in graph.tasks.values()
    )  # it has work for the GPU workers


# compose: GPU workers ------------------------------------------------------------------------


def test_gpu_workers_are_dask_cuda_workers_with_nvidia_devices_declaring_the_gpu_resource(services):
    gpu = services["dask-cuda-worker"]
    assert gpu["command"][:3] == ["dask", "cuda", "worker"]
    assert resources_of(gpu["command"]) == {GPU_RESOURCE: 1}
    assert option(gpu["command"], "--rmm-pool-size") and option(gpu["command"], "--device-memory-limit")
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert resources_of(services["dask-cpu-worker"]["command"]) == {}
    assert demo["llm"].signature.resources == {GPU_RESOURCE: 1}  # what the demo's GPU tool asks for


def test_gpu_workers_warm_the_local_model_through_the_preload_module(services):
    gpu = services["dask-cuda-worker"]
    assert option(gpu["command"], "--preload") == WORKER_STATE_MODULE
    factories = parse_warm_spec(gpu["environment"][WARM_ENV])
    assert factories == {"local-llm": "llmcompiler_provider.llm:get_local_model"}
    assert all(callable(import_factory(spec)) for spec in factories.values())


# compose: the store --------------------------------------------------------------------------


def test_one_store_url_everywhere_on_a_database_postgres_creates(services):
    urls = {
        name: s["environment"][STORE_URL_ENV]
        for name, s in services.items()
        if STORE_URL_ENV in s.get("environment", {})
    }
    assert set(urls) == {*AIRFLOW_SERVICES, "airflow-init", *DASK_WORKERS}
    assert len(set(urls.values())) == 1
    store = make_url(next(iter(urls.values())))
    postgres = services["postgres"]
    assert store.drivername == "postgresql+psycopg2" and store.host == "postgres"
    assert (store.username, store.password) == (
        postgres["environment"]["POSTGRES_USER"],
        postgres["environment"]["POSTGRES_PASSWORD"],
    )
    init = [v.split(":")[0] for v in postgres["volumes"] if ":/docker-entrypoint-initdb.d/" in v]
    assert len(init) == 1
    assert re.search(rf"CREATE DATABASE {store.database}\b", (DOCKER / init[0]).read_text())
    metadata = make_url(services["airflow-scheduler"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (
        metadata.host == "postgres"
        and metadata.database == postgres["environment"]["POSTGRES_DB"] != store.database
    )


def test_the_provider_hooks_read_the_compose_environment_as_intended(airflow_env, services):
    """A fresh interpreter with Airflow's compose environment: the provider's hooks resolve it."""
    keep = {k: v for k, v in airflow_env.items() if k.startswith(CONNECTION_PREFIX) or k == STORE_URL_ENV}
    script = (
        "import json\n"
        "from llmcompiler_provider.hooks.dask import DaskHook\n"
        "from llmcompiler_provider.hooks.llm import LLMCompilerLLMHook\n"
        "from llmcompiler_provider.hooks.store import MetricsStoreHook\n"
        "options = DaskHook().get_cluster_options()\n"
        "print(json.dumps({'address': options.address, 'llm': LLMCompilerLLMHook('llmcompiler_llm_default')"
        ".get_settings().kind, 'store': MetricsStoreHook().get_url()}))\n"
    )
    env = {**os.environ, **keep, "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", str(ROOT / "test-artifacts"))}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resolved = json.loads(done.stdout.strip().splitlines()[-1])
    assert resolved == {
        "address": "tcp://dask-scheduler:8786",
        "llm": "local",
        "store": services["dask-cpu-worker"]["environment"][STORE_URL_ENV],
    }


# both images ---------------------------------------------------------------------------------


def test_both_images_pin_the_dask_packages_the_version_check_compares(services):
    pins = dict(
        line.split("==")
        for line in (DOCKER / "requirements-dask.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(pins) == set(CHECKED_PACKAGES)
    locked = dict(
        line.split("==")
        for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    )
    assert {name: locked[name] for name in pins} == pins  # the images run what the tests passed with
    for dockerfile in ("Dockerfile", "worker.Dockerfile"):
        text = (DOCKER / dockerfile).read_text()
        assert "-r /tmp/requirements-dask.txt" in text
        assert re.search(r"^ARG PYTHON_VERSION=(\S+)$", text, re.M).group(1) == "{}.{}".format(
            *sys.version_info[:2]
        )


# Kubernetes ----------------------------------------------------------------------------------


def test_the_k8s_gpu_worker_group_declares_the_gpu_resource_and_joins_the_cluster(k8s):
    cluster = k8s["DaskCluster/llmcompiler"]
    gpu_group = next(d for key, d in k8s.items() if key.startswith("DaskWorkerGroup/"))
    assert gpu_group["spec"]["cluster"] == cluster["metadata"]["name"]
    (gpu,) = gpu_group["spec"]["worker"]["spec"]["containers"]
    assert gpu["args"][:3] == ["dask", "cuda", "worker"]
    assert resources_of(gpu["args"]) == {GPU_RESOURCE: 1}
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert option(gpu["args"], "--preload") == WORKER_STATE_MODULE
    assert parse_warm_spec(next(e["value"] for e in gpu["env"] if e["name"] == WARM_ENV))
    (cpu,) = cluster["spec"]["worker"]["spec"]["containers"]
    assert resources_of(cpu["args"]) == {}
    (scheduler,) = cluster["spec"]["scheduler"]["spec"]["containers"]
    assert gpu["image"] == cpu["image"] == scheduler["image"]  # one image: the packages agree


def test_the_k8s_airflow_connection_points_at_the_operator_scheduler_service(k8s):
    cluster = k8s["DaskCluster/llmcompiler"]
    secret = k8s["Secret/airflow-llmcompiler-env"]["stringData"]
    (dask,) = connections(secret).values()
    assert dask.conn_type in declared_connection_types()
    service_port = next(
        p["port"] for p in cluster["spec"]["scheduler"]["service"]["ports"] if p["name"] == "tcp-comm"
    )
    host = f"{cluster['metadata']['name']}-scheduler"  # the Service the Dask operator creates
    assert re.fullmatch(
        rf"tcp://{host}\.[a-z0-9-]+\.svc\.cluster\.local:{service_port}", scheduler_address(dask, tls=False)
    )
    assert make_url(secret[STORE_URL_ENV]).drivername == "postgresql+psycopg2"


def test_every_dask_process_of_compose_and_k8s_preloads_the_latency_module(services, k8s):
    import importlib

    assert hasattr(importlib.import_module(LATENCY_MODULE), "dask_setup")
    compose_commands = [services[name]["command"] for name in ("dask-scheduler", *DASK_WORKERS)]
    cluster = k8s["DaskCluster/llmcompiler"]
    gpu_group = next(d for key, d in k8s.items() if key.startswith("DaskWorkerGroup/"))
    k8s_args = [
        container["args"]
        for spec in (cluster["spec"]["scheduler"], cluster["spec"]["worker"], gpu_group["spec"]["worker"])
        for container in spec["spec"]["containers"]
    ]
    for args in compose_commands + k8s_args:
        assert LATENCY_MODULE in preloads(args), args
