"""Many Dask tasks in one ``update-graph`` message, each with its own resources and priority.

``client.submit`` sends one message per task, and the scheduler handles each one
separately (deserialize, order, create task state). A plan's ready units go as
one high-level graph instead: one layer per distinct (resources, priority), whose
layer annotations the scheduler applies per key, exactly as ``submit(resources=,
priority=)`` would. Dependencies are the keys of earlier units (futures the
dispatcher holds) or of units in the same message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


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


def submit_many(client: Any, units: Sequence[UnitSubmission]) -> dict[str, Any]:
    """Send ``units`` to the scheduler in one message; returns a future per key."""
    from dask._expr import HLGExpr
    from dask._task_spec import Task, TaskRef
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
    from distributed.spans import SpanMetadata

    if not units:
        return {}
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
