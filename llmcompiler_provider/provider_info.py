"""What Airflow learns about this provider (filled in by the provider work)."""

PROVIDER_INFO: dict = {
    "package-name": "llmcompiler-provider",
    "name": "LLMCompiler",
    "description": "Plan LLM tool calls as a graph and run them in parallel on Dask.",
    "versions": ["0.1.0"],
}
