"""llmcompiler-provider: LLMCompiler-style planned, parallel tool calling on Dask, for Airflow."""

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Airflow's provider metadata (the ``apache_airflow_provider`` entry point)."""
    from llmcompiler_provider.provider_info import PROVIDER_INFO

    return PROVIDER_INFO
