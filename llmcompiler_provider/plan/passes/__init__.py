"""Optimizer passes, one module each, each a pure function named after its module, ``NAME(graph, catalogue) -> TaskGraph``.

``PASSES`` lists them in the order ``optimize`` runs them:

* ``cse``: identical pure calls run once (later ones become aliases; ``PlanStream``
  applies its ``Merger`` to each task as its line completes, which gives the same graph);
* ``dce``: pure tasks whose results reach no output are removed (only when
  ``graph.outputs`` is set);
* ``batching``: independent calls to a ``batchable`` tool merge into one;
* ``priorities``: critical-path priorities from tool cost estimates (last, so
  batch tasks get theirs too);
* ``fusion``: execution units, several calls per Dask task (siblings, chains).

Every pass is linear in tasks plus references, returns a new graph (or the
same one when it changes nothing) and never modifies its input.

Each pass's docstring shows, as sqlglot's do, a plan before and after that
pass alone, with the tools of ``tests/plan/plan_catalogue.py`` (``search``:
batchable, 0.5 s; ``math``: 0.01 s; ``llm``: a GPU, 2 s; ``notify``: side
effects). What plan text cannot say is a comment: ``# $2 is $1`` (an alias),
``# batch of 1, 2``, ``# priority N``, ``# one Dask task: 1, 2, 3`` (a unit),
and before, ``# observed: $3`` (``graph.outputs``).
``tests/plan/test_pass_examples.py`` checks every example.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Callable, Collection, Iterator, Mapping

from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.plan.passes import batching, cse, dce, fusion, priorities
from llmcompiler_provider.plan.signature import ToolSignature

Pass = Callable[[TaskGraph, Mapping[str, ToolSignature]], TaskGraph]

PASSES: dict[str, Pass] = {
    "cse": cse.cse,
    "dce": dce.dce,
    "batching": batching.batching,
    "priorities": priorities.priorities,
    "fusion": fusion.fusion,
}


def check_pass_names(names: Collection[str]) -> None:
    """Raise ``ValueError`` naming the first unknown pass in ``names``."""
    for name in names:
        if name not in PASSES:
            raise ValueError(f"unknown optimizer pass {name!r}: choose from {', '.join(PASSES)}")


def optimize(
    graph: TaskGraph, catalogue: Mapping[str, ToolSignature], *, disabled: Collection[str] = ()
) -> TaskGraph:
    """Run every pass of ``PASSES`` except the ``disabled`` ones, in order."""
    check_pass_names(disabled)
    with collector_paused():
        for name, run in PASSES.items():
            if name not in disabled:
                graph = run(graph, catalogue)
    return graph


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while compiling or optimizing.

    Compiling allocates hundreds of thousands of small objects that all stay
    alive (the graph) and forms no reference cycles; the collector would walk the
    growing heap again and again for nothing (about a fifth of the time of a
    10k-task plan, half the fusion pass's). It is switched back on afterwards
    only if it was on, so nested pauses are one pause.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["PASSES", "Pass", "check_pass_names", "collector_paused", "optimize"]
