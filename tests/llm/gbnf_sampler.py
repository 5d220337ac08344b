"""Random sentences of a GBNF grammar (the subset ``llm.grammar`` writes), to test that every
sentence a grammar admits is something the plan compiler accepts.

Supported: ``name ::= expr`` rules, ``"literals"`` (escapes ``\\n \\" \\\\``), character classes
``[...]`` / ``[^...]`` with ranges and ``\\xNN`` escapes, groups, ``|``, and ``? * +``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

#: characters a sampled character class may produce (ASCII printable, some accents, a symbol, tab)
ALPHABET = [chr(c) for c in range(32, 127)] + ["é", "ß", "→", "\t", "\n"]
_TOKEN = re.compile(
    r'\s*(?:(?P<lit>"(?:\\.|[^"\\])*")|(?P<cls>\[(?:\\.|[^\]\\])*\])|(?P<name>[a-z][a-z0-9-]*)|(?P<op>[()|?*+]))'
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "]": "]", "[": "[", "^": "^", "-": "-"}


@dataclass
class Node:
    kind: str  # lit | cls | ref | seq | alt | rep
    value: object = None
    children: tuple = ()
    low: int = 0
    high: int | None = None


def _unescape(text: str) -> list[str]:
    chars, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            if text[i + 1] == "x":
                chars.append(chr(int(text[i + 2 : i + 4], 16)))
                i += 4
                continue
            chars.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            chars.append(text[i])
            i += 1
    return chars


def _char_class(body: str) -> tuple[bool, list[tuple[str, str]]]:
    negated = body.startswith("^")
    chars = _unescape(body[1:] if negated else body)
    ranges, i = [], 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == "-":
            ranges.append((chars[i], chars[i + 2]))
            i += 3
        else:
            ranges.append((chars[i], chars[i]))
            i += 1
    return negated, ranges


def parse_gbnf(text: str) -> dict[str, Node]:
    rules: dict[str, Node] = {}
    for line in text.strip().splitlines():
        name, _, body = line.partition(" ::= ")
        tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _TOKEN.finditer(body)]
        node, rest = _alternatives(tokens)
        assert not rest, f"unparsed: {rest}"
        rules[name.strip()] = node
    return rules


def _alternatives(tokens):
    options = []
    while True:
        seq, tokens = _sequence(tokens)
        options.append(seq)
        if tokens and tokens[0] == ("op", "|"):
            tokens = tokens[1:]
            continue
        return (options[0] if len(options) == 1 else Node("alt", children=tuple(options))), tokens


def _sequence(tokens):
    items = []
    while tokens and tokens[0] not in (("op", "|"), ("op", ")")):
        kind, value = tokens[0]
        tokens = tokens[1:]
        if kind == "lit":
            item = Node("lit", "".join(_unescape(value[1:-1])))
        elif kind == "cls":
            item = Node("cls", _char_class(value[1:-1]))
        elif kind == "name":
            item = Node("ref", value)
        else:
            assert value == "(", value
            item, tokens = _alternatives(tokens)
            assert tokens[0] == ("op", ")")
            tokens = tokens[1:]
        while tokens and tokens[0][0] == "op" and tokens[0][1] in "?*+":
            low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[tokens[0][1]]
            item = Node("rep", children=(item,), low=low, high=high)
            tokens = tokens[1:]
        items.append(item)
    return Node("seq", children=tuple(items)), tokens


class GrammarSampler:
    """Random sentences of a grammar; deep in the recursion it takes the shortest ways out."""

    def __init__(self, grammar: str, rng: random.Random, max_depth: int = 120) -> None:
        self.rules = parse_gbnf(grammar)
        self.rng = rng
        self.max_depth = max_depth

    def sentence(self, rule: str = "root") -> str:
        return "".join(self._emit(self.rules[rule], 0))

    def _emit(self, node: Node, depth: int):
        deep = depth > self.max_depth
        if node.kind == "lit":
            yield node.value
        elif node.kind == "cls":
            yield self._char(*node.value)
        elif node.kind == "ref":
            yield from self._emit(self.rules[node.value], depth + 1)
        elif node.kind == "seq":
            for child in node.children:
                yield from self._emit(child, depth + 1)
        elif node.kind == "alt":
            chosen = node.children[0] if deep else self.rng.choice(node.children)
            yield from self._emit(chosen, depth + 1)
        else:  # rep
            high = node.low + 3 if node.high is None else node.high
            count = node.low if deep else self.rng.randint(node.low, high)
            for _ in range(count):
                yield from self._emit(node.children[0], depth + 1)

    def _char(self, negated: bool, ranges: list[tuple[str, str]]) -> str:
        def inside(c: str) -> bool:
            return any(lo <= c <= hi for lo, hi in ranges)

        candidates = [c for c in ALPHABET if inside(c) != negated]
        return self.rng.choice(candidates)
