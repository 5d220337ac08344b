"""What Airflow learns about this provider (``get_provider_info()``); plain data, no Airflow imports."""

from llmcompiler_provider import __version__
from llmcompiler_provider.hooks.forms import (
    DASK_CONN_FIELDS,
    DASK_CONN_TYPE,
    DASK_FIELD_BEHAVIOUR,
    LLM_CONN_FIELDS,
    LLM_CONN_TYPE,
    LLM_FIELD_BEHAVIOUR,
    as_provider_behaviour,
)

INTEGRATION = "LLMCompiler"

PROVIDER_INFO: dict = {
    "package-name": "llmcompiler-provider",
    "name": "LLMCompiler",
    "description": "Plan LLM tool calls as a graph and run them in parallel on Dask, "
    "with every run's metrics recorded and shown in the Airflow UI.",
    "versions": [__version__],
    "integrations": [
        {
            "integration-name": INTEGRATION,
            "external-doc-url": "https://arxiv.org/abs/2312.04511",
            "tags": ["ai", "dask"],
        }
    ],
    "operators": [
        {"integration-name": INTEGRATION, "python-modules": ["llmcompiler_provider.operators.llmcompiler"]}
    ],
    "hooks": [
        {
            "integration-name": INTEGRATION,
            "python-modules": [
                "llmcompiler_provider.hooks.llm",
                "llmcompiler_provider.hooks.dask",
                "llmcompiler_provider.hooks.store",
            ],
        }
    ],
    "triggers": [{"integration-name": INTEGRATION, "python-modules": ["llmcompiler_provider.triggers.run"]}],
    "connection-types": [
        {
            "hook-class-name": "llmcompiler_provider.hooks.llm.LLMCompilerLLMHook",
            "hook-name": "LLMCompiler LLM",
            "connection-type": LLM_CONN_TYPE,
            "conn-fields": LLM_CONN_FIELDS,
            "ui-field-behaviour": as_provider_behaviour(LLM_FIELD_BEHAVIOUR),
        },
        {
            "hook-class-name": "llmcompiler_provider.hooks.dask.DaskHook",
            "hook-name": "LLMCompiler Dask scheduler",
            "connection-type": DASK_CONN_TYPE,
            "conn-fields": DASK_CONN_FIELDS,
            "ui-field-behaviour": as_provider_behaviour(DASK_FIELD_BEHAVIOUR),
        },
    ],
    "extra-links": ["llmcompiler_provider.links.LLMCompilerRunLink"],
    # the UI plugin is registered through the ``airflow.plugins`` entry point (see ui/plugin.py)
}
