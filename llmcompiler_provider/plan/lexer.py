"""Tokens of one plan line, with literal values already converted.

One compiled regular expression splits a line into tokens in a single pass.
Problems inside a token (a bad escape, a number out of range) become ``ERROR``
tokens rather than exceptions, so the parser reports the leftmost problem of the
line first. Nothing here evaluates text as code: numbers go through ``int`` and
``float``, strings through an explicit escape table.
"""

from __future__ import annotations

import re

from llmcompiler_provider.plan.ast import RefUse
from llmcompiler_provider.plan.ir import Interp, Ref

#: largest magnitude of an integer literal, a task number or a reference
MAX_INT = 10**18
_MAX_INT_DIGITS = len(str(MAX_INT))

# Token kinds. A token is a plain tuple ``(kind, value, col, text, refs)`` (tuples are
# several times cheaper to build than objects, and a plan has many tokens):
#   kind   one of the constants below, or the punctuation character itself: ( ) [ ] { } , : =
#   value  the decoded literal (STR, NUM), the reference id (REF), the text (NAME, OTHER,
#          QUOTE, EOP), or the message (ERROR)
#   col    1-based column of the token's first character
#   text   the token's source text (for messages)
#   refs   STR only: the references inside the string, as ``RefUse``
STR, NUM, REF, NAME, EOP, QUOTE, OTHER, ERROR, END = (
    "STR", "NUM", "REF", "NAME", "EOP", "QUOTE", "OTHER", "ERROR", "END"
)
KIND, VALUE, COL, TEXT, REFS = range(5)
PUNCTUATION = "()[]{},:="
Token = tuple

_TOKEN = re.compile(
    r"""\s*(?:
      ([()\[\]{},:=])                                                   # 1 punctuation
    | ([^\W\d]\w*)                                                     # 2 name
    | ("[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')                # 3 string
    | (-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)             # 4 number
    | (\$\{[ \t]*[0-9]+[ \t]*\}|\$[0-9]+)                                 # 5 reference
    | (<END_OF_PLAN>)                                                   # 6
    | (\#.*)                                                            # 7 comment
    | (["'])                                                            # 8 unterminated string
    | (.)                                                               # 9 anything else
    )""",
    re.VERBOSE | re.DOTALL,
)
_PUNCT_GROUP, _NAME_GROUP, _STR_GROUP, _NUM_GROUP, _REF_GROUP, _EOP_GROUP, _COMMENT_GROUP, _QUOTE_GROUP = range(1, 9)

_STRING_PART = re.compile(
    r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|\$\{[ \t]*([0-9]+)[ \t]*\}|\$([0-9]+)",
    re.DOTALL,
)
_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
    "\\": "\\", "'": "'", '"': '"', "$": "$", "/": "/",
}


def shorten(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LexProblem(Exception):
    """A problem inside one token (turned into an ``ERROR`` token by ``tokenize``)."""

    def __init__(self, col: int, message: str) -> None:
        super().__init__(message)
        self.col = col
        self.message = message


def id_number(digits: str, col: int, what: str) -> int:
    """A task number or reference number, bounded by ``MAX_INT``."""
    if len(digits) > _MAX_INT_DIGITS or int(digits) > MAX_INT:
        raise LexProblem(col, f"{what} {shorten(digits)} is out of range (at most 10**18)")
    return int(digits)


def number_value(text: str, col: int) -> int | float:
    """An int or float literal; absurd magnitudes are errors, not huge objects or ``inf``."""
    if "." in text or "e" in text or "E" in text:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise LexProblem(col, f"number {shorten(text)} is out of range (it overflows a float)")
        return value
    digits = text.lstrip("-")
    if len(digits) > _MAX_INT_DIGITS or int(digits) > MAX_INT:
        raise LexProblem(col, f"number {shorten(text)} is out of range (integers must be within ±10**18)")
    return int(text)


def string_value(text: str, col: int) -> tuple[str | Interp, tuple[RefUse, ...]]:
    """Decode a quoted literal; ``$N``/``${N}`` inside it make an ``Interp``.

    Escapes: ``\\n \\t \\r \\b \\f \\v \\a \\\\ \\' \\" \\/``, ``\\xHH``, ``\\uHHHH``,
    ``\\UHHHHHHHH``, and ``\\$`` for a literal dollar sign; any other backslash is kept
    as written (as Python does), so Windows paths and regexes survive.
    """
    body = text[1:-1]
    if "\\" not in body and "$" not in body:
        return body, ()
    parts: list[str | Ref] = []
    refs: list[RefUse] = []
    chunk: list[str] = []
    pos = 0
    for match in _STRING_PART.finditer(body):
        chunk.append(body[pos : match.start()])
        pos = match.end()
        at = col + 1 + match.start()
        escape = match.group(1)
        if escape is not None:
            chunk.append(_escape_value(escape, at))
            continue
        ref_id = id_number(match.group(2) or match.group(3), at, "reference")
        if chunk:
            parts.append("".join(chunk))
            chunk = []
        parts.append(Ref(ref_id))
        refs.append(RefUse(ref_id, at))
    chunk.append(body[pos:])
    tail = "".join(chunk)
    if not refs:
        return tail, ()
    if tail:
        parts.append(tail)
    return Interp(tuple(p for p in parts if p != "")), tuple(refs)


def _escape_value(escape: str, col: int) -> str:
    if len(escape) > 1:  # \xHH, \uHHHH, \UHHHHHHHH
        code = int(escape[1:], 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise LexProblem(col, f"escape '\\{escape}' is not a valid unicode character")
        return chr(code)
    if escape in "xuU":
        digits = {"x": 2, "u": 4, "U": 8}[escape]
        raise LexProblem(col, f"escape '\\{escape}' needs {digits} hexadecimal digits")
    return _ESCAPES.get(escape, "\\" + escape)


def tokenize(line: str, start: int = 0) -> list[Token]:
    """The tokens of ``line`` from index ``start``, ending with an ``END`` token.

    A ``#`` outside a string starts a comment, which ends the line's tokens.
    Tokenizing stops at the first token that can only be an error (a stray
    character, an unterminated string, a bad literal): the parser reports the
    leftmost problem, and a hostile line cannot make the scan quadratic.
    """
    tokens: list[Token] = []
    append = tokens.append
    end = len(line.rstrip())  # trailing blanks would make the leading \s* backtrack
    for match in _TOKEN.finditer(line, start, end):
        group = match.lastindex
        text = match.group(group)
        if group == _PUNCT_GROUP:
            append((text, text, match.start(group) + 1, text))
        elif group == _NAME_GROUP:
            append((NAME, text, match.start(group) + 1, text))
        else:
            col = match.start(group) + 1
            try:
                if group == _STR_GROUP:
                    value, refs = string_value(text, col)
                    append((STR, value, col, text, refs))
                elif group == _NUM_GROUP:
                    append((NUM, number_value(text, col), col, text))
                elif group == _REF_GROUP:
                    append((REF, id_number(text.strip("${} \t"), col, "reference"), col, text))
                elif group == _EOP_GROUP:
                    append((EOP, text, col, text))
                elif group == _COMMENT_GROUP:
                    end = len(line[: col - 1].rstrip())
                    break
                else:
                    append((QUOTE if group == _QUOTE_GROUP else OTHER, text, col, text))
                    break
            except LexProblem as problem:
                append((ERROR, problem.message, problem.col, text))
                break
    append((END, "", end + 1, ""))
    return tokens
