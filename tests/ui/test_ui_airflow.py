"""The plugin in a real Airflow 3.3: ``airflow plugins`` lists it and ``airflow api-server`` serves its pages.

Airflow runs as subprocesses with an AIRFLOW_HOME of their own (SQLite), the
simple auth manager with one admin whose password the test writes, and the
metrics store seeded with the sample runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from browser_support import chromium, watch
from process_support import free_port, stop_process_group, wait_until_healthy
from ui_samples import MAIN_AIRFLOW, SeededStore, seed

pytestmark = pytest.mark.slow
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SERVER_START_TIMEOUT_S = 90
ADMIN_PASSWORD = "admin-password-for-tests"
TASK_INSTANCE_VIEW = "LLMCompiler run"


@dataclass(frozen=True)
class AirflowSetup:
    env: dict[str, str]
    home: Path
    store: SeededStore


def airflow(setup: AirflowSetup, *args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([AIRFLOW, *args], env={**setup.env, **env}, capture_output=True, text=True,
                          timeout=timeout)
    command = " ".join(args)
    assert done.returncode == 0, f"airflow {command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def listed_plugins(setup: AirflowSetup, **env: str) -> list[dict]:
    output = airflow(setup, "plugins", "--output", "json", timeout=120, **env).stdout
    return json.loads(output[output.index("["):])


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> AirflowSetup:
    """A migrated Airflow home, and the environment to run Airflow in (nothing from other Airflow homes)."""
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "dags").mkdir()
    (home / "plugins").mkdir()  # empty: the plugin comes with the package
    store = seed(f"sqlite:///{home / 'metrics.db'}")
    (home / "passwords.json").write_text(json.dumps({"admin": ADMIN_PASSWORD}))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LLMCOMPILER"))}
    env = {
        **inherited,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-for-the-ui-tests-0123456789",
        "AIRFLOW__API__SECRET_KEY": "secret-key-for-the-ui-tests",
        "LLMCOMPILER_HOME": str(home),
        "LLMCOMPILER_STORE_URL": store.url,
    }
    setup = AirflowSetup(env=env, home=home, store=store)
    airflow(setup, "db", "migrate")
    return setup


@pytest.fixture(scope="module")
def api_server(setup: AirflowSetup) -> Iterator[str]:
    """``airflow api-server`` on a free port; its base URL. Stopped (its process group) afterwards."""
    port = free_port()
    log = (setup.home / "api-server.log").open("w")
    command = [AIRFLOW, "api-server", "--port", str(port), "--apps", "core", "--workers", "1"]
    process = subprocess.Popen(command, env=setup.env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def logged() -> str:
        return (setup.home / "api-server.log").read_text()[-3000:]

    def check_alive() -> None:
        assert process.poll() is None, f"the api-server exited:\n{logged()}"

    try:
        wait_until_healthy(base, check_alive, SERVER_START_TIMEOUT_S, logged)
        yield base
    finally:
        stop_process_group(process, timeout=20)
        log.close()


@pytest.fixture(scope="module")
def token(api_server: str) -> str:
    response = httpx.post(f"{api_server}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def test_airflow_plugins_lists_the_plugin_the_package_installs(setup: AirflowSetup):
    [plugin] = [p for p in listed_plugins(setup) if p["name"] == "llmcompiler"]
    assert plugin["source"].startswith("llmcompiler-provider==")  # the airflow.plugins entry point
    apps = [(a["url_prefix"], a["name"]) for a in plugin["fastapi_apps"]]
    assert apps == [("/llmcompiler", "LLMCompiler runs")]
    views = {view["name"]: view for view in plugin["external_views"]}
    assert (views["LLMCompiler"]["href"], views["LLMCompiler"]["destination"]) == ("/llmcompiler/runs", "nav")
    assert views[TASK_INSTANCE_VIEW]["destination"] == "task_instance"
    assert views[TASK_INSTANCE_VIEW]["href"].startswith("/llmcompiler/ti?dag_id={DAG_ID}&run_id={RUN_ID}")


def test_the_plugin_is_registered_once_whether_providers_are_discovered_lazily_or_not(setup: AirflowSetup):
    for lazy in ("True", "False"):
        listed = listed_plugins(setup, AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS=lazy)
        assert [p["name"] for p in listed].count("llmcompiler") == 1, lazy


def test_the_api_server_refuses_the_pages_without_a_login(api_server: str, setup: AirflowSetup):
    api = httpx.get(f"{api_server}/llmcompiler/api/runs")
    assert api.status_code == 401
    assert api.json() == {"detail": "You are not logged in to Airflow; log in and open this page again."}
    page = httpx.get(f"{api_server}/llmcompiler/runs/{setup.store.main_run_id}")
    assert page.status_code == 401 and "You are not logged in to Airflow" in page.text
    assert "Compare" not in page.text
    assert httpx.get(f"{api_server}/llmcompiler/api/runs",
                     headers={"Authorization": "Bearer not-a-token"}).status_code in (401, 403)


def test_the_api_server_serves_the_pages_to_a_logged_in_user(api_server: str, token: str,
                                                              setup: AirflowSetup):
    with httpx.Client(base_url=api_server, headers={"Authorization": f"Bearer {token}"}) as client:
        runs = client.get("/llmcompiler/runs")
        assert runs.status_code == 200
        assert runs.text.count('<tr class="run-row"') == len(setup.store.results)
        assert client.get(f"/llmcompiler/runs/{setup.store.main_run_id}").status_code == 200
        assert client.get("/llmcompiler/trends").status_code == 200
        assert client.get("/llmcompiler/api/runs").json()["count"] == len(setup.store.results)
        view = next(v for p in client.get("/api/v2/plugins").json()["plugins"] if p["name"] == "llmcompiler"
                    for v in p["external_views"] if v["name"] == TASK_INSTANCE_VIEW)
        filled = view["href"]  # as Airflow's UI fills it on the task instance page of an unmapped task
        for placeholder, value in (("{DAG_ID}", MAIN_AIRFLOW["dag_id"]), ("{RUN_ID}", MAIN_AIRFLOW["run_id"]),
                                   ("{TASK_ID}", MAIN_AIRFLOW["task_id"])):
            filled = filled.replace(placeholder, quote(value, safe=""))
        redirect = client.get(filled)
        assert redirect.status_code == 303
        assert redirect.headers["location"] == f"/llmcompiler/runs/{setup.store.main_run_id}"


def test_airflow_reports_no_plugin_import_errors(api_server: str, token: str):
    headers = {"Authorization": f"Bearer {token}"}
    errors = httpx.get(f"{api_server}/api/v2/plugins/importErrors", headers=headers)
    assert errors.json() == {"import_errors": [], "total_entries": 0}


def test_the_airflow_ui_shows_the_runs_page_from_its_navigation(api_server: str, token: str,
                                                                setup: AirflowSetup, tmp_path):
    with chromium(tmp_path / "profile") as browser:
        browser.add_cookies([{"name": "_token", "value": token, "url": api_server}])
        tab = watch(browser.new_page())
        tab.page.goto(f"{api_server}/plugin/llmcompiler")
        frame = tab.page.frame_locator("iframe")
        frame.locator("tr.run-row").first.wait_for(timeout=30_000)
        assert frame.locator("tr.run-row").count() == len(setup.store.results)
        tab.page.get_by_role("link", name="LLMCompiler").first.wait_for()
        tab.screenshot("airflow-nav")
        assert tab.problems == []
