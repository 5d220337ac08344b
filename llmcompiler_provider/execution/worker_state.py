"""Expensive tool state (a model, an index, a client) loaded once per worker process and reused.

A Dask worker process lives across many tasks and many runs. A tool that needs
something heavy asks for it by name; the first call in the process runs the
factory, every later call (any task, any run, any thread) gets the same object::

    from llmcompiler_provider.execution.worker_state import worker_cached

    @tools.tool(resources={"GPU": 1})
    def embed(text: str) -> list[float]:
        model = worker_cached("embedder", load_embedder)
        return model.encode(text)

Loads are counted per process (:func:`cached_loads`, and :func:`worker_cache_report`
for every worker of a cluster). Workers can also load state as they start, before
any task asks for it: register :class:`WarmCache` with a client, or start workers
with ``--preload llmcompiler_provider.execution.worker_state`` and
``LLMCOMPILER_WORKER_WARM="local-llm=llmcompiler_provider.llm:get_local_model"``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from distributed.diagnostics.plugin import WorkerPlugin

T = TypeVar("T")

#: ``name=module:function[,name=module:function...]``: what a preloaded worker loads as it starts
WARM_ENV = "LLMCOMPILER_WORKER_WARM"

_values: dict[str, Any] = {}
_loads: dict[str, int] = {}
_name_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def worker_cached(name: str, factory: Callable[[], T]) -> T:
    """The object cached under ``name`` in this process, made by ``factory()`` on first use.

    Concurrent first calls wait for one load instead of loading twice; a factory that
    raises caches nothing, so the next call tries again.
    """
    try:
        return _values[name]
    except KeyError:
        pass
    with _guard:
        lock = _name_locks.setdefault(name, threading.Lock())
    with lock:
        if name not in _values:
            _values[name] = factory()
            _loads[name] = _loads.get(name, 0) + 1
        return _values[name]


def cached_loads() -> dict[str, int]:
    """How many times each name was loaded in this process (1 each, unless a load was retried)."""
    return dict(_loads)


def worker_cache_report(client: Any) -> dict[str, dict[str, int]]:
    """``cached_loads()`` of every worker of ``client``'s cluster, by worker address."""
    return client.run(cached_loads)


def split_spec(spec: str) -> tuple[str, str]:
    """``module:attribute`` -> (module, attribute)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"cannot warm {spec!r}: name a factory as 'module:function'")
    return module_name, attribute


def import_factory(spec: str) -> Callable[[], Any]:
    """The callable named by ``module:attribute``."""
    module_name, attribute = split_spec(spec)
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot warm {spec!r}: {exc}") from exc
    if not callable(factory):
        raise ValueError(f"cannot warm {spec!r}: it is not callable")
    return factory


def parse_warm_spec(text: str) -> dict[str, str]:
    """``"a=pkg.mod:make_a, b=pkg.mod:make_b"`` -> ``{"a": "pkg.mod:make_a", "b": "pkg.mod:make_b"}``."""
    factories: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, spec = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{WARM_ENV}: {item!r} is not 'name=module:function'")
        factories[name.strip()] = spec.strip()
        split_spec(spec.strip())
    return factories


def warm(factories: Mapping[str, str]) -> None:
    """Load each ``name -> 'module:function'`` into this process's cache (names already loaded are kept)."""
    for name, spec in factories.items():
        worker_cached(name, import_factory(spec))


class WarmCache(WorkerPlugin):
    """Loads named state on every worker, those running now and those that join later.

    ``client.register_plugin(WarmCache({"local-llm": "llmcompiler_provider.llm:get_local_model"}))``
    Registering it again is harmless: what is loaded stays loaded.
    """

    name = "llmcompiler-warm-cache"

    def __init__(self, factories: Mapping[str, str]) -> None:
        for spec in factories.values():
            split_spec(
                spec
            )  # a malformed name fails here, in the caller (the module need only exist on workers)
        self.factories = dict(factories)

    async def setup(self, worker: Any) -> None:
        await asyncio.to_thread(warm, self.factories)  # loading must not stall the worker's event loop


async def dask_setup(worker: Any) -> None:
    """The ``--preload`` hook of this module: load what ``$LLMCOMPILER_WORKER_WARM`` names."""
    factories = parse_warm_spec(os.environ.get(WARM_ENV, ""))
    if factories:
        await asyncio.to_thread(warm, factories)
