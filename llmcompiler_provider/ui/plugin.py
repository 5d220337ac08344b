"""The Airflow plugin: the LLMCompiler pages in Airflow's UI.

* ``fastapi_apps``: the app of ``ui.app`` at ``/llmcompiler`` in the api-server,
  behind Airflow's authentication and DAG permissions.
* ``external_views``: "LLMCompiler" in the navigation bar (the runs page, inside
  Airflow's UI), and an "LLMCompiler run" tab on each task instance that opens
  the run that task instance recorded.

Airflow finds it through the ``airflow.plugins`` entry point of this package
(setup.cfg), so ``pip install llmcompiler-provider`` is enough: no file in the
plugins folder. It is not also declared in ``get_provider_info()``: Airflow
loads those only when providers are discovered eagerly, and would then refuse
the second copy as an import error.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from llmcompiler_provider.ui.airflow_access import airflow_viewer
from llmcompiler_provider.ui.app import URL_PREFIX, create_app

PLUGIN_NAME = "llmcompiler"
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
