"""Toolsets: named registries of tools that plans may call."""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Mapping

from llmcompiler_provider.plan.signature import Param, ToolSignature
from llmcompiler_provider.plan.types import ANY, hint_types


@dataclass(frozen=True)
class Tool:
    """A registered tool: the callable plus what the compiler and dispatcher need."""

    fn: Callable[..., Any]
    signature: ToolSignature
    batch_fn: Callable[[list[dict[str, Any]]], list[Any]] | None = None

    @property
    def name(self) -> str:
        return self.signature.name

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def _annotation_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    if isinstance(annotation, str):
        return annotation
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def signature_of(fn: Callable[..., Any], *, name: str, description: str, **hints: Any) -> ToolSignature:
    """Build a ``ToolSignature`` from a callable's parameters and type hints.

    Each parameter's ``type`` and the ``returns`` type are read from the real hints
    (``plan.types.hint_types``); ``annotation`` is the hint's text, for prompts.
    """
    types, returns = hint_types(fn)
    params = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        params.append(
            Param(
                name=p.name,
                required=p.default is inspect.Parameter.empty and p.kind is not p.VAR_POSITIONAL,
                annotation=_annotation_name(p.annotation),
                variadic=p.kind is inspect.Parameter.VAR_POSITIONAL,
                type=types.get(p.name, ANY),
            )
        )
    hints.setdefault("is_async", inspect.iscoroutinefunction(fn))
    hints.setdefault("returns", returns)
    return ToolSignature(name=name, params=tuple(params), description=description, **hints)


class Toolset:
    """A named registry of tools.

    >>> demo = Toolset("mine")
    >>> @demo.tool(cost=0.2)
    ... def search(query: str) -> str:
    ...     "Look something up."
    ...     return query
    """

    def __init__(self, name: str, description: str = "", examples: str = "") -> None:
        self.name = name
        self.description = description
        #: few-shot plan examples for the planner prompt
        self.examples = examples
        self._tools: dict[str, Tool] = {}

    # registration -----------------------------------------------------------------
    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        resources: Mapping[str, float] | None = None,
        pure: bool = True,
        batchable: bool = False,
        cost: float = 1.0,
        retries: int = 0,
        timeout: float | None = None,
        blocking_io: bool = False,
    ):
        """Register ``fn`` as a tool (usable bare or with keyword options).

        ``blocking_io=True`` says that a plain (not ``async``) function spends its time
        waiting on I/O in a blocking call (an HTTP client, a database driver): it holds a
        thread, not a core, so the fusion pass groups its independent calls into one
        Dask task that runs them on threads at the same time. A ``ValueError`` refuses it
        on a coroutine function, which waits without a thread and is grouped already.
        """

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            tool_name = name or func.__name__
            if not tool_name.isidentifier():
                raise ValueError(f"tool name {tool_name!r} is not an identifier")
            if tool_name == "join":
                raise ValueError("'join' is reserved: it ends a plan")
            doc = description if description is not None else inspect.getdoc(func) or ""
            sig = signature_of(
                func,
                name=tool_name,
                description=doc.strip(),
                resources=dict(resources or {}),
                pure=pure,
                batchable=batchable,
                cost=float(cost),
                retries=int(retries),
                timeout=timeout,
                blocking_io=bool(blocking_io),
            )
            self._tools[tool_name] = Tool(fn=func, signature=sig)
            return func

        return register(fn) if fn is not None else register

    def add(self, func: Callable[..., Any], **options: Any) -> None:
        """Register a plain callable (the operator's ``tools=[...]`` argument)."""
        self.tool(func, **options)

    def batch(self, tool_name: str):
        """Decorator registering the batched implementation of ``tool_name``."""

        def register(func: Callable[[list[dict[str, Any]]], list[Any]]):
            tool = self._tools[tool_name]
            self._tools[tool_name] = replace(tool, batch_fn=func, signature=replace(tool.signature, batchable=True))
            return func

        return register

    # lookup ------------------------------------------------------------------------
    def __getitem__(self, tool_name: str) -> Tool:
        return self._tools[tool_name]

    def __contains__(self, tool_name: object) -> bool:
        return tool_name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def signatures(self) -> dict[str, ToolSignature]:
        """The catalogue the plan compiler checks plans against."""
        return {name: tool.signature for name, tool in self._tools.items()}

    def merged(self, other: "Toolset", name: str | None = None) -> "Toolset":
        combined = Toolset(name or f"{self.name}+{other.name}", self.description, self.examples + other.examples)
        combined._tools = {**self._tools, **other._tools}
        return combined

    def describe(self) -> str:
        """Tool descriptions for a planner prompt, one numbered entry per tool."""
        lines = []
        for i, tool in enumerate(self._tools.values(), 1):
            sig = tool.signature
            params = ", ".join(
                ("*" if p.variadic else "") + p.name + ": " + p.annotation + ("" if p.required or p.variadic else " = ...")
                for p in sig.params
            )
            lines.append(f"{i}. {sig.name}({params}): {' '.join(sig.description.split())}")
        lines.append(
            f"{len(self._tools) + 1}. join(): collects the results and ends the plan. "
            "It is always the last action."
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Toolset({self.name!r}, tools={list(self._tools)})"


BUILTIN_TOOLSETS = {"demo": "llmcompiler_provider.tools.demo:demo"}


class ToolsetNotFound(LookupError):
    pass


def load_toolset(spec: "str | Toolset") -> Toolset:
    """``demo`` (a built-in name) or ``package.module:attribute`` naming a ``Toolset``.

    A user's module is imported from the current directory or ``PYTHONPATH``, and is
    registered to pickle by value so Dask workers that cannot import it still run it.
    """
    if isinstance(spec, Toolset):
        return spec
    target = BUILTIN_TOOLSETS.get(spec, spec)
    if ":" not in target:
        raise ToolsetNotFound(
            f"unknown toolset {spec!r}: use one of {sorted(BUILTIN_TOOLSETS)} or 'module:attribute'"
        )
    module_name, _, attr = target.partition(":")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ToolsetNotFound(f"toolset {spec!r}: cannot import module {module_name!r} ({exc})") from exc
    toolset = getattr(module, attr, None)
    if not isinstance(toolset, Toolset):
        raise ToolsetNotFound(f"toolset {spec!r}: {module_name}.{attr} is not a Toolset")
    if not module_name.startswith("llmcompiler_provider."):
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    return toolset
