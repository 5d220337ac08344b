"""Semantic analysis: plan lines, one at a time, checked against the tool catalogue.

``PlanAnalyzer.add_line`` parses one line, checks it (task ids, tool names,
arguments and their types (``plan.typecheck``), references, what may follow
``join()``), records every problem as a ``Diagnostic``, and returns the
finished ``Task`` when the line completes one.
Both ``compile_plan`` and ``PlanStream`` drive it, so whole-text and streamed
compilation accept exactly the same plans. It only analyzes: optimizing is the
passes' work (``PlanStream`` hands each finished task to the ``cse`` pass's
``Merger`` through ``merge``).
"""

from __future__ import annotations

import difflib
from typing import Callable, Collection, Mapping

from llmcompiler_provider.plan.ast import Argument, Blank, Call, EndOfPlan, Prose, Thought
from llmcompiler_provider.plan.errors import MAX_ERRORS, Diagnostic, PlanSyntaxError
from llmcompiler_provider.plan.ir import Interp, Span, Task, TaskGraph
from llmcompiler_provider.plan.lexer import shorten
from llmcompiler_provider.plan.parser import END_OF_PLAN, parse_line
from llmcompiler_provider.plan.signature import ToolSignature
from llmcompiler_provider.plan.typecheck import ArgumentChecker

# where the plan is: before join(), after join(), after <END_OF_PLAN>
_PLANNING, _JOINED, _ENDED = "planning", "joined", "ended"
#: the most characters one argument's literal may hold (strings' characters, one per other value)
MAX_ARGUMENT_CHARS = 64 * 1024
_NO_DEPS: frozenset[int] = frozenset()  # shared by every task without references (one object, not thousands)


