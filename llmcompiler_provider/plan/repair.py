"""Repairs: the slips real planners make, fixed in the open instead of costing a re-plan.

A ``Repairer`` stands between the plan's lines and a ``PlanAnalyzer``
(``compile_plan(repair=True)`` and ``PlanStream(repair=True)`` use one). A line the
analyzer accepts as written is passed on untouched, so repair is the identity on
every plan that compiles exactly. A line it would reject is given to it repaired
when the line is one of these slips, each repair reported as a warning
``Diagnostic`` at its place in the text as written:

* an argument list of plain unquoted text (``5. search(Austin Powers)``) becomes that
  text as one string argument. Plain: words, blanks and ``, . : ? ! # -``; no quotes,
  brackets, ``=``, ``$`` or parentheses, and nothing that reads as code either
  (``name.attribute``, a name starting with ``_`` such as ``__import__``, a ``-``
  that is not a hyphen inside a word, other operators);
* a call line that only lacks its final ``)`` (or ``])``) at the end is closed;
* a Markdown code fence (```` ``` ```` or ``~~~``, maybe with a language) before the
  plan, and the fence that closes it, are dropped;
* ``$N`` inside a string, where N is no earlier task of the plan (``"over $5"``), is
  kept as the text ``$N`` (``${N}`` stays a reference);
* text after ``join()``, on its line or on the lines after, is ignored (one warning).

Anything else stays an error. A repaired line goes through the same analyzer as
any other line, so a repair never widens what can run: only catalogue tools, with
literal arguments and references to earlier tasks. Errors on a repaired line are
reported at the columns of the text as written. Every decision depends only on
the lines before, so a stream is repaired exactly as its whole text is, wherever
its chunks split.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace

from llmcompiler_provider.plan.analyzer import PlanAnalyzer
from llmcompiler_provider.plan.ast import Call
from llmcompiler_provider.plan.errors import MAX_ERRORS, Diagnostic, PlanSyntaxError
from llmcompiler_provider.plan.ir import Task
from llmcompiler_provider.plan.lexer import shorten, token_columns
from llmcompiler_provider.plan.parser import JOIN_CALL, NUMBERED, parse_line

AFTER_JOIN = "text after join() is ignored: join() ends the plan"

_FENCE = re.compile(r"\s*(?:`{3,}|~{3,})[\w+.#-]*\s*")
_JOIN_THEN_TEXT = re.compile(r"(\s*(?:[0-9]+\s*\.\s*)?join\s*\(\s*\)(?:\s*<END_OF_PLAN>)?)\s*([^\s#].*)")
_TOOL_OPEN = re.compile(r"([^\W\d]\w*)\s*\(")
_PLAIN = re.compile(r"[\w \t,.:?!#-]+")
_CODE_LIKE = re.compile(r"\.[^\W\d]|\s\.|(?<!\w)_")  # attribute access (os.path, os . path); _x, __import__
_HYPHEN = re.compile(r"(?<=[^\W\d])-(?=\w)|(?<=\w)-(?=[^\W\d])")  # inside a word, by a letter
_DOLLAR = re.compile(r"\$[0-9]+")


def plan_warnings(analyzer: PlanAnalyzer, repairer: Repairer | None) -> list[Diagnostic]:
    """Every warning of a plan, in line order: the analyzer's (a plain-number string read as a
    number) and the repairs ``repairer`` made."""
    found = [replace(w, severity="warning") for w in analyzer.warnings]
    return found if repairer is None else sorted(repairer.warnings + found, key=lambda w: w.line)


def is_plain_text(text: str) -> bool:
    """May ``text`` (an argument list, stripped) be passed as one string? See the module's doc."""
    return (
        bool(_PLAIN.fullmatch(text))
        and not _CODE_LIKE.search(text)
        and text.count("-") == len(_HYPHEN.findall(text))
    )


def _parses(line: str) -> bool:
    try:
        parse_line(line)
    except PlanSyntaxError:
        return False
    return True


