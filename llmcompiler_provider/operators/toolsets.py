"""The operator's tools: a named or given ``Toolset``, plus plain callables.

Dask workers import tools by module name when they unpickle them. A DAG file or a
test module is not importable there (Airflow loads DAG files under generated
module names), so callables from modules outside installed packages are pickled
by value instead.
"""

from __future__ import annotations

import inspect
import sysconfig
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llmcompiler_provider.tools.registry import Toolset, load_toolset

DEFAULT_TOOLSET = "demo"
TOOLS_TOOLSET_NAME = "tools"


def _installed_roots() -> list[Path]:
    paths = sysconfig.get_paths()
    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    return [Path(paths[key]).resolve() for key in keys if key in paths]


def is_user_module(module: Any) -> bool:
    """True for modules that Dask workers may not be able to import (not stdlib, not installed)."""
    name = getattr(module, "__name__", "")
    if name.split(".")[0] in ("llmcompiler_provider", "builtins"):
        return False
    file = getattr(module, "__file__", None)
    if not file:
        return True
    where = Path(file).resolve()
    return not any(where.is_relative_to(root) for root in _installed_roots())


def ship_by_value(fn: Callable[..., Any]) -> None:
    """Make cloudpickle send ``fn``'s module by value when workers cannot import it."""
    import cloudpickle

    module = inspect.getmodule(fn)
    if module is not None and module.__name__ != "__main__" and is_user_module(module):
        cloudpickle.register_pickle_by_value(module)


def build_toolset(toolset: str | Toolset | None, tools: Sequence[Callable[..., Any]] = ()) -> Toolset:
    """``toolset`` (default ``demo`` when no ``tools`` are given) with ``tools`` added."""
    if not tools:
        return _shipped(load_toolset(toolset or DEFAULT_TOOLSET))
    extra = Toolset(TOOLS_TOOLSET_NAME, "Tools given to the operator.")
    for fn in tools:
        if not callable(fn):
            raise TypeError(f"tools must be callables, not {type(fn).__name__}")
        ship_by_value(fn)
        extra.add(fn)
    if toolset is None:
        return extra
    return _shipped(load_toolset(toolset)).merged(extra)


def _shipped(toolset: Toolset) -> Toolset:
    """``toolset``, its tools' modules shipped by value and its Airflow Tools' connections looked up."""
    from llmcompiler_provider.airflow_tools import resolve_connections

    resolve_connections(toolset)
    for tool in toolset:
        ship_by_value(tool.fn)
        if tool.batch_fn is not None:
            ship_by_value(tool.batch_fn)
    return toolset
