"""operators: ``from llmcompiler_provider.operators import LLMCompilerOperator``.

Loaded lazily, so that ``operators.remote_run`` imports without Airflow on Dask workers.
"""

from typing import Any

__all__ = ["LLMCompilerOperator"]


def __getattr__(name: str) -> Any:
    if name == "LLMCompilerOperator":
        from llmcompiler_provider.operators.llmcompiler import LLMCompilerOperator

        return LLMCompilerOperator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
