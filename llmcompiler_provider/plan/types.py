"""Argument types: what a tool's parameters accept and what it returns, as plain data.

The tool registry reads each parameter's ``ArgType`` and the return type from
the tool's real Python type hints (``hint_types``), not from their text;
``Param.annotation`` keeps that text for prompts. The analyzer checks a plan's
arguments against them (``plan.typecheck``), and the planner's grammar admits
only values of the right type (``llm.grammar``).

The types are what a plan can write: ``str``, ``int``, ``float``, ``bool``,
``None``, lists (``list``, ``tuple``, ``set``, ``Sequence``, ... with an element
type) and dicts (``dict``, ``Mapping``, ... with key and value types), and
``Optional``, ``Union``, ``Literal``, ``Annotated`` of them. ``Any``, a missing
hint and every other class (a plan cannot write one) accept anything; an ``int``
is a ``float`` too, a ``bool`` is no number.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from llmcompiler_provider.plan.ir import Ref
from llmcompiler_provider.plan.lexer import shorten

# kinds of ArgType
ANY_KIND, STR_KIND, INT_KIND, FLOAT_KIND, BOOL_KIND, NONE_KIND = "any", "str", "int", "float", "bool", "None"
LIST_KIND, DICT_KIND, UNION_KIND, LITERAL_KIND = "list", "dict", "union", "literal"


@dataclass(frozen=True)
class ArgType:
    """A type a plan's value can be checked against.

    ``items`` holds a list's element type, a dict's key and value types, or a
    union's members; ``values`` a ``Literal``'s values.
    """

    kind: str
    items: tuple["ArgType", ...] = ()
    values: tuple[Any, ...] = ()

    def __str__(self) -> str:
        if self.kind == LIST_KIND:
            return "list" if self.items[0].kind == ANY_KIND else f"list[{self.items[0]}]"
        if self.kind == DICT_KIND:
            key, value = self.items
            return "dict" if key.kind == value.kind == ANY_KIND else f"dict[{key}, {value}]"
        if self.kind == UNION_KIND:
            return " | ".join(map(str, self.items))
        if self.kind == LITERAL_KIND:
            return " | ".join(plan_text(v) for v in self.values)
        return "Any" if self.kind == ANY_KIND else self.kind


ANY = ArgType(ANY_KIND)
STR, INT, FLOAT, BOOL, NONE = (ArgType(k) for k in (STR_KIND, INT_KIND, FLOAT_KIND, BOOL_KIND, NONE_KIND))
ANY_LIST = ArgType(LIST_KIND, (ANY,))
ANY_DICT = ArgType(DICT_KIND, (ANY, ANY))

_SIMPLE = {str: STR, int: INT, float: FLOAT, bool: BOOL, type(None): NONE, None: NONE, object: ANY}
_ABC = collections.abc
_LISTS = (list, tuple, set, frozenset, _ABC.Sequence, _ABC.MutableSequence, _ABC.Iterable, _ABC.Collection,
          _ABC.Set, _ABC.MutableSet)
_DICTS = (dict, _ABC.Mapping, _ABC.MutableMapping)


def list_of(item: ArgType) -> ArgType:
    return ANY_LIST if item == ANY else ArgType(LIST_KIND, (item,))


def dict_of(key: ArgType, value: ArgType) -> ArgType:
    return ANY_DICT if key == value == ANY else ArgType(DICT_KIND, (key, value))


def union_of(members: Iterable[ArgType]) -> ArgType:
    """One type accepting what any member accepts (``Any`` if one does; nested unions flattened)."""
    flat: list[ArgType] = []
    for member in members:
        for item in member.items if member.kind == UNION_KIND else (member,):
            if item.kind == ANY_KIND:
                return ANY
            if item not in flat:
                flat.append(item)
    return flat[0] if len(flat) == 1 else ArgType(UNION_KIND, tuple(flat))


def type_of_hint(hint: Any) -> ArgType:
    """The ``ArgType`` of a resolved Python type hint (what ``typing.get_type_hints`` gives)."""
    simple = _SIMPLE.get(hint, False) if _hashable(hint) else False
    if simple is not False:
        return simple
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return type_of_hint(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return union_of(type_of_hint(arg) for arg in args)
    if origin is typing.Literal:
        if all(v is None or type(v) in (str, int, bool) for v in args):
            return ArgType(LITERAL_KIND, values=tuple(args))
        return ANY
    if hasattr(hint, "__supertype__"):  # typing.NewType
        return type_of_hint(hint.__supertype__)
    container = origin or hint
    if container in _DICTS:
        return dict_of(*(type_of_hint(a) for a in args)) if len(args) == 2 else ANY_DICT
    if container in _LISTS:
        if container is tuple and args and args[-1] is not Ellipsis:
            return list_of(union_of(type_of_hint(a) for a in args))  # tuple[int, str]: a list of either
        return list_of(type_of_hint(args[0])) if args and args[0] is not Ellipsis else ANY_LIST
    return ANY  # Any, a TypeVar, any other class: a plan cannot write one, so nothing is checked


def _hashable(hint: Any) -> bool:
    try:
        hash(hint)
    except TypeError:
        return False
    return True


def hint_types(fn: Callable[..., Any]) -> tuple[dict[str, ArgType], ArgType]:
    """Each parameter's ``ArgType`` and the return type, from ``fn``'s real type hints.

    Hints are resolved with ``typing.get_type_hints`` (string annotations too). When
    it cannot (a name that does not resolve, a ``functools.partial``, an object with
    ``__call__``), each hint ``inspect.signature`` sees is resolved on its own, and
    one that still does not resolve accepts anything.
    """
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable forward references, callables it cannot read
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return {}, ANY
        hints = {p.name: p.annotation for p in signature.parameters.values()}
        hints["return"] = signature.return_annotation
        namespace = getattr(inspect.unwrap(fn), "__globals__", None) or {}
        hints = {name: _resolved(hint, namespace) for name, hint in hints.items()}
    found = {
        name: ANY if hint is inspect.Parameter.empty or isinstance(hint, str) else type_of_hint(hint)
        for name, hint in hints.items()
    }
    return found, found.pop("return", ANY)


def _resolved(hint: Any, namespace: dict[str, Any]) -> Any:
    """A string hint evaluated in its module's namespace, as ``typing.get_type_hints`` does;
    ``inspect.Parameter.empty`` when it does not resolve."""
    if not isinstance(hint, str):
        return hint
    try:
        return eval(hint, dict(namespace))  # noqa: S307 - the tool module's own annotation text
    except Exception:  # noqa: BLE001 - a name that does not exist (yet)
        return inspect.Parameter.empty


# compatibility -------------------------------------------------------------------------
def could_hold(expected: ArgType, produced: ArgType) -> bool:
    """May a value of type ``produced`` (a tool's declared result) be one ``expected`` accepts?"""
    if expected.kind == ANY_KIND or produced.kind == ANY_KIND:
        return True
    if produced.kind == UNION_KIND:
        return any(could_hold(expected, member) for member in produced.items)
    if expected.kind == UNION_KIND:
        return any(could_hold(member, produced) for member in expected.items)
    if produced.kind == LITERAL_KIND:
        return any(_accepts_literal(expected, value) for value in produced.values)
    if expected.kind == LITERAL_KIND:
        return any(_kind_of(value) == produced.kind for value in expected.values)
    if expected.kind == FLOAT_KIND and produced.kind == INT_KIND:
        return True
    if expected.kind != produced.kind:
        return False
    return all(could_hold(e, p) for e, p in zip(expected.items, produced.items))


def _accepts_literal(expected: ArgType, value: Any) -> bool:
    """Does ``expected`` accept the ``Literal`` value ``value`` (a str, int, bool or None)?"""
    kind = expected.kind
    if kind == UNION_KIND:
        return any(_accepts_literal(member, value) for member in expected.items)
    if kind == LITERAL_KIND:
        return any(v == value and type(v) is type(value) for v in expected.values)
    return kind == ANY_KIND or kind == _kind_of(value) or (kind == FLOAT_KIND and type(value) is int)


def _kind_of(value: Any) -> str:
    return {str: STR_KIND, int: INT_KIND, bool: BOOL_KIND, float: FLOAT_KIND}.get(type(value), NONE_KIND)


def describe(value: Any) -> str:
    """A literal as an error message names it: ``the int 4``, ``the string "x"``, ``a list``."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a bool)"
    if isinstance(value, (int, float)):
        return f"the {type(value).__name__} {plan_text(value)}"
    if isinstance(value, str):
        return f"the string {plan_text(value)}"
    if isinstance(value, Ref):
        return f"${value.id}"
    return {list: "a list", dict: "a dict"}.get(type(value), type(value).__name__)


def plan_text(value: Any) -> str:
    """A literal as a plan writes it, shortened for a message."""
    if isinstance(value, str):
        return '"' + shorten(value) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return shorten(repr(value))
