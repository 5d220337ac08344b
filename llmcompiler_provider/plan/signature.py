"""What the compiler needs to know about a tool: its parameters and execution hints.

The tool registry (``llmcompiler_provider.tools``) builds these from Python
callables; the compiler only ever sees this description, never the callable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from llmcompiler_provider.plan.types import ANY, ArgType


#: the resource GPU tools ask for and GPU workers declare (a dask-cuda worker per GPU, or a CPU
#: worker's GPU slot on the embedded fallback)
GPU_RESOURCE = "GPU"


@dataclass(frozen=True)
class Param:
    name: str
    required: bool = True
    annotation: str = "Any"  # the type hint as text, for prompts
    variadic: bool = False  # *args: takes any number of extra positional arguments
    type: ArgType = ANY  # what the analyzer and the planner's grammar accept (read from the real hint)


@dataclass(frozen=True)
class ToolSignature:
    name: str
    params: tuple[Param, ...] = ()
    description: str = ""
    resources: Mapping[str, float] = field(default_factory=dict)
    pure: bool = True  # same arguments, same result, no side effects
    batchable: bool = False
    cost: float = 1.0  # estimated seconds, used for critical-path priorities
    retries: int = 0
    timeout: float | None = None
    returns: ArgType = ANY  # the declared result type: a bare $N of this tool is checked against it
    is_async: bool = False  # a coroutine tool: it waits without holding a thread (execution units group these)
    # a blocking call that spends its time waiting on I/O (``requests.get``, a database driver): it holds a
    # thread, not a core, so execution units group its calls too and run them on threads side by side
    blocking_io: bool = False
    # a blocking call that spends its time computing in Python (parsing, arithmetic): it holds the worker
    # process's interpreter lock, so the fusion pass never groups it with siblings, which would take turns
    # at that lock; Dask spreads its calls over worker processes. Declared, or learned by ``Toolset`` from
    # the CPU time its calls measured.
    cpu_bound: bool = False
    # seconds a result of this (pure) tool may be reused from the result cache (``ResultCache``): across
    # runs, batches and days; None: never cached
    cache_ttl: float | None = None

    def __post_init__(self) -> None:
        if self.blocking_io and self.is_async:
            raise ValueError(
                f"tool {self.name!r}: blocking_io=True declares a call that blocks a thread, but the tool is a "
                "coroutine function, which waits without holding one (its calls are grouped already); "
                "drop blocking_io"
            )
        if self.cpu_bound and self.is_async:
            raise ValueError(
                f"tool {self.name!r}: cpu_bound=True declares a call that computes on a thread of its own, but "
                "the tool is a coroutine function, which runs on the worker's event loop among other "
                "coroutines; make it a plain function, or drop cpu_bound"
            )
        if self.cpu_bound and self.blocking_io:
            raise ValueError(
                f"tool {self.name!r}: cpu_bound=True and blocking_io=True contradict each other (a call either "
                "computes or waits on I/O); keep the one its calls spend most of their time on"
            )

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


#: what the analyzer looks tools up in: tool name -> signature
Catalogue = Mapping[str, ToolSignature]
