"""The Airflow plugin: the LLMCompiler pages in Airflow's UI.

* ``fastapi_apps``: the app of ``ui.app`` at ``/llmcompiler`` in the api-server,
  behind Airflow's authentication and DAG permissions.
* ``external_views``: "LLMCompiler" in the navigation bar (the runs page, inside
  Airflow's UI), and an "LLMCompiler run" tab on each task instance that opens
  the run that task instance recorded.

Airflow finds it through the provider's metadata (``plugins`` in
``get_provider_info()``, loaded when ``[core] lazy_discover_providers`` is off)
or through ``plugins/llmcompiler_plugin.py`` in the plugins folder.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from llmcompiler_provider.ui.airflow_access import airflow_viewer
from llmcompiler_provider.ui.app import URL_PREFIX, create_app

PLUGIN_NAME = "llmcompiler"
PLUGIN_CLASS = "llmcompiler_provider.ui.plugin.LLMCompilerPlugin"
TASK_INSTANCE_HREF = (
    URL_PREFIX + "/ti?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}"
)


class LLMCompilerPlugin(AirflowPlugin):
    name = PLUGIN_NAME
    fastapi_apps = [
        {"app": create_app(viewer=airflow_viewer), "url_prefix": URL_PREFIX, "name": "LLMCompiler runs"},
    ]
    external_views = [
        {
            "name": "LLMCompiler",
            "href": URL_PREFIX + "/runs",
            "url_route": "llmcompiler",
            "destination": "nav",
            "nav_top_level": True,
            "icon": URL_PREFIX + "/icon.svg",
        },
        {
            "name": "LLMCompiler run",
            "href": TASK_INSTANCE_HREF,
            "url_route": "llmcompiler-run",
            "destination": "task_instance",
            "icon": URL_PREFIX + "/icon.svg",
        },
    ]


def loaded_through_provider() -> bool:
    """Whether Airflow loads this plugin from the provider's metadata (so the plugins folder must not)."""
    from airflow import settings

    from llmcompiler_provider import get_provider_info

    declared = get_provider_info().get("plugins") or []
    return not settings.LAZY_LOAD_PROVIDERS and any(p.get("plugin-class") == PLUGIN_CLASS for p in declared)