@dataclass
class _Edit:
    """A line as written, the insertions that repair it and the warnings saying so
    (both at indexes of the line as written)."""

    line: str
    inserts: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)
    _order: tuple[int, list[tuple[int, str]], list[int]] | None = None

    def _ordered(self) -> tuple[list[tuple[int, str]], list[int]]:
        """The insertions in order of place, and where each starts in the repaired line."""
        if self._order is None or self._order[0] != len(self.inserts):
            ordered = sorted(self.inserts, key=lambda insert: insert[0])  # stable: same place, order given
            starts, shift = [], 0
            for at, piece in ordered:
                starts.append(at + shift)
                shift += len(piece)
            self._order = (len(self.inserts), ordered, starts)
        return self._order[1], self._order[2]

    @property
    def text(self) -> str:
        """The repaired line."""
        parts, at = [], 0
        for index, piece in self._ordered()[0]:
            parts += [self.line[at:index], piece]
            at = index
        parts.append(self.line[at:])
        return "".join(parts)

    def written_index(self, index: int) -> int:
        """Where index ``index`` of the repaired line is in the line as written
        (an inserted character: where it was inserted)."""
        ordered, starts = self._ordered()
        k = bisect_right(starts, index) - 1
        if k < 0:
            return index
        at, piece = ordered[k]
        end = starts[k] + len(piece)  # in the repaired line, where the text as written goes on
        return at if index < end else index - (end - at)


class Repairer:
    """Feeds lines to ``analyzer``, repaired where that saves a re-plan (see the module's doc).

    It has the analyzer's ``add_line`` / ``add_last_line``, to be called instead;
    ``warnings`` lists the repairs made so far (at most ``MAX_ERRORS``, then one
    saying that more were made).
    """

    def __init__(self, analyzer: PlanAnalyzer) -> None:
        self.analyzer = analyzer
        self.warnings: list[Diagnostic] = []
        self._fence_open = False  # an opening fence was dropped and its closing one not yet
        self._ignoring = False  # text after join() was met (and warned about once)

    def add_line(self, text: str) -> Task | None:
        return self._line(text, last=False)

    def add_last_line(self, text: str) -> Task | None:
        return self._line(text, last=True)

    # one line -----------------------------------------------------------------------------
    def _line(self, text: str, *, last: bool) -> Task | None:
        analyzer = self.analyzer
        if text.endswith("\r"):
            text = text[:-1]
        line_no = analyzer.line_no + 1
        if analyzer.done or _FENCE.fullmatch(text):
            return self._add_or_drop(text, line_no, last=last)
        edit = self._edit(text)
        if edit is None:
            return self._add(text, last)
        known = len(analyzer.diagnostics), len(analyzer.warnings)
        task = self._add(edit.text, last)
        for found, start in zip((analyzer.diagnostics, analyzer.warnings), known):
            for i in range(start, len(found)):  # found on the repaired line: placed where it is as written
                if found[i].line == line_no:
                    found[i] = replace(found[i], col=edit.written_index(found[i].col - 1) + 1)
        for index, message in sorted(edit.notes, key=lambda note: note[0]):
            self._warn(line_no, index + 1, message)
        return task

    def _add(self, text: str, last: bool) -> Task | None:
        return self.analyzer.add_last_line(text) if last else self.analyzer.add_line(text)

    def _add_or_drop(self, text: str, line_no: int, *, last: bool) -> Task | None:
        """A fence line, or any line after join(): given to the analyzer as written, and
        dropped with a warning if it rejects it (rejecting such a line changes nothing else)."""
        analyzer = self.analyzer
        before_plan = not (analyzer.defined or analyzer.done)
        fence = _FENCE.fullmatch(text) is not None and (self._fence_open or before_plan)
        if not fence and not analyzer.done:
            return self._add(text, last)  # a fence inside the plan: an error as ever
        if fence:  # it opens or closes the fence around the plan, dropped or (continuing a Thought) kept
            self._fence_open = not self._fence_open
        diagnostics = analyzer.diagnostics
        known = len(diagnostics)
        task = self._add(text, last)
        if len(diagnostics) == known:
            return task  # accepted as written (a Thought's continuation, <END_OF_PLAN>, a blank line)
        col = diagnostics[known].col
        del diagnostics[known:]
        if fence:
            self._warn(line_no, col, "Markdown code fence dropped")
        elif not self._ignoring:
            self._ignoring = True
            self._warn(line_no, col, AFTER_JOIN)
        return task

    def _warn(self, line: int, col: int, message: str) -> None:
        if len(self.warnings) < MAX_ERRORS:
            self.warnings.append(Diagnostic(self.analyzer.source, line, col, message, "warning"))
        elif len(self.warnings) == MAX_ERRORS:
            message = f"more than {MAX_ERRORS} repairs: the others are not listed"
            self.warnings.append(Diagnostic(self.analyzer.source, line, 1, message, "warning"))

    # repairs ------------------------------------------------------------------------------
    def _edit(self, text: str) -> _Edit | None:
        """The repairs of a line before join(), or None when it stays as written."""
        try:
            node = parse_line(text)
        except PlanSyntaxError as error:
            edit = self._syntax_repair(text, error)
            if edit is None:
                return None
            node = parse_line(edit.text)  # a repair is only made when its line parses
        else:
            edit = _Edit(text)
        if node.__class__ is Call and node.refs and node.number is not None:
            self._literal_dollars(edit, node)
        return edit if edit.notes else None

    def _syntax_repair(self, text: str, error: PlanSyntaxError) -> _Edit | None:
        joined = _JOIN_THEN_TEXT.fullmatch(text)
        if joined and _parses(joined.group(1)):
            self._ignoring = True
            return _Edit(joined.group(1), notes=[(joined.start(2), AFTER_JOIN)])
        numbered = NUMBERED.match(text)
        if numbered is None and not JOIN_CALL.match(text):
            return None
        start = numbered.end() if numbered else 0
        closed = _closed(text, start, error)
        if closed is not None or numbered is None:
            return closed
        return _quoted(text, start)

    def _literal_dollars(self, edit: _Edit, call: Call) -> None:
        """``$N`` in a string where N is no earlier task: escaped, so it stays the text ``$N``."""
        text, number, analyzer = edit.text, call.number, self.analyzer
        assert number is not None
        literal = []
        for ref in call.refs:
            earlier = ref.id < number and (ref.id in analyzer.defined or ref.id in analyzer.prior_ids)
            if ref.offset == 0 or earlier:
                continue  # a bare $N argument (never repaired), or a reference to an earlier task
            index = call.col(ref.token, ref.offset) - 1
            dollar = _DOLLAR.match(text, index)
            if dollar is not None:  # not ${N}
                literal.append((edit.written_index(index), dollar.group()))
        for at, written in literal:
            edit.inserts.append((at, "\\"))
            message = f"'{written}' in a string is no earlier task's result: kept as the text '{written}'"
            edit.notes.append((at, message))


