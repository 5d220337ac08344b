"""GBNF grammars that make a small model write only what the compiler accepts.

``plan_grammar(catalogue)`` admits exactly plans of the form::

    Thought: optional reasoning
    1. search("Eiffel Tower height")
    2. math("compare ${1} with this", [$1, 3.5])
    3. join()
    <END_OF_PLAN>

Task lines are numbered 1, 2, 3, ... in order; each names a registered tool with
an allowed number of positional arguments and references ``$N`` / ``${N}`` to
earlier tasks only; the plan ends with ``join()`` and ``<END_OF_PLAN>`` after at
most ``max_tasks`` tool calls, so even a tiny model cannot ramble forever.

Each argument is a value of its parameter's type (``Param.type``, read from the
tool's hints, as the analyzer checks it): a ``str`` parameter takes strings
(with ``${N}`` inside) only, an ``int`` one integers, a ``list[str]`` one lists
of strings, a ``Literal`` one its values, and so on; an untyped one any string,
number or list. A bare ``$N`` is offered where some tool's declared result
could be of that type: the grammar cannot know which tool an earlier line
called, so the analyzer checks that ``$N``'s own tool fits.

``joiner_grammar()`` admits the LLMCompiler joiner's answer::

    Thought: the results agree
    Action: Finish(The tower is 330 m tall.)
"""

from __future__ import annotations

from typing import Mapping

from llmcompiler_provider.plan.lexer import END_OF_PLAN
from llmcompiler_provider.plan.signature import ToolSignature
from llmcompiler_provider.plan.types import (
    ANY_KIND, BOOL_KIND, FLOAT_KIND, INT_KIND, LIST_KIND, LITERAL_KIND, NONE_KIND, STR_KIND, UNION_KIND, ArgType,
    could_hold,
)

DEFAULT_MAX_TASKS = 12

_SHARED_RULES = r"""
thought ::= "Thought: " [^\n]+ "\n"
ws ::= " "?
sep ::= "," ws
number ::= "-"? [0-9]+ ("." [0-9]+)?
strchar ::= [^"\\$\x00-\x1f]
""".strip()


def plan_grammar(catalogue: Mapping[str, ToolSignature], *, max_tasks: int = DEFAULT_MAX_TASKS) -> str:
    """A GBNF grammar whose every sentence is a valid plan over ``catalogue``."""
    if max_tasks < 1:
        raise ValueError(f"max_tasks must be at least 1, not {max_tasks}")
    tools = [sig for name, sig in sorted(catalogue.items()) if name != "join"]
    rules = [_step_rule(step, max_tasks, has_tools=bool(tools)) for step in range(1, max_tasks + 2)]
    rules.append(f'finish ::= "join()\\n{END_OF_PLAN}"')
    shared: set[str] = set()
    if tools:
        for step in range(1, max_tasks + 1):
            rules.extend(_call_rules(step, tools, shared))
    extra = "".join(f"\n{_TYPED_SHARED_RULES[name]}" for name in sorted(shared))
    return "root ::= step1\n" + "\n".join(rules) + "\n" + _SHARED_RULES + extra + "\n"


def _step_rule(step: int, max_tasks: int, *, has_tools: bool) -> str:
    """Line ``step``: a tool call followed by the next step, or ``join()`` (compulsory after max_tasks calls)."""
    prefix = f'thought? "{step}. "'
    if step == max_tasks + 1 or not has_tools:
        return f"step{step} ::= {prefix} finish"
    if step == 1:  # a plan calls at least one tool
        return f'step1 ::= {prefix} call1 "\\n" step2'
    return f'step{step} ::= {prefix} (finish | call{step} "\\n" step{step + 1})'


def _call_rules(step: int, tools: list[ToolSignature], shared: set[str]) -> list[str]:
    """The calls allowed on line ``step``, whose references may name lines before it only."""
    s = step
    values = _TypedValues(step, [tool.returns for tool in tools], shared)
    # rule names are [a-z0-9-] only, so tools are named by position, not by (maybe unicode) name
    rules = [f"call{s} ::= " + " | ".join(f"tool{i}-{s}" for i in range(len(tools)))]
    rules.extend(f"tool{i}-{s} ::= {_call_body(tool, values)}" for i, tool in enumerate(tools))
    any_value = [f"str{s}", "number", f"list{s}"]
    earlier = " | ".join(f'"{i}"' for i in range(1, s))
    if earlier:
        rules.append(f'ref{s} ::= "$" ({earlier})')
        any_value.insert(0, f"ref{s}")
        rules.append(f'str{s} ::= "\\"" (strchar | "${{" ({earlier}) "}}")* "\\""')
    else:
        rules.append(f'str{s} ::= "\\"" strchar* "\\""')
    rules.append(f"arg{s} ::= " + " | ".join(any_value))
    rules.append(f'list{s} ::= "[" ws (arg{s} (sep arg{s})*)? ws "]"')
    return rules + values.rules


def _call_body(tool: ToolSignature, values: "_TypedValues") -> str:
    """``name(`` a value of its type for each parameter: the positional ones up to the last required one,
    then maybe the optional ones and any number for ``*args``, then required keyword-only ones ``name=``)."""
    params = list(tool.params)
    at = next((i for i, p in enumerate(params) if p.variadic), None)
    positional = params if at is None else params[:at]
    last_required = max((i for i, p in enumerate(positional) if p.required), default=-1)
    mandatory = [values.rule(p.type) for p in positional[: last_required + 1]]
    optional = [values.rule(p.type) for p in positional[last_required + 1 :]]
    variadic = None if at is None else values.rule(params[at].type)
    keywords = [f'"{p.name}=" {values.rule(p.type)}' for p in params[at + 1 :] if p.required] if at is not None else []
    args = _arguments(mandatory, optional, variadic, keywords)
    return f'"{tool.name}(" {args} ")"' if args else f'"{tool.name}()"'


