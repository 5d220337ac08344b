"""Incremental compilation: tasks come out the moment their line is complete."""

from __future__ import annotations

from typing import Collection, Mapping

from llmcompiler_provider.plan.analyzer import PlanAnalyzer
from llmcompiler_provider.plan.errors import Diagnostic, PlanError
from llmcompiler_provider.plan.ir import Task, TaskGraph
from llmcompiler_provider.plan.passes import check_pass_names, cse
from llmcompiler_provider.plan.repair import Repairer, plan_warnings
from llmcompiler_provider.plan.signature import ToolSignature


class PlanStream:
    """Compile a plan as it streams in, chunk by chunk (chunks may split lines anywhere).

    >>> stream = PlanStream(catalogue)                          # doctest: +SKIP
    >>> for chunk in llm_tokens:                                # doctest: +SKIP
    ...     for task in stream.feed(chunk):                     # ready to dispatch
    ...         dispatch(task)
    ...     if stream.done:                                     # join() was read
    ...         break
    >>> for task in stream.flush(): dispatch(task)              # doctest: +SKIP
    >>> graph = stream.close(require_join=True)                 # doctest: +SKIP

    * ``feed(chunk)`` returns the tasks completed by that chunk, fully analyzed
      (bound to their signature; resources, pure, cost, retries, timeout copied
      from it). A line completes at its newline.
    * A completed line with a problem raises ``PlanError`` at once (its
      ``diagnostics`` are that chunk's problems; its ``tasks`` are the tasks the
      same chunk completed, which are in ``graph`` as well). Feeding may go on
      after an error: later problems are reported by later calls.
    * ``flush()`` completes a last line that has no newline and returns its task;
      after ``join()``, a last line that is the start of ``<END_OF_PLAN>`` is the
      marker cut short, not an error.
    * ``close(require_join=False)`` flushes, then returns the graph; with
      ``require_join``, a plan without ``join()`` raises ``PlanError``. Nothing
      may be fed after ``close``.
    * ``optimize`` and ``disabled_passes`` are ``compile_plan``'s switches. Of the
      passes, only ``cse`` runs on a stream (its tasks are dispatched before the
      plan is complete), one task at a time as each line completes (its
      ``Merger``): an identical pure call to an earlier task is not returned,
      its id maps to the earlier id in ``graph.aliases``, and later references
      to it are rewritten, so the graph is the one ``compile_plan`` makes with
      only ``cse``.
    * ``repair`` is ``compile_plan``'s: the slips ``plan.repair`` lists are repaired,
      with the same graph and ``warnings`` (also in a ``PlanError``'s) as the whole
      text gives, wherever chunks split.
    * ``graph`` is the graph so far; ``done`` is True once ``join()`` was read;
      ``diagnostics`` lists every problem so far.
    """

    def __init__(
        self,
        catalogue: Mapping[str, ToolSignature],
        *,
        source: str = "<plan>",
        optimize: bool = True,
        disabled_passes: Collection[str] = (),
        prior_ids: Collection[int] = (),
        repair: bool = False,
    ) -> None:
        check_pass_names(disabled_passes)
        self._analyzer = PlanAnalyzer(catalogue, source=source, prior_ids=prior_ids)
        if optimize and "cse" not in disabled_passes:
            self._analyzer.merge = cse.Merger(self._analyzer.graph.aliases).merge
        self._repairer = Repairer(self._analyzer) if repair else None
        self._partial: list[str] = []  # pieces of the line not yet ended by a newline
        self._closed = False

    @property
    def graph(self) -> TaskGraph:
        return self._analyzer.graph

    @property
    def done(self) -> bool:
        return self._analyzer.done

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self._analyzer.diagnostics

    @property
    def warnings(self) -> list[Diagnostic]:
        """The warnings so far, as ``compile_plan`` gives them (repairs only with ``repair``)."""
        return plan_warnings(self._analyzer, self._repairer)

    @property
    def text(self) -> str:
        """The partial line not yet ended by a newline."""
        return "".join(self._partial)

    def feed(self, chunk: str) -> list[Task]:
        if self._closed:
            raise RuntimeError("this PlanStream is closed: nothing more can be fed")
        if "\n" not in chunk:
            if chunk:
                self._partial.append(chunk)
            return []
        lines = chunk.split("\n")
        self._partial.append(lines[0])
        lines[0] = "".join(self._partial)
        self._partial = [lines[-1]] if lines[-1] else []
        return self._analyze(lines[:-1])

    def flush(self) -> list[Task]:
        if not self._partial:
            return []
        line = "".join(self._partial)
        self._partial = []
        return self._analyze([line], last=True)

    def close(self, *, require_join: bool = False) -> TaskGraph:
        if not self._closed:
            self.flush()
            self._closed = True
            known = len(self.diagnostics)
            self._analyzer.finish(require_join=require_join)
            if len(self.diagnostics) > known:
                raise PlanError(self.diagnostics[known:], warnings=self.warnings)
        return self.graph

    def _analyze(self, lines: list[str], *, last: bool = False) -> list[Task]:
        analyzer = self._analyzer
        reader = self._repairer or analyzer  # what the lines go to
        known = len(analyzer.diagnostics)
        tasks = []
        for line in lines:
            if analyzer.gave_up:
                break
            task = reader.add_last_line(line) if last else reader.add_line(line)
            if task is not None:
                tasks.append(task)
        if len(analyzer.diagnostics) > known:
            raise PlanError(analyzer.diagnostics[known:], tasks, self.warnings)
        return tasks
