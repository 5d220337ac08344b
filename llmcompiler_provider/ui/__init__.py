"""The Airflow UI plugin's pages: runs, one run (plans, task graph, Gantt chart), trends.

``create_app`` builds the FastAPI app; ``ui.plugin.LLMCompilerPlugin`` mounts it
in Airflow's api-server at ``/llmcompiler``.
"""

from llmcompiler_provider.ui.app import create_app, create_standalone_app

__all__ = ["create_app", "create_standalone_app"]
