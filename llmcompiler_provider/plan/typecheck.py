"""The check of a plan's arguments against the types of its tools' parameters (``plan.types``).

``ArgumentChecker.check`` takes a call's bound arguments and reports, with the
column of the argument, each one its parameter's type does not accept: a literal
of another type, a bare ``$N`` whose tool declares a result of another type, a
string with references inside where no ``str`` is accepted. A string where a
number is expected is read as that number only when it is a plain number
(``"42"``, ``"-2.5"``, no spaces, exponents or separators), with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from llmcompiler_provider.plan.ir import Interp, Ref
from llmcompiler_provider.plan.types import (
    ANY, ANY_KIND, BOOL_KIND, DICT_KIND, FLOAT_KIND, INT_KIND, LIST_KIND, LITERAL_KIND, NONE_KIND, STR_KIND,
    UNION_KIND, ArgType, could_hold, describe, plan_text,
)

# checking a value ----------------------------------------------------------------------
_PLAIN_INT = re.compile(r"[-+]?[0-9]+")
_PLAIN_FLOAT = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?|[-+]?\.[0-9]+")


class _Mismatch(Exception):
    def __init__(self, found: str, where: str) -> None:
        super().__init__(found)
        self.found = found
        self.where = where


class _Check:
    """One argument's check: the value with plain-number strings converted, and what was converted."""

    def __init__(self, producer: Callable[[int], tuple[str, ArgType] | None], *, convert: bool = True) -> None:
        self.producer = producer  # task id -> (tool, declared return type), None when unknown
        self.convert = convert
        self.converted: list[tuple[str, str, Any]] = []  # (where, the string, the number)

    def value(self, value: Any, expected: ArgType, where: str) -> Any:
        kind = expected.kind
        if kind == ANY_KIND:
            return value
        cls = value.__class__
        if cls is str and kind == STR_KIND:  # the common case first
            return value
        if kind == UNION_KIND:
            return self._union(value, expected, where)
        if cls is Ref:
            produced = self.producer(value.id)
            if produced is None or could_hold(expected, produced[1]):
                return value
            raise _Mismatch(f"${value.id}, the {produced[1]} that {produced[0]}() returns", where)
        if cls is Interp:
            if kind == STR_KIND:
                return value
            raise _Mismatch("a string with references inside", where)
        if kind == LITERAL_KIND:
            if any(v == value and type(v) is cls for v in expected.values):
                return value
        elif kind == LIST_KIND and cls is list:
            return self._items(value, expected.items[0], where)
        elif kind == DICT_KIND and cls is dict:
            return self._dict(value, expected, where)
        elif cls is bool:
            if kind == BOOL_KIND:
                return value
        elif cls is int and (kind == INT_KIND or kind == FLOAT_KIND):
            return value
        elif (cls is float and kind == FLOAT_KIND) or (value is None and kind == NONE_KIND):
            return value
        elif cls is str and self.convert and (kind == INT_KIND or kind == FLOAT_KIND):
            plain = _PLAIN_INT if kind == INT_KIND else _PLAIN_FLOAT
            if plain.fullmatch(value):
                number = int(value) if kind == INT_KIND else float(value)
                self.converted.append((where, value, number))
                return number
        raise _Mismatch(describe(value), where)

    def _union(self, value: Any, expected: ArgType, where: str) -> Any:
        exact = _Check(self.producer, convert=False)
        for member in expected.items:  # a member that takes the value as it is wins over a conversion
            try:
                return exact.value(value, member, where)
            except _Mismatch:
                pass
        if self.convert:
            for member in expected.items:
                converted = len(self.converted)
                try:
                    return self.value(value, member, where)
                except _Mismatch:
                    del self.converted[converted:]  # a list member may have converted some items first
        if value.__class__ is Ref and self.producer(value.id) is not None:
            tool, produced = self.producer(value.id)  # type: ignore[misc]
            raise _Mismatch(f"${value.id}, the {produced} that {tool}() returns", where)
        raise _Mismatch("a string with references inside" if value.__class__ is Interp else describe(value), where)

    def _items(self, value: list, item: ArgType, where: str) -> list:
        if item.kind == ANY_KIND:
            return value
        checked = [self.value(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return value if all(a is b for a, b in zip(checked, value)) else checked

    def _dict(self, value: dict, expected: ArgType, where: str) -> dict:
        key_type, value_type = expected.items
        changed = False
        checked = {}
        for key, item in value.items():
            new_key = self.value(key, key_type, f"{where} key {plan_text(key)}")
            new_item = self.value(item, value_type, f"{where}[{plan_text(key)}]")
            changed = changed or new_key is not key or new_item is not item
            checked[new_key] = new_item
        return checked if changed else value


# checking a call -----------------------------------------------------------------------
@dataclass
class Checked:
    """A call's arguments after the check: ``bound`` (None after an error), with ``errors``
    and ``warnings`` as ``(column, message)``."""

    bound: tuple[tuple, dict] | None
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _ToolTypes:
    """What checking a tool's calls needs, computed once per tool."""

    positional: tuple[str, ...]  # the parameters a positional argument may give, in order
    types: dict[str, ArgType]  # the parameters that check something (not ``Any``)
    variadic: str | None  # the ``*args`` parameter
    variadic_type: ArgType

    @property
    def checks_nothing(self) -> bool:
        return not self.types and self.variadic_type.kind == ANY_KIND


class ArgumentChecker:
    """Checks the calls of one plan; ``produced`` maps each task id of the plan to its tool
    (``producer`` gives the type it returns; tasks of earlier plans are not known)."""

    def __init__(self, catalogue: Mapping[str, Any]) -> None:
        self.catalogue = catalogue
        self.produced: dict[int, str] = {}
        self._tools: dict[str, _ToolTypes] = {}

    def producer(self, task_id: int) -> tuple[str, ArgType] | None:
        tool = self.produced.get(task_id)
        return None if tool is None else (tool, self.catalogue[tool].returns)

    def check(self, call: Any, bound: tuple[tuple, dict]) -> Checked:
        """Check the arguments ``bound`` of ``call`` (an ``ast.Call``; ``bound`` as ``Task`` holds them)."""
        tool = self._tool_types(call.tool)
        if tool.checks_nothing:
            return Checked(bound)
        args, kwargs = bound
        result = Checked(bound)
        check = _Check(self.producer)
        new_args = []
        for index, value in enumerate(args):
            if index < len(tool.positional):
                name = tool.positional[index]
                expected = tool.types.get(name, ANY)
            else:  # an extra value for ``*args``
                name, expected = tool.variadic, tool.variadic_type
            new_args.append(self._argument(call, tool, check, result, name, expected, value, index))
        new_kwargs = {
            name: self._argument(call, tool, check, result, name, tool.types.get(name, ANY), value, None)
            for name, value in kwargs.items()
        }
        if result.errors:
            result.bound = None
        elif check.converted:
            result.bound = (tuple(new_args), new_kwargs)
        return result

    def _argument(self, call, tool: _ToolTypes, check: _Check, result: Checked, name: str, expected: ArgType,
                  value: Any, index: int | None) -> Any:
        """``value`` checked against ``expected`` (converted maybe); a problem goes to ``result``."""
        if expected.kind == ANY_KIND:
            return value
        converted = len(check.converted)
        try:
            value = check.value(value, expected, name)
        except _Mismatch as mismatch:
            at = "" if mismatch.where == name else f" at {mismatch.where}"
            message = f"{call.tool}() argument '{name}' expects {expected}, found {mismatch.found}{at}"
            result.errors.append((_column(call, tool, name, index), message))
            return value
        for where, text, number in check.converted[converted:]:
            at = "" if where == name else f" at {where}"
            message = (f"{call.tool}() argument '{name}' expects {expected}: the string {plan_text(text)}{at} "
                       f"is read as the number {number!r}")
            result.warnings.append((_column(call, tool, name, index), message))
        return value

    def _tool_types(self, name: str) -> _ToolTypes:
        found = self._tools.get(name)
        if found is None:
            params = self.catalogue[name].params
            at = next((i for i, p in enumerate(params) if p.variadic), None)
            found = self._tools[name] = _ToolTypes(
                positional=tuple(p.name for p in (params if at is None else params[:at])),
                types={p.name: p.type for p in params if not p.variadic and p.type.kind != ANY_KIND},
                variadic=None if at is None else params[at].name,
                variadic_type=ANY if at is None else params[at].type,
            )
        return found


def _column(call: Any, tool: _ToolTypes, name: str, index: int | None) -> int:
    """The column of the argument that gave parameter ``name``: positional argument ``index``, or
    (``index`` None) the keyword argument ``name`` or the positional one at ``name``'s place."""
    if index is None:
        keyword = next((a for a in call.arguments if a.name == name), None)
        if keyword is not None:
            return call.col(keyword.token)
        index = tool.positional.index(name) if name in tool.positional else None
    given = [a for a in call.arguments if a.name is None]
    return call.col(given[index].token) if index is not None and index < len(given) else call.tool_col
