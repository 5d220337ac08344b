"""The provider as Airflow discovers it through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

import json

import pytest

from airflow_test_support import airflow_cli
from llmcompiler_provider import __version__, get_provider_info

pytestmark = pytest.mark.slow


def test_airflow_providers_list_shows_the_provider(airflow_db):
    done = airflow_cli("providers", "list", "-o", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    listed = {p["package_name"]: p for p in json.loads(done.stdout[done.stdout.index("["):])}
    assert listed["llmcompiler-provider"]["version"] == __version__


def test_every_module_and_class_the_provider_info_names_imports(airflow_db):
    import importlib

    from airflow.providers_manager import ProvidersManager
    from airflow.sdk._shared.module_loading import import_string

    info = get_provider_info()
    for section in ("operators", "hooks", "triggers"):
        for module in (m for entry in info[section] for m in entry["python-modules"]):
            importlib.import_module(module)
    for class_name in [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]:
        import_string(class_name)
    manager = ProvidersManager()
    assert "llmcompiler_provider.links.LLMCompilerRunLink" in manager.extra_links_class_names
    # the plugin comes through the airflow.plugins entry point, not the provider info (see ui/plugin.py)
    assert [p.plugin_class for p in manager.plugins if p.provider_name == "llmcompiler-provider"] == []
