"""The compiled form of a plan: a typed task graph (no Dask, no LLM, no Airflow).

Arguments are plain literals (str, int, float, bool, None, list, dict) in which
references may appear:

* ``Ref(n)``: a bare ``$n``; the executor passes task ``n``'s result object itself.
* ``Interp(("height of ", Ref(1), "")):`` a string with references inside; the
  executor joins the parts, rendering each referenced result as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Collection, Iterator


@dataclass(frozen=True)
class Ref:
    """A bare reference to task ``id``'s result."""

    id: int

    def __repr__(self) -> str:
        return f"${self.id}"


@dataclass(frozen=True)
class Interp:
    """A string literal with references interpolated as text."""

    parts: tuple[Any, ...]  # str | Ref

    def __repr__(self) -> str:
        return '"' + "".join(p if isinstance(p, str) else f"${{{p.id}}}" for p in self.parts) + '"'


def _collect_ref_ids(value: Any, found: set[int]) -> None:
    """Add the id of every reference inside ``value`` to ``found``, depth first."""
    if isinstance(value, Ref):
        found.add(value.id)
    elif isinstance(value, Interp):
        found.update(part.id for part in value.parts if isinstance(part, Ref))
    elif isinstance(value, (list, tuple)):
        for item in value:
            if not isinstance(item, (str, int, float)):
                _collect_ref_ids(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            if not isinstance(item, (str, int, float)):
                _collect_ref_ids(item, found)


#: the classes of values that hold no reference (``map_refs`` returns them as they are)
_LITERALS = frozenset({str, int, float, bool, type(None)})


def map_refs(value: Any, fn) -> Any:
    """Rebuild ``value`` with every ``Ref`` replaced by ``fn(ref)``."""
    if value.__class__ in _LITERALS:
        return value  # the common case first, and checked before each item below (no call for it)
    if isinstance(value, Ref):
        return fn(value)
    if isinstance(value, Interp):
        return Interp(tuple([fn(p) if isinstance(p, Ref) else p for p in value.parts]))
    if isinstance(value, list):
        return [v if v.__class__ in _LITERALS else map_refs(v, fn) for v in value]
    if isinstance(value, tuple):
        return tuple([v if v.__class__ in _LITERALS else map_refs(v, fn) for v in value])
    if isinstance(value, dict):
        return {k: v if v.__class__ in _LITERALS else map_refs(v, fn) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Span:
    """Where something is in the plan text (1-based line and column)."""

    line: int
    col: int


@dataclass(frozen=True)
class Task:
    """One tool call of the plan; ``id`` is the plan's task number.

    ``args``/``kwargs`` are already bound to the tool's signature by the analyzer,
    so the executor always calls ``fn(*args, **kwargs)``:

    * ``kwargs`` holds every argument the plan gave, by parameter name, in the
      signature's order; parameters the plan left out are absent (the tool's
      defaults apply).
    * ``args`` is empty, except when the call passes extra positional values to a
      ``*args`` parameter: then ``args`` holds the values of every parameter
      before ``*args`` in order followed by the extra values, and ``kwargs`` only
      the keyword-only parameters after ``*args``.
    * A batch task (``batch_of`` non-empty, made by the batching pass) has
      ``kwargs == {"calls": [kwargs of each member, in batch_of order]}`` for the
      tool's batch implementation, which returns one result per member.

    ``resources``, ``pure``, ``cost``, ``retries`` and ``timeout`` are copied from
    the tool's ``ToolSignature``; ``priority`` is set by the priorities pass.
    """

    id: int
    tool: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    thought: str | None = None
    span: Span | None = None
    resources: dict[str, float] = field(default_factory=dict)
    priority: int = 0
    retries: int = 0
    timeout: float | None = None
    pure: bool = True
    cost: float = 1.0
    # batching: a task that stands for several calls of a batchable tool.
    batch_of: tuple[int, ...] = ()

    @cached_property
    def deps(self) -> frozenset[int]:
        """Ids referenced by the arguments (computed once: a task never changes)."""
        found: set[int] = set()
        _collect_ref_ids(self.args, found)
        _collect_ref_ids(self.kwargs, found)
        return frozenset(found)

    def with_(self, **changes: Any) -> "Task":
        """A copy with ``changes`` (like ``dataclasses.replace``, several times faster)."""
        if not _TASK_FIELDS.issuperset(changes):
            raise TypeError(f"Task has no field {sorted(changes.keys() - _TASK_FIELDS)[0]!r}")
        state = self.__dict__.copy()  # one allocation of the right size (filling an empty dict resizes it)
        state.update(changes)
        if "args" in changes or "kwargs" in changes:
            state.pop("deps", None)  # recomputed from the new arguments
        copy = object.__new__(self.__class__)
        object.__setattr__(copy, "__dict__", state)  # frozen: set through object, as dataclasses do
        return copy


_TASK_FIELDS = frozenset(Task.__dataclass_fields__)


def call_key(task: Task) -> tuple:
    """A hashable key equal for two tasks exactly when they make the same call."""
    args = _frozen(task.args) if task.args else ()
    # keyword names are strings: only the values need freezing
    kwargs = [(name, v if v.__class__ is str else _frozen(v)) for name, v in task.kwargs.items()]
    return (task.tool, args, *kwargs)


def _frozen(value: Any) -> Any:
    """``value`` as a hashable that equals another's only for the same types and values.

    Built of strings and tuples only, so hashing and comparing it runs in C: a
    string stands for itself, anything else becomes a tuple tagged with its type
    (``1 == 1.0 == True`` in Python, and ``Ref``/``Interp`` hash in Python code).
    """
    kind = value.__class__
    if kind is str:
        return value
    if kind is Ref:
        return (Ref, value.id)
    if kind is float:
        return (float, repr(value))  # 0.0 and -0.0 stay apart
    if kind is dict:
        return (dict, tuple([(_frozen(k), v if v.__class__ is str else _frozen(v)) for k, v in value.items()]))
    if kind is list or kind is tuple:
        return (kind, tuple([v if v.__class__ is str else _frozen(v) for v in value]))
    if kind is Interp:
        return (Interp, tuple([p if p.__class__ is str else (Ref, p.id) for p in value.parts]))
    return (kind, value)  # int, bool, None


def units_without(
    units: list[tuple[int, ...]] | None, removed: Collection[int]
) -> list[tuple[int, ...]] | None:
    """``TaskGraph.units`` with the ``removed`` task ids left out (and units left empty dropped)."""
    if units is None:
        return None
    kept = [tuple(i for i in unit if i not in removed) for unit in units]
    return [unit for unit in kept if unit]


@dataclass
class TaskGraph:
    """An ordered graph of tasks, ready for dispatch.

    ``tasks`` iterates in dependency order (every task after the tasks it
    references); ids increase along it until the batching pass reorders by depth.
    A task's ``deps`` may name ids that are not keys of ``tasks``: batch members
    other than the first, and tasks of earlier plans (``compile_plan(prior_ids=)``);
    ``resolve`` gives the task that computes a member's result.
    ``aliases`` maps a task id removed by an optimizer pass to the id whose result
    stands for it (common-subexpression elimination, batching).
    ``outputs`` are the ids whose results the joiner observes (``None``: all).
    ``units`` partitions task ids into execution units (one Dask task each);
    ``None`` means one unit per task.
    """

    tasks: dict[int, Task] = field(default_factory=dict)
    aliases: dict[int, int] = field(default_factory=dict)
    outputs: frozenset[int] | None = None
    units: list[tuple[int, ...]] | None = None
    thought: str | None = None
    has_join: bool = False
    source: str = "<plan>"

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks.values())

    def __len__(self) -> int:
        return len(self.tasks)

    def resolve(self, task_id: int) -> int:
        """The id whose result stands for ``task_id`` after optimization."""
        target = self.aliases.get(task_id)
        if target is None or target not in self.aliases:  # the common cases: no alias, or one step
            return task_id if target is None else target
        seen = set()
        while task_id in self.aliases and task_id not in seen:
            seen.add(task_id)
            task_id = self.aliases[task_id]
        return task_id

    def dependents(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {tid: [] for tid in self.tasks}
        for task in self.tasks.values():
            for dep in task.deps:
                out.setdefault(dep, []).append(task.id)
        return out

    def copy(self, **changes: Any) -> "TaskGraph":
        return replace(self, tasks=dict(self.tasks), aliases=dict(self.aliases), **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used by ``llmcompiler compile --format json``)."""
        return {
            "source": self.source,
            "tasks": [
                {
                    "id": t.id,
                    "tool": t.tool,
                    "args": [to_jsonable(a) for a in t.args],
                    "kwargs": {k: to_jsonable(v) for k, v in t.kwargs.items()},
                    "deps": sorted(t.deps),
                    "resources": dict(t.resources),
                    "priority": t.priority,
                    "retries": t.retries,
                    "timeout": t.timeout,
                    "pure": t.pure,
                    "thought": t.thought,
                    "batch_of": list(t.batch_of),
                    "line": t.span.line if t.span else None,
                }
                for t in self.tasks.values()
            ],
            "aliases": {str(k): v for k, v in self.aliases.items()},
            "units": [list(u) for u in self.units] if self.units is not None else None,
        }


def to_jsonable(value: Any) -> Any:
    """Literals stay literals; references become ``"$N"`` / interpolated ``"...${N}..."`` text."""
    if isinstance(value, (Ref, Interp)):
        return repr(value).strip('"') if isinstance(value, Interp) else f"${value.id}"
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value
