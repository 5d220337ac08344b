"""Airflow loads the LLMCompiler UI plugin from here (see llmcompiler_provider/ui/plugin.py)."""

from llmcompiler_provider.ui.plugin import LLMCompilerPlugin, loaded_through_provider

# the provider registers it already when Airflow loads provider plugins; a second copy would be refused
if loaded_through_provider():
    del LLMCompilerPlugin