def did_you_mean(name: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def literal_size(value: object, limit: int) -> int:
    """The characters of a literal's strings plus one per other value, counted until past ``limit``."""
    size, pending = 0, [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, Interp):
            pending.extend(item.parts)
        elif isinstance(item, (list, tuple)):
            size += 1
            pending.extend(item)
        elif isinstance(item, dict):
            size += 1
            pending.extend(item)
            pending.extend(item.values())
        else:  # a number, true/false/None, a reference
            size += 1
    return size


class _Binder:
    """How a tool's parameters take a call's arguments (computed once per tool)."""

    __slots__ = ("tool", "positional", "variadic", "order", "names", "required", "template")

    def __init__(self, tool: str, signature: ToolSignature) -> None:
        self.tool = tool
        # what every call of the tool copies from its signature; a task is this with the call's own fields
        self.template = Task(
            id=0,
            tool=tool,
            resources=dict(signature.resources),
            retries=signature.retries,
            timeout=signature.timeout,
            pure=signature.pure,
            cost=signature.cost,
        )
        variadic_at = next((i for i, p in enumerate(signature.params) if p.variadic), None)
        named = [p for p in signature.params if not p.variadic]
        self.variadic = variadic_at is not None
        before = signature.params if variadic_at is None else signature.params[:variadic_at]
        self.positional = tuple(p.name for p in before)
        self.order = tuple(p.name for p in named)
        self.names = frozenset(self.order)
        self.required = tuple(p.name for p in named if p.required)


class PlanAnalyzer:
    """The state of one plan being compiled, line by line.

    ``prior_ids`` are task ids of earlier plans (a replan continues their
    numbering): references to them are allowed, and new ids must be larger.
    ``merge``, when set, sees each finished task before it joins the graph and
    returns the task to add (its references maybe rewritten), or None to leave
    it out (``cse.Merger.merge``, which records the task's id as an alias).
    """

    def __init__(
        self,
        catalogue: Mapping[str, ToolSignature],
        *,
        source: str = "<plan>",
        prior_ids: Collection[int] = (),
    ) -> None:
        self.catalogue = catalogue
        self.source = source
        self.graph = TaskGraph(source=source)
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []  # accepted with a change: a plain-number string read as a number
        self.line_no = 0
        self.prior_ids = frozenset(prior_ids)
        self.max_prior = max(self.prior_ids, default=0)
        self.last_id = self.max_prior
        self.defined: dict[int, int] = {}  # task id -> line number (tasks of this plan)
        self.broken: set[int] = set()  # ids of tasks with errors: references to them are not reported again
        self.stage = _PLANNING
        self.thought: list[str] = []  # Thought text waiting for the next task
        self.in_thought = False
        self.merge: Callable[[Task], Task | None] | None = None
        self._binders: dict[str, _Binder] = {}
        self._types = ArgumentChecker(catalogue)

    @property
    def done(self) -> bool:
        return self.stage != _PLANNING

    @property
    def gave_up(self) -> bool:
        return len(self.diagnostics) > MAX_ERRORS

    # lines -----------------------------------------------------------------------------
    def add_line(self, text: str) -> Task | None:
        """Analyze the next line; returns the task it completes, if any."""
        self.line_no += 1
        if text.endswith("\r"):
            text = text[:-1]
        try:
            node = parse_line(text)
        except PlanSyntaxError as error:
            if self.stage != _PLANNING:
                self._after_end(len(text) - len(text.lstrip()) + 1)
            else:
                self.error(error.col, error.message)
                if error.task_number is not None and error.task_number > self.last_id:
                    self.defined[error.task_number] = self.line_no
                    self.broken.add(error.task_number)
                    self.last_id = error.task_number
            self.in_thought = False
            return None
        if node.__class__ is Blank:
            return None
        if self.stage != _PLANNING:
            if node.__class__ is EndOfPlan and self.stage == _JOINED:
                self.stage = _ENDED
            else:
                self._after_end(len(text) - len(text.lstrip()) + 1)
            return None
        if node.__class__ is Call:
            self.in_thought = False
            if node.is_join:
                self._join(node)
                return None
            return self._task(node)
        if node.__class__ is Thought:
            self._add_thought(node.text, new=True)
        elif node.__class__ is Prose:
            self._prose(node)
        else:  # EndOfPlan before join()
            self.error(node.col, f"{END_OF_PLAN} before join(): end the plan with join() first")
        return None

    def add_last_line(self, text: str) -> Task | None:
        """Analyze a last line that no newline ended (the text stopped there).

        After ``join()``, the start of ``<END_OF_PLAN>`` is the marker cut short
        (a planner's stop sequence, or a reader that stopped at join()), not an error.
        """
        stripped = text.strip()
        if self.stage == _JOINED and stripped and END_OF_PLAN.startswith(stripped):
            self.line_no += 1
            return None
        return self.add_line(text)

    def finish(self, *, require_join: bool = False) -> None:
        """The text has ended: with ``require_join``, a plan without ``join()`` is an error."""
        if require_join and not self.graph.has_join and not self.gave_up:
            self.error(1, "the plan does not end with join()", line=max(self.line_no, 1))

    def error(self, col: int, message: str, *, line: int | None = None) -> None:
        if len(self.diagnostics) < MAX_ERRORS:
            self.diagnostics.append(Diagnostic(self.source, line or self.line_no, col, message))
        elif len(self.diagnostics) == MAX_ERRORS:
            self.diagnostics.append(
                Diagnostic(self.source, line or self.line_no, 1, f"too many errors ({MAX_ERRORS}); stopping here")
            )

    def _after_end(self, col: int) -> None:
        if self.stage == _JOINED:
            self.error(col, "text after join(): join() must be the last action of the plan")
        else:
            self.error(col, f"text after {END_OF_PLAN}: the plan has ended")

    def _add_thought(self, text: str, *, new: bool) -> None:
        self.in_thought = True
        if not text:
            return
        if new or not self.thought:
            self.thought.append(text)
        else:
            self.thought[-1] = f"{self.thought[-1]} {text}" if self.thought[-1] else text
        if not self.graph.tasks and not self.graph.has_join:
            self.graph.thought = "\n".join(self.thought)

    def _prose(self, node: Prose) -> None:
        if node.looks_like_call:
            self.error(node.col, "missing task number: write each action as 'N. tool(...)'")
        elif self.in_thought:
            self._add_thought(node.text, new=False)
        else:
            self.error(
                node.col,
                f"expected a numbered action like '1. tool(...)', a 'Thought:' line or join(), "
                f"found '{shorten(node.text)}'",
            )

    # join ------------------------------------------------------------------------------
    def _join(self, call: Call) -> None:
        if call.number is not None:
            self._check_number(call)
        if call.arguments:
            self.error(call.col(call.arguments[0].token), "join() takes no arguments")
        self.graph.has_join = True
        self.stage = _JOINED if call.end_of_plan is None else _ENDED
        self.thought = []

    # tasks -----------------------------------------------------------------------------
    def _task(self, call: Call) -> Task | None:
        errors_before = len(self.diagnostics)
        number = call.number
        number_ok = self._check_number(call)
        if call.end_of_plan is not None:
            self.error(call.col(call.end_of_plan), f"{END_OF_PLAN} may only follow join()")
        signature = self.catalogue.get(call.tool)
        if signature is None:
            hint = did_you_mean(call.tool, [*self.catalogue, "join"])
            self.error(call.tool_col, f"unknown tool '{shorten(call.tool)}'{hint}")
        refs_ok = self._check_refs(call)
        bound = self._bind(call, signature) if signature is not None else None
        if bound is not None and len(call.line) > MAX_ARGUMENT_CHARS:  # a shorter line holds no longer literal
            self._check_sizes(call, bound)
        if bound is not None:
            bound = self._typed(call, bound)
        failed = len(self.diagnostics) > errors_before or not refs_ok or bound is None
        if number_ok:
            self.defined[number] = self.line_no
            self.last_id = number
        if failed:
            if number_ok:
                self.broken.add(number)
            return None
        args, kwargs = bound
        thought = "\n".join(self.thought) if self.thought else None
        self.thought = []
        template = self._binders[call.tool].template
        task = template.with_(
            id=number,
            args=args,
            kwargs=kwargs,
            thought=thought,
            span=Span(self.line_no, call.number_col),
            resources=dict(template.resources),  # each task its own, as a new Task would have
        )
        self._types.produced[number] = call.tool  # what a bare $N of this task is checked as
        # the parser found the references already: seed Task.deps's cache
        task.__dict__["deps"] = frozenset([ref.id for ref in call.refs]) if call.refs else _NO_DEPS
        if self.merge is not None:
            task = self.merge(task)
            if task is None:
                return None
        self.graph.tasks[number] = task
        return task

    def _check_sizes(self, call: Call, bound: tuple[tuple, dict]) -> None:
        """Report an argument holding more than ``MAX_ARGUMENT_CHARS``: a plan passes short literals."""
        args, kwargs = bound
        for value in (*args, *kwargs.values()):
            if literal_size(value, MAX_ARGUMENT_CHARS) > MAX_ARGUMENT_CHARS:
                self.error(
                    call.tool_col,
                    f"an argument of {call.tool}() holds more than {MAX_ARGUMENT_CHARS:,} characters, "
                    "the limit for a plan's literals: pass large data from a task's result ($N) instead",
                )
                return

    def _typed(self, call: Call, bound: tuple[tuple, dict]) -> tuple[tuple, dict] | None:
        """``bound`` checked against the parameters' types (plain-number strings read as numbers, with a
        warning); None after reporting an argument of the wrong type."""
        checked = self._types.check(call, bound)
        for col, message in checked.errors:
            self.error(col, message)
        if len(self.warnings) < MAX_ERRORS:
            self.warnings.extend(Diagnostic(self.source, self.line_no, col, text, severity="warning")
                                 for col, text in checked.warnings)
        return checked.bound

    def _check_number(self, call: Call) -> bool:
        """Is the task number new and larger than every earlier one? (reports why not)"""
        number, col = call.number, call.number_col
        if number == 0:
            self.error(col, "task ids start at 1")
            return False
        if number > self.last_id:
            return True
        if number in self.defined:
            self.error(col, f"duplicate task id {number} (already used on line {self.defined[number]})")
        elif number in self.prior_ids or number <= self.max_prior:
            self.error(col, f"task id {number} belongs to an earlier plan: continue after {self.max_prior}")
        else:
            self.error(col, f"task id {number} comes after task {self.last_id}: ids must increase")
            self.broken.add(number)
        return False

    def _check_refs(self, call: Call) -> bool:
        """Report references to nothing, to this task or to later tasks; False if any is bad."""
        ok = True
        number = call.number
        for ref in call.refs:
            rid = ref.id
            if rid < number and (rid in self.defined and rid not in self.broken or rid in self.prior_ids):
                continue
            ok = False
            problem = self._reference_problem(rid, number)
            if problem:
                self.error(call.col(ref.token, ref.offset), problem)
        return ok

    def _reference_problem(self, rid: int, number: int) -> str | None:
        if rid == 0:
            return "$0 refers to no task: task ids start at 1"
        if rid == number:
            return f"task {number} cannot use its own result ${rid}"
        if rid > number:
            return f"${rid} refers to task {rid}, which comes later: a task can only use earlier results"
        if rid in self.broken:
            return None  # that task's own error is reported already
        return f"${rid} refers to no task: there is no task {rid} before this line"

    def _bind(self, call: Call, signature: ToolSignature) -> tuple[tuple, dict] | None:
        """Arguments -> (args, kwargs) as documented on ``Task``; None after reporting a problem."""
        binder = self._binders.get(call.tool)
        if binder is None:
            binder = self._binders[call.tool] = _Binder(call.tool, signature)
        tool = call.tool
        given: dict[str, object] = {}
        extra: list[object] = []
        ok = True
        positional = binder.positional
        for index, argument in enumerate(call.arguments):
            name = argument.name
            if name is None:
                if index < len(positional):
                    given[positional[index]] = argument.value
                elif binder.variadic:
                    extra.append(argument.value)
                else:
                    count = len(positional)
                    self.error(
                        call.col(argument.token),
                        f"too many arguments: {tool}() takes {count} positional argument{'s' * (count != 1)} "
                        f"but {sum(a.name is None for a in call.arguments)} were given",
                    )
                    return None
            elif name not in binder.names:
                hint = did_you_mean(name, binder.order)
                self.error(call.col(argument.token), f"unknown keyword argument '{shorten(name)}' for {tool}(){hint}")
                ok = False
            elif name in given:
                self.error(call.col(argument.token), _repeated(tool, name, call.arguments, argument))
                ok = False
            else:
                given[name] = argument.value
        for name in binder.required if ok else ():  # after a misspelt keyword, "missing" would say it twice
            if name not in given:
                self.error(call.tool_col, f"{tool}() is missing its required argument '{name}'")
                ok = False
        if not ok:
            return None
        if extra:
            args = tuple(given.pop(name) for name in positional) + tuple(extra)
            return args, {name: given[name] for name in binder.order if name in given}
        if tuple(given) == binder.order[: len(given)]:  # the usual call: given in the signature's order
            return (), given
        return (), {name: given[name] for name in binder.order if name in given}


def _repeated(tool: str, name: str, arguments: list[Argument], argument: Argument) -> str:
    earlier_keyword = any(a.name == name for a in arguments if a is not argument and a.token < argument.token)
    if earlier_keyword:
        return f"{tool}() got the keyword argument '{name}' twice"
    return f"{tool}() got multiple values for argument '{name}'"
