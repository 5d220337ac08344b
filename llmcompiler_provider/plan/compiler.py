"""``compile_plan``: plan text -> optimized ``TaskGraph`` (lexer, parser, analyzer, passes)."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Collection, Iterator, Mapping

from llmcompiler_provider.plan import passes
from llmcompiler_provider.plan.analyzer import PlanAnalyzer
from llmcompiler_provider.plan.errors import PlanError
from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.plan.signature import ToolSignature


def compile_plan(
    text: str,
    catalogue: Mapping[str, ToolSignature],
    *,
    source: str = "<plan>",
    optimize: bool = True,
    disabled_passes: Collection[str] = (),
    outputs: Collection[int] | None = None,
    prior_ids: Collection[int] = (),
    require_join: bool = False,
) -> TaskGraph:
    """Compile a whole plan.

    Raises ``PlanError`` listing every problem found (each ``FILE:LINE:COL: error:
    MESSAGE`` with ``FILE`` = ``source``). ``outputs`` are the task ids whose
    results are observed (``None``: all; dead-task elimination needs it).
    ``prior_ids`` are ids of earlier plans' tasks that this plan may reference
    (a replan). With ``require_join``, a plan that does not end with ``join()``
    is an error. ``optimize=False`` skips every pass; ``disabled_passes`` names
    passes of ``PASSES`` to skip.
    """
    passes.check_pass_names(disabled_passes)
    with _collector_paused():
        analyzer = PlanAnalyzer(catalogue, source=source, prior_ids=prior_ids)
        lines = text.split("\n")
        for line in lines[:-1]:
            analyzer.add_line(line)
            if analyzer.gave_up:
                break
        else:
            analyzer.add_last_line(lines[-1])
        analyzer.finish(require_join=require_join)
        if analyzer.diagnostics:
            raise PlanError(analyzer.diagnostics)
        graph = analyzer.graph
        if outputs is not None:
            unknown = sorted(set(outputs) - set(graph.tasks))
            if unknown:
                raise ValueError(f"outputs name tasks the plan does not have: {', '.join(map(str, unknown))}")
            graph.outputs = frozenset(outputs)
        if optimize:
            graph = passes.optimize(graph, catalogue, disabled=disabled_passes)
        return graph


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while compiling.

    Compiling allocates hundreds of thousands of small objects that all stay
    alive (the graph) and forms no reference cycles; the collector would walk the
    growing heap again and again for nothing (about a fifth of the time of a
    10k-task plan). It is switched back on afterwards only if it was on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
