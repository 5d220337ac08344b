"""One plan line -> one ``ast`` node (recursive descent over the line's tokens).

The grammar of a line (after leading blanks)::

    line     := ""  |  "#" comment  |  "Thought:" text  |  "<END_OF_PLAN>"
              |  NUMBER "." call [ "<END_OF_PLAN>" ] [ "#" comment ]
              |  "join" "(" ")" [ "<END_OF_PLAN>" ] [ "#" comment ]
              |  prose                       (a Thought's continuation)
    call     := NAME "(" [ argument { "," argument } [ "," ] ] ")"
    argument := value  |  NAME "=" value
    value    := STRING | NUMBER | "$"N | "${"N"}" | true | false | True | False | None | null
              |  "[" [ value { "," value } [ "," ] ] "]"
              |  "{" [ key ":" value { "," key ":" value } [ "," ] ] "}"
    key      := STRING (without references) | NUMBER | true | false | True | False | None | null

Lists and dicts nest at most ``MAX_NESTING`` levels. Everything else (calls
inside arguments, attribute access, operators, bare names) is a syntax error:
a plan is data, never code.
"""

from __future__ import annotations

import re
from typing import Any

from llmcompiler_provider.plan.ast import Argument, Blank, Call, EndOfPlan, Line, Prose, RefUse, Thought
from llmcompiler_provider.plan.errors import PlanSyntaxError
from llmcompiler_provider.plan.ir import Ref
from llmcompiler_provider.plan.lexer import (
    END, END_OF_PLAN, EOP, NAME, NUM, OTHER, QUOTE, REF, STR, TokenError, id_number, kind_of, number_value,
    reference_id, shorten, string_value, token_columns, tokenize,
)

#: how deeply lists and dicts may nest inside an argument
MAX_NESTING = 64

LITERAL_NAMES = {"true": True, "True": True, "false": False, "False": False, "None": None, "null": None}
_OPERATORS = set("+-*/%@&|^~<>!?;`\\")
_BLANK = Blank()
_LITERAL_FIRST_CHAR = {'"': STR, "'": STR, "$": REF, "-": NUM, ".": NUM, **{digit: NUM for digit in "0123456789"}}
_SEPARATOR = "',' or "

#: a numbered line's start: ``N.`` and the blanks after it
NUMBERED = re.compile(r"\s*([0-9]+)\s*\.(?![0-9])\s*")
_THOUGHT = re.compile(r"\s*thought\s*:", re.IGNORECASE)
JOIN_CALL = re.compile(r"\s*join\s*\(")
_CALL_LIKE = re.compile(r"\s*[^\W\d]\w*\s*\(")


def parse_line(line: str) -> Line:
    """Parse one line (without its newline); raises ``PlanSyntaxError`` with a column."""
    nul = line.find("\0")
    if nul >= 0:
        raise PlanSyntaxError(nul + 1, "NUL byte in the plan: a plan is text")
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return _BLANK
    numbered = NUMBERED.match(line)
    if numbered:
        number_col = numbered.start(1) + 1
        try:
            number = id_number(numbered.group(1), "task number")
        except TokenError as error:
            raise PlanSyntaxError(number_col, error.message) from None
        return _CallParser(line, numbered.end()).call(number, number_col)
    first_col = len(line) - len(line.lstrip()) + 1
    thought = _THOUGHT.match(line)
    if thought:
        return Thought(line[thought.end() :].strip())
    if stripped == END_OF_PLAN:
        return EndOfPlan(first_col)
    if JOIN_CALL.match(line):
        return _CallParser(line, 0).call(None, first_col)
    return Prose(stripped, first_col, looks_like_call=bool(_CALL_LIKE.match(line)))


def _closed_string(token: str) -> bool:
    """Is a token that starts with a quote a whole string (not one left open to the end of the line)?"""
    return token[-1] == token[0] and (token[-2] != "\\" or kind_of(token) == STR)


