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
from llmcompiler_provider.plan.ir import Interp, Ref
from llmcompiler_provider.plan.lexer import (
    END, EOP, ERROR, NAME, NUM, OTHER, QUOTE, REF, STR, LexProblem, Token, id_number, shorten, tokenize,
)

#: how deeply lists and dicts may nest inside an argument
MAX_NESTING = 64

END_OF_PLAN = "<END_OF_PLAN>"
LITERAL_NAMES = {"true": True, "True": True, "false": False, "False": False, "None": None, "null": None}
_OPERATORS = set("+-*/%@&|^~<>!?;`\\")
_BLANK = Blank()
EXPECT_SEPARATOR = "',' or "

_NUMBERED = re.compile(r"\s*([0-9]+)\s*\.(?![0-9])\s*")
_THOUGHT = re.compile(r"\s*thought\s*:", re.IGNORECASE)
_JOIN = re.compile(r"\s*join\s*\(")
_CALL_LIKE = re.compile(r"\s*[^\W\d]\w*\s*\(")


def parse_line(line: str) -> Line:
    """Parse one line (without its newline); raises ``PlanSyntaxError`` with a column."""
    nul = line.find("\0")
    if nul >= 0:
        raise PlanSyntaxError(nul + 1, "NUL byte in the plan: a plan is text")
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return _BLANK
    first_col = len(line) - len(line.lstrip()) + 1
    numbered = _NUMBERED.match(line)
    if numbered:
        number_col = numbered.start(1) + 1
        try:
            number = id_number(numbered.group(1), number_col, "task number")
        except LexProblem as problem:
            raise PlanSyntaxError(problem.col, problem.message) from None
        return _parse_call(line, numbered.end(), number, number_col)
    thought = _THOUGHT.match(line)
    if thought:
        return Thought(line[thought.end() :].strip())
    if stripped == END_OF_PLAN:
        return EndOfPlan(first_col)
    if _JOIN.match(line):
        return _parse_call(line, 0, None, first_col)
    return Prose(stripped, first_col, looks_like_call=bool(_CALL_LIKE.match(line)))


def _parse_call(line: str, start: int, number: int | None, number_col: int) -> Call:
    parser = _CallParser(tokenize(line, start))
    try:
        return parser.call(number, number_col)
    except PlanSyntaxError as error:
        error.task_number = number  # so the analyzer can silence references to this task
        raise