def _closed(text: str, start: int, error: PlanSyntaxError) -> _Edit | None:
    """A call line that only lacks its final ``)`` or ``])`` at the end of the line, closed."""
    if not error.message.startswith("unexpected end of line"):
        return None
    end = token_columns(text, start)[-1] - 1  # where the code ends, before blanks and a comment
    if error.col - 1 != end:
        return None
    for closing in (")", "])"):
        edit = _Edit(text, [(end, closing)], [(end, f"missing '{closing}' at the end of the line: added")])
        if _parses(edit.text):
            return edit
    return None


def _quoted(text: str, start: int) -> _Edit | None:
    """A call whose argument list is plain unquoted text, with that text quoted (and closed)."""
    head = _TOOL_OPEN.match(text, start)
    if head is None or head.group(1) == "join":
        return None
    opened = head.end()
    close = text.find(")", opened)
    if close >= 0 and text[close + 1 :].strip() and not text[close + 1 :].lstrip().startswith("#"):
        return None  # more after the closing ')' than a comment
    inner = text[opened : close if close >= 0 else len(text)]
    words = inner.strip()
    if not words or not is_plain_text(words):
        return None
    first = opened + len(inner) - len(inner.lstrip())
    last = opened + len(inner.rstrip())
    edit = _Edit(
        text,
        [(first, '"'), (last, '"')],
        [(first, f'unquoted argument text taken as one string: "{shorten(words, 40)}"')],
    )
    if close < 0:
        edit.inserts.append((last, ")"))
        edit.notes.append((last, "missing ')' at the end of the line: added"))
    return edit if _parses(edit.text) else None