class _CallParser:
    """Recursive descent over one line's tokens (see ``lexer``: token texts, ending with ``""``).

    Whoever meets the end token raises (or, after the call, returns), so nothing
    reads past it. Positions are token indexes until a message needs a column.
    """

    __slots__ = ("line", "start", "tokens", "pos", "refs")

    def __init__(self, line: str, start: int) -> None:
        self.line = line
        self.start = start
        self.tokens = tokenize(line, start)
        self.pos = 0
        self.refs: list[RefUse] = []

    # the line --------------------------------------------------------------------------
    def call(self, number: int | None, number_col: int) -> Call:
        try:
            return self._call(number, number_col)
        except PlanSyntaxError as error:
            error.task_number = number  # so the analyzer can silence references to this task
            raise

    def _call(self, number: int | None, number_col: int) -> Call:
        tokens = self.tokens
        tool = tokens[0]
        if kind_of(tool) != NAME:
            raise self.unexpected(0, "a tool call like 'search(...)' after the task number")
        if tokens[1] != "(":
            if tokens[1] == ".":
                raise self.error(1, "attribute access is not allowed in a plan: call a tool by its name")
            raise self.unexpected(1, f"'(' after the tool name '{shorten(tool)}'")
        self.pos = 2
        arguments = self.arguments()
        end_of_plan = self.pos if tokens[self.pos] == END_OF_PLAN else None
        if end_of_plan is not None:
            self.pos += 1
        if tokens[self.pos] != "":
            raise self.unexpected(self.pos, "the end of the line after the call", after_call=True)
        return Call(number, number_col, tool, arguments, self.refs, end_of_plan, self.line, self.start)

    def arguments(self) -> list[Argument]:
        arguments: list[Argument] = []
        tokens = self.tokens
        if tokens[self.pos] == ")":
            self.pos += 1
            return arguments
        keyword_seen = False
        while True:
            first = self.pos
            if tokens[first] and tokens[first + 1] == "=" and kind_of(tokens[first]) == NAME:
                self.pos += 2
                arguments.append(Argument(self.value(0), first, tokens[first]))
                keyword_seen = True
            else:
                if keyword_seen:
                    raise self.error(first, "positional argument after a keyword argument")
                arguments.append(Argument(self.value(0), first))
            separator = tokens[self.pos]
            self.pos += 1
            if separator == ")":
                return arguments
            if separator != ",":
                raise self.unexpected(self.pos - 1, _SEPARATOR + "')'")
            if tokens[self.pos] == ")":
                self.pos += 1
                return arguments

    # values ----------------------------------------------------------------------------
    def value(self, depth: int) -> Any:
        at = self.pos
        token = self.tokens[at]
        self.pos = at + 1
        kind = _LITERAL_FIRST_CHAR.get(token[:1])  # a quick guess for literals, else the exact kind
        if kind is None or len(token) == 1 or kind == STR and not _closed_string(token):
            kind = kind_of(token)
        try:
            if kind == STR:
                value, refs = string_value(token)
                if refs:
                    self.refs.extend([RefUse(ref_id, at, offset) for ref_id, offset in refs])
                return value
            if kind == NUM:
                return number_value(token)
            if kind == REF:
                ref_id = reference_id(token)
                self.refs.append(RefUse(ref_id, at))
                return Ref(ref_id)
        except TokenError as problem:
            raise self.error(at, problem.message, problem.offset) from None
        if kind == NAME:
            return self.name_value(at)
        if token == "[":
            return self.list_value(at, depth + 1)
        if token == "{":
            return self.dict_value(at, depth + 1)
        if token == "(":
            raise self.error(at, "parentheses are not allowed inside arguments: use [ ] for a list")
        raise self.unexpected(at, "a value")

    def name_value(self, at: int) -> Any:
        name = self.tokens[at]
        if name in LITERAL_NAMES:
            return LITERAL_NAMES[name]
        following = self.tokens[at + 1]
        if following == "(":
            raise self.error(at, f"calls are not allowed inside arguments: '{shorten(name)}(...)' is not a value")
        if following == ".":
            raise self.error(at + 1, "attribute access is not allowed in a plan")
        raise self.error(at, f"unquoted name '{shorten(name)}' is not a value: put text in quotes")

    def list_value(self, opening: int, depth: int) -> list[Any]:
        self.check_depth(opening, depth)
        items: list[Any] = []
        tokens = self.tokens
        while True:
            if tokens[self.pos] == "]":
                self.pos += 1
                return items
            items.append(self.value(depth))
            separator = tokens[self.pos]
            self.pos += 1
            if separator == "]":
                return items
            if separator != ",":
                raise self.unexpected(self.pos - 1, _SEPARATOR + "']'")

    def dict_value(self, opening: int, depth: int) -> dict[Any, Any]:
        self.check_depth(opening, depth)
        items: dict[Any, Any] = {}
        tokens = self.tokens
        while True:
            if tokens[self.pos] == "}":
                self.pos += 1
                return items
            key = self.dict_key()
            if tokens[self.pos] != ":":
                raise self.unexpected(self.pos, "':' after the dict key")
            self.pos += 1
            items[key] = self.value(depth)
            separator = tokens[self.pos]
            self.pos += 1
            if separator == "}":
                return items
            if separator != ",":
                raise self.unexpected(self.pos - 1, _SEPARATOR + "'}'")

    def dict_key(self) -> Any:
        at = self.pos
        token = self.tokens[at]
        self.pos = at + 1
        kind = kind_of(token)
        if kind == NAME:
            if token in LITERAL_NAMES:
                return LITERAL_NAMES[token]
            raise self.error(at, f"unquoted dict key '{shorten(token)}': put keys in quotes")
        if kind == REF:
            raise self.error(at, "a reference cannot be a dict key")
        if kind != STR and kind != NUM:
            raise self.unexpected(at, "a dict key")
        try:
            key, refs = string_value(token) if kind == STR else (number_value(token), None)
        except TokenError as problem:
            raise self.error(at, problem.message, problem.offset) from None
        if refs:
            raise self.error(at, "a dict key cannot contain references")
        return key

    # errors ----------------------------------------------------------------------------
    def check_depth(self, opening: int, depth: int) -> None:
        if depth > MAX_NESTING:
            raise self.error(opening, f"lists and dicts nest deeper than {MAX_NESTING} levels")

    def error(self, at: int, message: str, offset: int = 0) -> PlanSyntaxError:
        """A syntax error at token ``at`` (``offset`` characters into it)."""
        return PlanSyntaxError(token_columns(self.line, self.start)[at] + offset, message)

    def unexpected(self, at: int, expected: str, *, after_call: bool = False) -> PlanSyntaxError:
        """The error for token ``at`` found where ``expected`` should be."""
        token = self.tokens[at]
        kind = kind_of(token)
        if kind == QUOTE:
            return self.error(at, f"unterminated string: it needs a closing {token[0]} on the same line")
        if kind == END:
            if expected.startswith(_SEPARATOR):  # inside brackets: name the closing one
                return self.error(at, f"unexpected end of line: missing {expected[len(_SEPARATOR):]}")
            return self.error(at, f"unexpected end of line: expected {expected}")
        if kind == OTHER:
            if token == "$":
                return self.error(at, "'$' must be followed by a task number, as in $1 or ${1}")
            if token == ".":
                return self.error(at, "attribute access is not allowed in a plan")
            if token in _OPERATORS:
                return self.error(at, f"operator '{token}' is not allowed: arguments must be literals or $N references")
            return self.error(at, f"unexpected character {token!r}")
        if kind == EOP:
            return self.error(at, f"unexpected {END_OF_PLAN}: it may only follow join()")
        if after_call:
            return self.error(at, f"unexpected text after the call: '{shorten(token)}'")
        if token == "=":
            return self.error(at, f"unexpected '=': expected {expected}")
        return self.error(at, f"expected {expected}, found '{shorten(token)}'")
