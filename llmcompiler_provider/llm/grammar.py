"""GBNF grammars that make a small model write only what the compiler accepts.

``plan_grammar(catalogue)`` admits exactly plans of the form::

    Thought: optional reasoning
    1. search("Eiffel Tower height")
    2. math("compare ${1} with this", [$1, 3.5])
    3. join()
    <END_OF_PLAN>

Task lines are numbered 1, 2, 3, ... in order; each names a registered tool with
an allowed number of positional arguments (string literals, numbers, lists, and
references ``$N`` / ``${N}`` to earlier tasks only); the plan ends with
``join()`` and ``<END_OF_PLAN>`` after at most ``max_tasks`` tool calls, so even
a tiny model cannot ramble forever.

``joiner_grammar()`` admits the LLMCompiler joiner's answer::

    Thought: the results agree
    Action: Finish(The tower is 330 m tall.)
"""

from __future__ import annotations

from typing import Mapping

from llmcompiler_provider.plan.lexer import END_OF_PLAN
from llmcompiler_provider.plan.signature import ToolSignature

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
    if tools:
        for step in range(1, max_tasks + 1):
            rules.extend(_call_rules(step, tools))
    return "root ::= step1\n" + "\n".join(rules) + "\n" + _SHARED_RULES + "\n"


def _step_rule(step: int, max_tasks: int, *, has_tools: bool) -> str:
    """Line ``step``: a tool call followed by the next step, or ``join()`` (compulsory after max_tasks calls)."""
    prefix = f'thought? "{step}. "'
    if step == max_tasks + 1 or not has_tools:
        return f"step{step} ::= {prefix} finish"
    if step == 1:  # a plan calls at least one tool
        return f'step1 ::= {prefix} call1 "\\n" step2'
    return f'step{step} ::= {prefix} (finish | call{step} "\\n" step{step + 1})'


def _call_rules(step: int, tools: list[ToolSignature]) -> list[str]:
    """The calls allowed on line ``step``, whose references may name lines before it only."""
    s = step
    # rule names are [a-z0-9-] only, so tools are named by position, not by (maybe unicode) name
    rules = [f"call{s} ::= " + " | ".join(f"tool{i}-{s}" for i in range(len(tools)))]
    rules.extend(f"tool{i}-{s} ::= {_call_body(tool, f'arg{s}')}" for i, tool in enumerate(tools))
    values = [f"str{s}", "number", f"list{s}"]
    earlier = " | ".join(f'"{i}"' for i in range(1, s))
    if earlier:
        rules.append(f'ref{s} ::= "$" ({earlier})')
        values.insert(0, f"ref{s}")
        rules.append(f'str{s} ::= "\\"" (strchar | "${{" ({earlier}) "}}")* "\\""')
    else:
        rules.append(f'str{s} ::= "\\"" strchar* "\\""')
    rules.append(f"arg{s} ::= " + " | ".join(values))
    rules.append(f'list{s} ::= "[" ws (arg{s} (sep arg{s})*)? ws "]"')
    return rules


def _call_body(tool: ToolSignature, arg: str) -> str:
    """``name(`` its required arguments, then up to its optional ones (any number if variadic) ``)``."""
    required = sum(1 for p in tool.params if p.required and not p.variadic)
    optional = sum(1 for p in tool.params if not p.required and not p.variadic)
    variadic = any(p.variadic for p in tool.params)
    args = _arg_list(arg, required, None if variadic else required + optional)
    return f'"{tool.name}(" {args} ")"' if args else f'"{tool.name}()"'


def _arg_list(arg: str, minimum: int, maximum: int | None) -> str:
    """Between ``minimum`` and ``maximum`` (None: no limit) comma-separated ``arg``s."""
    if maximum == 0:
        return ""
    more_min = max(minimum - 1, 0)
    more = [f"sep {arg}"] * more_min
    if maximum is None:
        more.append(f"(sep {arg})*")
    else:
        tail = ""
        for _ in range(maximum - 1 - more_min):
            tail = f"(sep {arg} {tail})?" if tail else f"(sep {arg})?"
        more.append(tail)
    sequence = " ".join([arg, *filter(None, more)])
    return sequence if minimum >= 1 else f"({sequence})?"


def joiner_grammar() -> str:
    """A GBNF grammar for the joiner: a thought, then ``Action: Finish(answer)`` or ``Action: Replan(reason)``.

    The answer may hold balanced parentheses one level deep; its closing ``)`` ends the output.
    """
    return (
        'root ::= "Thought: " line "\\n" "Action: " ("Finish" | "Replan") "(" body ")"\n'
        "line ::= [^\\n]+\n"
        'body ::= ([^()\\n] | "(" [^()\\n]* ")")+\n'
    )