class _CallParser:
    """Recursive descent over one line's tokens (see ``lexer`` for the token tuples).

    The last token is ``END``; whoever meets it raises (or, after the call, returns),
    so nothing reads past it.
    """

    __slots__ = ("tokens", "pos", "refs")

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.refs: list[RefUse] = []

    def next(self) -> Token:
        # Every caller raises on END, so reading never goes past it.
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def peek_kind(self, ahead: int = 0) -> str:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)][0]

    # the line --------------------------------------------------------------------------
    def call(self, number: int | None, number_col: int) -> Call:
        tool = self.next()
        if tool[0] is not NAME:
            raise unexpected(tool, "a tool call like 'search(...)' after the task number")
        opening = self.next()
        if opening[0] != "(":
            if opening[0] is OTHER and opening[1] == ".":
                raise PlanSyntaxError(opening[2], "attribute access is not allowed in a plan: call a tool by its name")
            raise unexpected(opening, f"'(' after the tool name '{shorten(tool[1])}'")
        arguments = self.arguments()
        after = self.next()
        end_of_plan = False
        if after[0] is EOP:
            end_of_plan = True
            after = self.next()
        if after[0] is not END:
            raise unexpected(after, "the end of the line after the call", after_call=True)
        return Call(number, number_col, tool[1], tool[2], arguments, self.refs, end_of_plan)

    def arguments(self) -> list[Argument]:
        arguments: list[Argument] = []
        if self.peek_kind() == ")":
            self.pos += 1
            return arguments
        keyword_seen = False
        tokens = self.tokens
        while True:
            first = tokens[self.pos]
            if first[0] is NAME and self.peek_kind(1) == "=":
                self.pos += 2
                arguments.append(Argument(self.value(0), first[2], first[1]))
                keyword_seen = True
            else:
                if keyword_seen:
                    raise PlanSyntaxError(first[2], "positional argument after a keyword argument")
                arguments.append(Argument(self.value(0), first[2]))
            separator = self.next()
            kind = separator[0]
            if kind == ")":
                return arguments
            if kind != ",":
                raise unexpected(separator, EXPECT_SEPARATOR + "')'")
            if self.peek_kind() == ")":
                self.pos += 1
                return arguments

    # values ----------------------------------------------------------------------------
    def value(self, depth: int) -> Any:
        token = self.tokens[self.pos]
        self.pos += 1
        kind = token[0]
        if kind is STR:
            if token[4]:
                self.refs.extend(token[4])
            return token[1]
        if kind is NUM:
            return token[1]
        if kind is REF:
            self.refs.append(RefUse(token[1], token[2]))
            return Ref(token[1])
        if kind is NAME:
            return self.name_value(token)
        if kind == "[":
            return self.list_value(token, depth + 1)
        if kind == "{":
            return self.dict_value(token, depth + 1)
        if kind == "(":
            raise PlanSyntaxError(token[2], "parentheses are not allowed inside arguments: use [ ] for a list")
        raise unexpected(token, "a value")

    def name_value(self, token: Token) -> Any:
        name = token[1]
        if name in LITERAL_NAMES:
            return LITERAL_NAMES[name]
        following = self.tokens[self.pos]
        if following[0] == "(":
            raise PlanSyntaxError(token[2], f"calls are not allowed inside arguments: '{shorten(name)}(...)' is not a value")
        if following[0] is OTHER and following[1] == ".":
            raise PlanSyntaxError(following[2], "attribute access is not allowed in a plan")
        raise PlanSyntaxError(token[2], f"unquoted name '{shorten(name)}' is not a value: put text in quotes")

    def list_value(self, opening: Token, depth: int) -> list[Any]:
        check_depth(opening, depth)
        items: list[Any] = []
        while True:
            if self.peek_kind() == "]":
                self.pos += 1
                return items
            items.append(self.value(depth))
            separator = self.next()
            if separator[0] == "]":
                return items
            if separator[0] != ",":
                raise unexpected(separator, EXPECT_SEPARATOR + "']'")

    def dict_value(self, opening: Token, depth: int) -> dict[Any, Any]:
        check_depth(opening, depth)
        items: dict[Any, Any] = {}
        while True:
            if self.peek_kind() == "}":
                self.pos += 1
                return items
            key = self.dict_key()
            colon = self.next()
            if colon[0] != ":":
                raise unexpected(colon, "':' after the dict key")
            items[key] = self.value(depth)
            separator = self.next()
            if separator[0] == "}":
                return items
            if separator[0] != ",":
                raise unexpected(separator, EXPECT_SEPARATOR + "'}'")

    def dict_key(self) -> Any:
        token = self.next()
        kind, value, col = token[0], token[1], token[2]
        if kind is STR:
            if isinstance(value, Interp):
                raise PlanSyntaxError(col, "a dict key cannot contain references")
            return value
        if kind is NUM:
            return value
        if kind is NAME:
            if value in LITERAL_NAMES:
                return LITERAL_NAMES[value]
            raise PlanSyntaxError(col, f"unquoted dict key '{shorten(value)}': put keys in quotes")
        if kind is REF:
            raise PlanSyntaxError(col, "a reference cannot be a dict key")
        raise unexpected(token, "a dict key")


def check_depth(opening: Token, depth: int) -> None:
    if depth > MAX_NESTING:
        raise PlanSyntaxError(opening[2], f"lists and dicts nest deeper than {MAX_NESTING} levels")


def unexpected(token: Token, expected: str, *, after_call: bool = False) -> PlanSyntaxError:
    """The error for ``token`` found where ``expected`` should be."""
    kind, value, col, text = token[0], token[1], token[2], token[3]
    if kind is ERROR:
        return PlanSyntaxError(col, value)
    if kind is QUOTE:
        return PlanSyntaxError(col, f"unterminated string: it needs a closing {value} on the same line")
    if kind is END:
        if expected.startswith(EXPECT_SEPARATOR):  # inside brackets: name the closing one
            return PlanSyntaxError(col, f"unexpected end of line: missing {expected[len(EXPECT_SEPARATOR):]}")
        return PlanSyntaxError(col, f"unexpected end of line: expected {expected}")
    if kind is OTHER:
        if value == "$":
            return PlanSyntaxError(col, "'$' must be followed by a task number, as in $1 or ${1}")
        if value == ".":
            return PlanSyntaxError(col, "attribute access is not allowed in a plan")
        if value in _OPERATORS:
            return PlanSyntaxError(col, f"operator '{value}' is not allowed: arguments must be literals or $N references")
        return PlanSyntaxError(col, f"unexpected character {value!r}")
    if kind is EOP:
        return PlanSyntaxError(col, f"unexpected {END_OF_PLAN}: it may only follow join()")
    if after_call:
        return PlanSyntaxError(col, f"unexpected text after the call: '{shorten(text)}'")
    if kind == "=":
        return PlanSyntaxError(col, f"unexpected '=': expected {expected}")
    return PlanSyntaxError(col, f"expected {expected}, found '{shorten(text)}'")
