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
        {"integration-name": INTEGRATION, "python-modules": ["llmcompiler_provider.operators.llmcompiler",
                                                             "llmcompiler_provider.operators.batch"]}
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
    "config": {
        "llmcompiler": {
            "description": "Defaults of the embedded Dask cluster an LLMCompilerOperator starts when it "
            "has no dask_conn_id (an operator's embedded_cluster overrides them).",
            "options": {
                "embedded_processes": {
                    "description": "Run the embedded cluster's workers as processes instead of threads of "
                    "the task process: for CPU-bound Python tools. Threads start in about 30 ms, share the "
                    "task's loaded model, and let tools use the task's Airflow connections.",
                    "version_added": "0.1.0",
                    "type": "boolean",
                    "example": "True",
                    "default": "False",
                },
                "embedded_workers": {
                    "description": "Workers of the embedded cluster (each declares one GPU slot when no "
                    "GPU is visible). With processes, at most the cores the task may use.",
                    "version_added": "0.1.0",
                    "type": "integer",
                    "example": "2",
                    "default": "2",
                },
                "embedded_threads_per_worker": {
                    "description": "Threads per embedded worker (tools are mostly I/O-bound; threads are "
                    "started as calls need them).",
                    "version_added": "0.1.0",
                    "type": "integer",
                    "example": "8",
                    "default": "32",
                },
            },
        }
    },
}
