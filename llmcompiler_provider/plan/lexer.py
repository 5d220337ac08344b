"""Tokens of one plan line, and the conversion of literal tokens to values.

``tokenize`` is one ``findall`` of one compiled regular expression: the C regex
engine splits the line and returns the tokens' texts, with no Python code run
per token (a plan has hundreds of thousands of tokens; building match objects
and positions for each would cost several times the whole lexing). A token's
kind follows from its first character (``kind_of``), and its column is found
only when a message needs one (``token_columns``). The parser converts literal
tokens with ``string_value`` / ``number_value`` / ``reference_id`` as it meets
them, so the leftmost problem of a line is the one reported. Nothing here
evaluates text as code: numbers go through ``int`` and ``float``, strings
through an explicit escape table.

The token list ends with ``""`` (the end of the line). Punctuation is a token
whose text is one of ``( ) [ ] { } , : =``; no other token can have such text.
"""

from __future__ import annotations

import re

from llmcompiler_provider.plan.ir import Interp, Ref

#: largest magnitude of an integer literal, a task number or a reference
MAX_INT = 10**18
_MAX_INT_DIGITS = len(str(MAX_INT))

# token kinds
END, PUNCT, NAME, STR, QUOTE, NUM, REF, EOP, OTHER = range(9)
END_OF_PLAN = "<END_OF_PLAN>"

_TOKEN = re.compile(
    r"""\s*+(
      [()\[\]{},:=]                                               # punctuation
    | [^\W\d]\w*                                                  # name
    | "[^"\\]*(?:\\.[^"\\]*)*" | '[^'\\]*(?:\\.[^'\\]*)*'           # string
    | -?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?      # number
    | \$\{[ \t]*[0-9]+[ \t]*\} | \$[0-9]+                          # reference
    | <END_OF_PLAN>
    | \#.*                                                        # comment: the rest of the line
    | ["'].*                                                      # unterminated string: the rest
    | .                                                           # anything else, one character
    )""",
    re.VERBOSE | re.DOTALL,
)
_STRING = re.compile(r""""[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*'""", re.DOTALL)
_FIRST_CHAR_KIND = {
    **{c: PUNCT for c in "()[]{},:="},
    **{c: STR for c in "\"'"},
    **{c: NUM for c in "0123456789"},
    "-": NUM, ".": NUM, "$": REF, "<": EOP, "": END,
}

_STRING_PART = re.compile(
    r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|\$\{[ \t]*([0-9]+)[ \t]*\}|\$([0-9]+)",
    re.DOTALL,
)
_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
    "\\": "\\", "'": "'", '"': '"', "$": "$", "/": "/",
}


class TokenError(Exception):
    """A bad literal: ``offset`` characters into its token."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def tokenize(line: str, start: int = 0) -> list[str]:
    """The tokens of ``line`` from index ``start``, ending with ``""``; a comment is dropped.

    Trailing blanks are cut first (they would make the leading ``\\s*`` retry at
    every position). An unterminated string or a comment takes the rest of the
    line as one token, so no scan ever starts over: linear in the line's length.
    """
    tokens = _TOKEN.findall(line, start, len(line.rstrip()))
    if tokens and tokens[-1][0] == "#":
        tokens.pop()
    tokens.append("")
    return tokens


def token_columns(line: str, start: int = 0) -> list[int]:
    """The 1-based column of each token ``tokenize(line, start)`` returns (the end's too)."""
    end = len(line.rstrip())
    columns = [match.start(1) + 1 for match in _TOKEN.finditer(line, start, end)]
    if columns and line[columns[-1] - 1] == "#":
        end = len(line[: columns.pop() - 1].rstrip())
    columns.append(end + 1)
    return columns


def kind_of(token: str) -> int:
    """A token's kind, from its text (the alternatives of ``_TOKEN`` start with distinct characters)."""
    kind = _FIRST_CHAR_KIND.get(token[:1])
    if kind is None:  # a name, or one stray character (\w minus \d starts a name)
        is_name = len(token) > 1 or (token.isalnum() or token == "_") and not token.isdecimal()
        return NAME if is_name else OTHER
    if kind == STR:
        return STR if _STRING.fullmatch(token) else QUOTE
    if kind == EOP:
        return EOP if token == END_OF_PLAN else OTHER
    if (kind == NUM or kind == REF) and len(token) == 1 and not token.isdigit():
        return OTHER  # '-', '.' or '$' alone
    return kind


def shorten(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def id_number(digits: str, what: str, offset: int = 0) -> int:
    """A task number or reference number, bounded by ``MAX_INT``."""
    if len(digits) >= _MAX_INT_DIGITS and (len(digits) > _MAX_INT_DIGITS or int(digits) > MAX_INT):
        raise TokenError(offset, f"{what} {shorten(digits)} is out of range (at most 10**18)")
    return int(digits)


def reference_id(token: str) -> int:
    """The id of a ``$N`` or ``${N}`` token."""
    return id_number(token[1:] if token[1] != "{" else token[2:-1].strip(), "reference")


def number_value(token: str) -> int | float:
    """An int or float literal; absurd magnitudes are errors, not huge objects or ``inf``."""
    if "." in token or "e" in token or "E" in token:
        value = float(token)
        if value in (float("inf"), float("-inf")):
            raise TokenError(0, f"number {shorten(token)} is out of range (it overflows a float)")
        return value
    if len(token) >= _MAX_INT_DIGITS:
        digits = token.lstrip("-")
        if len(digits) > _MAX_INT_DIGITS or int(digits) > MAX_INT:
            raise TokenError(0, f"number {shorten(token)} is out of range (integers must be within ±10**18)")
    return int(token)


def string_value(token: str) -> tuple[str | Interp, list[tuple[int, int]]]:
    """Decode a quoted literal; ``$N``/``${N}`` inside it make an ``Interp``.

    Returns the value and the references inside as ``(id, offset in the token)``.
    Escapes: ``\\n \\t \\r \\b \\f \\v \\a \\\\ \\' \\" \\/``, ``\\xHH``, ``\\uHHHH``,
    ``\\UHHHHHHHH``, and ``\\$`` for a literal dollar sign; any other backslash is kept
    as written (as Python does), so Windows paths and regexes survive.
    """
    body = token[1:-1]
    if "\\" not in body and "$" not in body:
        return body, []
    parts: list[str | Ref] = []
    refs: list[tuple[int, int]] = []
    text = ""  # decoded text since the last reference
    pos = 0
    for match in _STRING_PART.finditer(body):
        start, end = match.span()
        escape, braced, bare = match.groups()
        if escape is not None:
            text += body[pos:start] + _escape_value(escape, 1 + start)
        else:
            ref_id = id_number(braced or bare, "reference", 1 + start)
            text += body[pos:start]
            if text:
                parts.append(text)
                text = ""
            parts.append(Ref(ref_id))
            refs.append((ref_id, 1 + start))
        pos = end
    text += body[pos:]
    if not refs:
        return text, refs
    if text:
        parts.append(text)
    return Interp(tuple(parts)), refs


def _escape_value(escape: str, offset: int) -> str:
    if len(escape) > 1:  # \xHH, \uHHHH, \UHHHHHHHH
        code = int(escape[1:], 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise TokenError(offset, f"escape '\\{escape}' is not a valid unicode character")
        return chr(code)
    if escape in "xuU":
        digits = {"x": 2, "u": 4, "U": 8}[escape]
        raise TokenError(offset, f"escape '\\{escape}' needs {digits} hexadecimal digits")
    return _ESCAPES.get(escape, "\\" + escape)