def _arguments(mandatory: list[str], optional: list[str], variadic: str | None, keywords: list[str]) -> str:
    """Comma-separated: every ``mandatory`` value, then maybe the ``optional`` ones in order, then any
    number of ``variadic`` values, then every keyword argument."""
    if mandatory:
        first, rest, may_be_empty = mandatory[0], [f"sep {r}" for r in mandatory[1:]] + [_tail(optional, variadic)], False
    elif optional:
        first, rest, may_be_empty = optional[0], [_tail(optional[1:], variadic)], True
    elif variadic:
        first, rest, may_be_empty = variadic, [_tail([], variadic)], True
    else:
        first, rest, may_be_empty = "", [], True
    positional = " ".join(filter(None, [first, *rest]))
    named = " sep ".join(keywords)
    if not named:
        return f"({positional})?" if positional and may_be_empty else positional
    if not positional:
        return named
    return f"({positional} sep)? {named}" if may_be_empty else f"{positional} sep {named}"


def _tail(optional: list[str], variadic: str | None) -> str:
    """After a first value: maybe each ``optional`` one in order, each only after the one before, then
    any number of ``variadic`` values."""
    tail = f"(sep {variadic})*" if variadic else ""
    for rule in reversed(optional):
        tail = f"(sep {rule} {tail})?" if tail else f"(sep {rule})?"
    return tail


#: shared rules that typed parameters use (added to a grammar only when one does)
_TYPED_SHARED_RULES = {
    "int": 'int ::= "-"? [0-9]+',
    "bool": 'bool ::= "true" | "false"',
    "key": 'key ::= "\\"" strchar* "\\""',
}


class _TypedValues:
    """The rules for values of each parameter type on line ``step`` (``ty<n>-<step>``): literals of
    that type only, and a ``$N`` where some tool's declared result could be one."""

    def __init__(self, step: int, returns: list[ArgType], shared: set[str]) -> None:
        self.step = step
        self.returns = returns
        self.shared = shared
        self.rules: list[str] = []
        self._names: dict[tuple[ArgType, bool], str] = {}

    def rule(self, expected: ArgType, *, key: bool = False) -> str:
        """The name of the rule for a value (or, with ``key``, a dict key) of type ``expected``."""
        if expected.kind == ANY_KIND and not key:
            return f"arg{self.step}"  # the untyped value: any literal or reference
        name = self._names.get((expected, key))
        if name is None:
            name = self._names[(expected, key)] = f"ty{len(self._names)}-{self.step}"
            alternatives = self._alternatives(expected, key=key)
            if not key and self.step > 1 and any(could_hold(expected, r) for r in self.returns):
                alternatives.insert(0, f"ref{self.step}")
            self.rules.append(f"{name} ::= " + " | ".join(dict.fromkeys(alternatives) or ['"None"']))
        return name

    def _alternatives(self, expected: ArgType, *, key: bool) -> list[str]:
        kind, s = expected.kind, self.step
        if kind == UNION_KIND:
            return [alt for member in expected.items for alt in self._alternatives(member, key=key)]
        if kind == STR_KIND or kind == ANY_KIND:
            if key:
                self.shared.add("key")
            return ["key" if key else f"str{s}"]
        if kind == INT_KIND or kind == BOOL_KIND:
            self.shared.add(kind)
            return [kind]
        if kind == FLOAT_KIND:
            return ["number"]
        if kind == NONE_KIND:
            return ['"None"']
        if kind == LITERAL_KIND:
            return [text for text in map(_literal, expected.values) if text is not None]
        if key:  # a list or dict cannot be a key
            return []
        if kind == LIST_KIND:
            if expected.items[0].kind == ANY_KIND:
                return [f"list{s}"]
            item = self.rule(expected.items[0])
            return [f'"[" ws ({item} (sep {item})*)? ws "]"']
        k, v = self.rule(expected.items[0], key=True), self.rule(expected.items[1])
        return [f'"{{" ws ({k} ws ":" ws {v} (sep {k} ws ":" ws {v})*)? ws "}}"']


def _literal(value: object) -> str | None:
    """A ``Literal`` value as the GBNF literal of its plan text; None for a string the grammar's
    plain strings cannot write (quotes, backslashes, ``$``, control characters)."""
    if value is None or isinstance(value, bool):
        return {None: '"None"', True: '"true"', False: '"false"'}[value]
    if isinstance(value, int):
        return f'"{value}"'
    if any(c in value for c in '"\\$') or any(ord(c) < 0x20 for c in value):
        return None
    return '"\\"' + value + '\\""'


def joiner_grammar() -> str:
    """A GBNF grammar for the joiner: a thought, then ``Action: Finish(answer)`` or ``Action: Replan(reason)``.

    The answer may hold balanced parentheses one level deep; its closing ``)`` ends the output.
    """
    return (
        'root ::= "Thought: " line "\\n" "Action: " ("Finish" | "Replan") "(" body ")"\n'
        "line ::= [^\\n]+\n"
        'body ::= ([^()\\n] | "(" [^()\\n]* ")")+\n'
    )
