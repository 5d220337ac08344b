"""``compile_plan``: plan text -> optimized ``TaskGraph`` (lexer, parser, analyzer, repair, passes)."""

from __future__ import annotations

from typing import Collection, Mapping

from llmcompiler_provider.plan import passes
from llmcompiler_provider.plan.analyzer import PlanAnalyzer
from llmcompiler_provider.plan.errors import Diagnostic, PlanError
from llmcompiler_provider.plan.ir import TaskGraph
from llmcompiler_provider.plan.repair import Repairer, plan_warnings
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
    repair: bool = False,
    warnings: list[Diagnostic] | None = None,
) -> TaskGraph:
    """Compile a whole plan.

    Raises ``PlanError`` listing every problem found (each ``FILE:LINE:COL: error:
    MESSAGE`` with ``FILE`` = ``source``). ``outputs`` are the task ids whose
    results are observed (``None``: all; dead-task elimination needs it).
    ``prior_ids`` are ids of earlier plans' tasks that this plan may reference
    (a replan). With ``require_join``, a plan that does not end with ``join()``
    is an error. ``optimize=False`` skips every pass; ``disabled_passes`` names
    passes of ``PASSES`` to skip.

    With ``repair``, the slips ``plan.repair`` lists are repaired instead of
    rejected; without it the plan compiles exactly as written. ``warnings``, when
    given, receives the plan's warnings (``FILE:LINE:COL: warning: MESSAGE``
    ``Diagnostic`` s, in line order): each repair, and each plain-number string the
    analyzer read as a number. A ``PlanError`` holds them too, as ``warnings``.
    """
    passes.check_pass_names(disabled_passes)
    with passes.collector_paused():  # the whole compile, not only the passes
        graph = _analyzed(text, catalogue, source, prior_ids, require_join=require_join, repair=repair,
                          warnings=warnings)
        if outputs is not None:
            unknown = sorted(set(outputs) - graph.tasks.keys() - graph.aliases.keys())
            if unknown:
                raise ValueError(f"outputs name tasks the plan does not have: {', '.join(map(str, unknown))}")
            graph.outputs = frozenset(outputs)
        if optimize:
            graph = passes.optimize(graph, catalogue, disabled=disabled_passes)
        return graph


def _analyzed(
    text: str,
    catalogue: Mapping[str, ToolSignature],
    source: str,
    prior_ids: Collection[int],
    *,
    require_join: bool,
    repair: bool,
    warnings: list[Diagnostic] | None,
) -> TaskGraph:
    """The plan's graph before the passes (``PlanError`` for a plan with problems).

    The analyzer and what only it holds (its tables of ids and of each tool's
    binding) are garbage once the graph is made: dropping them
    here, not at the end of ``compile_plan``, means the collector, switched back
    on at the end, does not scan them first (after a 10k-task plan it scans 61k
    objects instead of 136k).
    """
    analyzer = PlanAnalyzer(catalogue, source=source, prior_ids=prior_ids)
    repairer = Repairer(analyzer) if repair else None
    reader = repairer or analyzer  # what the lines go to
    lines = text.split("\n")
    for line in lines[:-1]:
        reader.add_line(line)
        if analyzer.gave_up:
            break
    else:
        reader.add_last_line(lines[-1])
    analyzer.finish(require_join=require_join)
    made = plan_warnings(analyzer, repairer)
    if warnings is not None:
        warnings.extend(made)
    if analyzer.diagnostics:
        raise PlanError(analyzer.diagnostics, warnings=made)
    return analyzer.graph
