"""Dask's private API, used here and nowhere else, each use with a public-API fallback.

Underscore names change between Dask releases (``Client._graph_to_futures`` took a
high-level graph until 2025.3 and an expression since; ``dask._task_spec`` is
recent), so every private call the provider makes lives in this module, and each
one falls back to a public equivalent where the private one is missing or refuses:

==========================  ==========================================  ==========================================
what                        private (faster)                            public fallback
==========================  ==========================================  ==========================================
``submit_units``            all ready units in one ``update-graph``     one ``Client.submit`` per unit, with the
                            message (``_graph_to_futures``,             same keys, resources and priorities
                            ``dask._task_spec``, ``dask._expr``)
``unbatch``                 a batched stream's ``interval`` set to 0    the stream left as Dask configured it
``reschedule_counts``       the scheduler's ``TaskState.suspicious``    ``{}``: attempts count tool retries only
==========================  ==========================================  ==========================================

The Dask config key ``llmcompiler.private-api`` (default true; the environment
variable ``DASK_LLMCOMPILER__PRIVATE_API=false``) turns every private path off,
which is how the tests run the fallbacks on the newest Dask too.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

PRIVATE_API_KEY = "llmcompiler.private-api"

#: private paths found not to work with this process's Dask (name -> why), so they are not tried again
_unusable: dict[str, str] = {}
_unusable_lock = threading.Lock()


def private_api_enabled(name: str) -> bool:
    """Whether private path ``name`` may be tried: allowed by config and not found unusable."""
    import dask

    return bool(dask.config.get(PRIVATE_API_KEY, True)) and name not in _unusable


def _give_up(name: str, exc: BaseException) -> None:
    with _unusable_lock:
        if name not in _unusable:
            _unusable[name] = f"{type(exc).__name__}: {exc}"
            log.info("Dask's private %s is not usable here (%s): using the public API", name, _unusable[name])


def unusable_private_paths() -> dict[str, str]:
    """The private paths this process fell back from, with the reason (for logs and tests)."""
    return dict(_unusable)


# many units in one message ---------------------------------------------------------------------


@dataclass(frozen=True)
class UnitSubmission:
    """One Dask task to create: ``function(payload, *results of upstream keys, **options)``."""

    key: str
    function: Callable[..., Any]
    payload: Any
    upstream: tuple[str, ...] = ()
    resources: dict[str, float] = field(default_factory=dict)
    priority: int = 0
    options: dict[str, Any] = field(default_factory=dict)


def submit_units(client: Any, units: Sequence[UnitSubmission]) -> dict[str, Any]:
    """Send ``units`` to the scheduler; returns a future per key. Upstream keys are units of this
    call or keys the client already holds futures for."""
    if not units:
        return {}
    if private_api_enabled("graph submission"):
        try:
            return _submit_as_one_graph(client, units)
        except (ImportError, AttributeError, TypeError) as exc:  # raised before anything is sent
            _give_up("graph submission", exc)
    return _submit_one_by_one(client, units)


def _submit_as_one_graph(client: Any, units: Sequence[UnitSubmission]) -> dict[str, Any]:
    """One ``update-graph`` message: one layer per distinct (resources, priority), whose layer
    annotations the scheduler applies per key, exactly as ``submit(resources=, priority=)`` would."""
    from dask._expr import HLGExpr
    from dask._task_spec import Task, TaskRef
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
    from distributed.spans import SpanMetadata

    layer_of: dict[tuple, str] = {}  # (resources, priority) -> layer name
    layers: dict[str, dict[str, Any]] = {}
    annotations: dict[str, dict[str, Any]] = {}
    for unit in units:
        signature = (tuple(sorted(unit.resources.items())), unit.priority)
        name = layer_of.get(signature)
        if name is None:
            name = layer_of[signature] = f"llmcompiler-units-{len(layer_of)}"
            layers[name] = {}
            annotations[name] = {"priority": unit.priority}
            if unit.resources:
                annotations[name]["resources"] = dict(unit.resources)
        layers[name][unit.key] = Task(
            unit.key, unit.function, unit.payload, *(TaskRef(k) for k in unit.upstream), **unit.options
        )
    graph = HighLevelGraph(
        {name: MaterializedLayer(tasks, annotations=annotations[name]) for name, tasks in layers.items()},
        {name: set() for name in layers},
    )
    keys = [unit.key for unit in units]
    expr = HLGExpr(dsk=graph, low_level_optimizer=None, output_keys=keys)
    return client._graph_to_futures(
        expr,
        keys,
        span_metadata=SpanMetadata(collections=[{"type": "Future"}]),
        internal_priority={key: position for position, key in enumerate(keys)},
        fifo_timeout="100 ms",
    )


def _submit_one_by_one(client: Any, units: Sequence[UnitSubmission]) -> dict[str, Any]:
    """``Client.submit`` per unit, upstream units first; an upstream key from an earlier call is
    named by a ``Future`` of this client (the dispatcher holds the original, so it exists)."""
    from distributed import Future

    futures: dict[str, Any] = {}
    pending = {unit.key: unit for unit in units}

    def submit(unit: UnitSubmission) -> None:
        for key in unit.upstream:
            if key in pending and key not in futures:
                submit(pending[key])
        upstream = [futures[key] if key in futures else Future(key, client) for key in unit.upstream]
        futures[unit.key] = client.submit(
            unit.function, unit.payload, *upstream, key=unit.key, pure=False,
            resources=unit.resources or None, priority=unit.priority, **unit.options,
        )

    for unit in units:
        if unit.key not in futures:
            submit(unit)
    return futures


# batched streams -------------------------------------------------------------------------------


def unbatch(stream: Any) -> None:
    """Make a Dask ``BatchedSend`` write each message at once instead of every few milliseconds."""
    if stream is None or not private_api_enabled("stream interval"):
        return
    if hasattr(stream, "interval"):
        stream.interval = 0
    else:
        _give_up("stream interval", AttributeError(f"{type(stream).__name__} has no 'interval'"))


# reschedule counts -----------------------------------------------------------------------------


def reschedule_counts(client: Any, keys: list[str]) -> Any:
    """A coroutine for ``{key: times a worker died while running it}``, asked of the scheduler
    (run it on ``client``'s loop); None when that count cannot be had."""
    if not keys or not private_api_enabled("reschedule counts"):
        return None
    return client.run_on_scheduler(_suspicious_counts, keys=keys, asynchronous=True)


def _suspicious_counts(dask_scheduler: Any, keys: list[str]) -> dict[str, int]:  # runs on the scheduler
    """Unit key -> how many times a worker died while running it (Dask ran it again, or gave up
    with ``KilledWorker``)."""
    tasks = dask_scheduler.tasks
    counts = {}
    for key in keys:
        suspicious = getattr(tasks.get(key), "suspicious", 0)
        if suspicious:
            counts[key] = suspicious
    return counts
