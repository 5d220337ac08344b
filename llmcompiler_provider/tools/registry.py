"""Toolsets: named registries of tools that plans may call."""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Mapping

from llmcompiler_provider.plan.signature import Param, ToolSignature
from llmcompiler_provider.plan.types import ANY, hint_types

#: a tool is treated as ``cpu_bound`` once its recent calls computed at least this share of their time
#: (k siblings that compute more than 1/k of their time take longer in one unit, where their computing
#: is serial, than apart; and on a busy machine a call that only computes measured 0.4 to 1 here: the
#: process's clocks tell waiting for its interpreter lock from waiting for I/O only in part) ...
CPU_BOUND_SHARE = 0.25
#: ... over at least this many calls ...
CPU_BOUND_MIN_CALLS = 3
#: ... for at least this long per call on average: calls shorter than a Dask task's round trip (a few ms)
#: cost less run one after another in one unit than spread over Dask tasks
CPU_BOUND_MIN_S = 0.005
#: the recent calls of each tool its share is measured over
CPU_WINDOW = 32


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
        self._cpu_lock = threading.Lock()
        self._cpu_use: dict[str, deque[tuple[float, float]]] = {}  # tool -> recent (CPU s, window s)
        self._computing: frozenset[str] = frozenset()  # tools learned to be CPU-bound

    def __getstate__(self) -> dict[str, Any]:  # a Toolset travels to a cluster with a remote run
        state = self.__dict__.copy()
        del state["_cpu_lock"]
        with self._cpu_lock:
            state["_cpu_use"] = {name: deque(calls, CPU_WINDOW) for name, calls in self._cpu_use.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cpu_lock = threading.Lock()

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
        cpu_bound: bool = False,
        cache_ttl: float | None = None,
    ):
        """Register ``fn`` as a tool (usable bare or with keyword options).

        ``blocking_io=True`` says that a plain (not ``async``) function spends its time
        waiting on I/O in a blocking call (an HTTP client, a database driver): it holds a
        thread, not a core, so the fusion pass groups its independent calls into one
        Dask task that runs them on threads at the same time. A ``ValueError`` refuses it
        on a coroutine function, which waits without a thread and is grouped already.

        ``cpu_bound=True`` says that a plain function computes in Python (it holds the
        interpreter lock): the fusion pass never groups its independent calls, however
        short, so Dask spreads them over worker processes. Undeclared, a tool is treated so
        once its calls measured it (``observe_cpu``). A ``ValueError`` refuses it on a
        coroutine function, and together with ``blocking_io``.

        ``cache_ttl=seconds`` lets a pure tool's results be reused from the run's result cache
        (the metrics store's tool cache by default) for that long: a call with literal arguments
        made again, in a later run, batch or day, is answered from it without running. Values are
        kept as JSON. A ``ValueError`` refuses it on an impure tool (``pure=False``) and for
        anything but a positive, finite number of seconds.
        """

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            tool_name = name or func.__name__
            if not tool_name.isidentifier():
                raise ValueError(f"tool name {tool_name!r} is not an identifier")
            if tool_name == "join":
                raise ValueError("'join' is reserved: it ends a plan")
            doc = description if description is not None else inspect.getdoc(func) or ""
            ttl = _cache_ttl(tool_name, cache_ttl, pure)
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
                cpu_bound=bool(cpu_bound),
                cache_ttl=ttl,
            )
            self._tools[tool_name] = Tool(fn=func, signature=sig)
            return func

        return register(fn) if fn is not None else register

    def add(self, func: Callable[..., Any], **options: Any) -> None:
        """Register a plain callable (the operator's ``tools=[...]`` argument); ``options`` are
        ``tool``'s (``cost=``, ``pure=``, ``cache_ttl=``, ...)."""
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
        """The catalogue the plan compiler checks plans against; tools that measured CPU-bound
        (``observe_cpu``) are marked ``cpu_bound`` in it (and no longer ``blocking_io``)."""
        computing = self._computing
        return {
            name: _as_cpu_bound(tool.signature) if name in computing else tool.signature
            for name, tool in self._tools.items()
        }

    # learning which tools compute ---------------------------------------------------------
    def observe_cpu(self, calls: Iterable[tuple[str, float, float]]) -> None:
        """Learn from finished blocking calls, each ``(tool, CPU seconds, seconds it had to compute
        in)`` (``Observation.cpu`` and ``Observation.cpu_window``; the dispatcher hands them over).

        A tool whose last ``CPU_WINDOW`` calls (at least ``CPU_BOUND_MIN_CALLS``) computed at least
        ``CPU_BOUND_SHARE`` of that time, ``CPU_BOUND_MIN_S`` or more per call on average, is
        ``cpu_bound`` in the signatures of the plans compiled from then on (the next plan of a
        replan, later runs with this Toolset); one whose recent calls stop computing is no longer.
        Safe to call from several runs' threads at once."""
        with self._cpu_lock:
            changed = {}
            for name, cpu, window in calls:
                if name not in self._tools or window <= 0:
                    continue
                recent = self._cpu_use.get(name)
                if recent is None:
                    recent = self._cpu_use[name] = deque(maxlen=CPU_WINDOW)
                recent.append((cpu, window))
                changed[name] = recent
            if not changed:
                return
            computing = set(self._computing)
            for name, recent in changed.items():
                cpu = sum(c for c, _ in recent)
                window = sum(w for _, w in recent)
                if (
                    len(recent) >= CPU_BOUND_MIN_CALLS
                    and cpu >= CPU_BOUND_SHARE * window
                    and cpu >= CPU_BOUND_MIN_S * len(recent)
                    and not self._tools[name].signature.is_async
                ):
                    computing.add(name)
                else:
                    computing.discard(name)
            self._computing = frozenset(computing)

    def cpu_share(self, tool_name: str) -> float | None:
        """The share of their time the tool's recent calls computed (``observe_cpu``); None before any."""
        with self._cpu_lock:
            recent = list(self._cpu_use.get(tool_name, ()))
        window = sum(w for _, w in recent)
        return sum(c for c, _ in recent) / window if window > 0 else None

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


def _cache_ttl(tool_name: str, cache_ttl: float | None, pure: bool) -> float | None:
    """``cache_ttl`` checked: seconds (a positive number) on a pure tool, or None."""
    if cache_ttl is None:
        return None
    if not pure:
        raise ValueError(
            f"tool {tool_name!r}: cache_ttl={cache_ttl!r} asks to reuse its results, but the tool is declared "
            "pure=False (its calls have side effects or change with time); drop cache_ttl, or declare it pure"
        )
    try:
        seconds = float(cache_ttl)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(
            f"tool {tool_name!r}: cache_ttl={cache_ttl!r} is not a positive, finite number of seconds"
        )
    return seconds


def _as_cpu_bound(signature: ToolSignature) -> ToolSignature:
    """A learned CPU-bound tool's signature: a measurement outweighs a ``blocking_io`` declaration."""
    if signature.cpu_bound:
        return signature
    return replace(signature, cpu_bound=True, blocking_io=False)


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
