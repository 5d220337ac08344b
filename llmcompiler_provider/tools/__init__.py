"""Tool registry and built-in toolsets."""

from llmcompiler_provider.tools.registry import Tool, Toolset, ToolsetNotFound, load_toolset

__all__ = ["Tool", "Toolset", "ToolsetNotFound", "load_toolset"]
