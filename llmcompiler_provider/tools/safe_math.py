"""Arithmetic for the ``math`` tool, without ``eval``.

Expressions are parsed with ``ast`` and only number literals, + - * / // % ** and
parentheses are accepted; anything else (names, calls, attributes) is rejected.
"""

from __future__ import annotations

import ast
import operator
import re
from statistics import mean
from typing import Any, Callable

_NUMBER = re.compile(
    r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(thousand|million|billion|trillion)?",
    re.IGNORECASE,
)
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_EXPRESSION = re.compile(r"[\d.\s()+\-*/%eE]+")
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_MAX_EXPRESSION = 200
_MAX_EXPONENT = 100

# question words -> the operation they ask for, first match wins
_OPERATIONS: list[tuple[tuple[str, ...], str]] = [
    (("difference", "subtract", "minus", "how much more", "how much less", "how many more"), "difference"),
    (("ratio", "divide", "how many times", "times as"), "ratio"),
    (("average", "mean"), "mean"),
    (("sum", "total", "combined", "add", "plus", "together"), "sum"),
    (("product", "multiply"), "product"),
    (("smaller", "smallest", "shorter", "shortest", "less", "fewer", "lower", "min"), "min"),
    (("larger", "largest", "taller", "tallest", "bigger", "biggest", "longer", "longest", "higher",
      "highest", "greater", "more", "max", "compare", "older", "faster", "deeper"), "max"),
]


class MathError(ValueError):
    pass


def evaluate(expression: str) -> float:
    """Value of an arithmetic expression made only of numbers, operators and parentheses."""
    if len(expression) > _MAX_EXPRESSION:
        raise MathError(f"expression longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise MathError(f"not an arithmetic expression: {expression!r}") from exc
    return _value(tree.body)


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise MathError(f"exponent {right} is too large")
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError as exc:
            raise MathError("division by zero") from exc
    raise MathError(f"only numbers and + - * / // % ** are allowed, not {type(node).__name__}")


def numbers_in(text: str) -> list[float]:
    values = []
    for digits, scale in _NUMBER.findall(text):
        value = float(digits.replace(",", ""))
        values.append(value * _SCALE[scale.lower()] if scale else value)
    return values


def _labelled_numbers(context: list[Any]) -> list[tuple[str, float]]:
    """The leading number of each context item, labelled by the item's title (text before ':')."""
    found = []
    for item in context:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            found.append((str(item), float(item)))
            continue
        text = str(item)
        label, sep, body = text.partition(":")
        values = numbers_in(body if sep else text)
        if values:
            found.append((label.strip() if sep else _fmt(values[0]), values[0]))
    return found


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e18 else f"{value:.6g}"


def _operation(question: str) -> str | None:
    q = question.lower()
    for words, op in _OPERATIONS:
        if any(re.search(rf"\b{re.escape(w)}\b", q) for w in words):
            return op
    return None


def solve(question: str, context: list[Any] | None = None) -> str:
    """Answer ``question`` over the numbers in ``context``; raises ``MathError`` when it cannot."""
    context = list(context or [])
    candidate = question.strip()
    if candidate and _EXPRESSION.fullmatch(candidate) and any(c.isdigit() for c in candidate):
        return _fmt(evaluate(candidate))
    items = _labelled_numbers(context) or [(_fmt(v), v) for v in numbers_in(question)]
    if not items:
        raise MathError(f"no numbers to work with for {question!r}")
    op = _operation(question)
    values = [v for _, v in items]
    if op in ("max", "min"):
        label, value = (max if op == "max" else min)(items, key=lambda item: item[1])
        others = ", ".join(f"{lbl} ({_fmt(v)})" for lbl, v in items if lbl != label)
        word = "largest" if op == "max" else "smallest"
        return f"{label} ({_fmt(value)}) is the {word}" + (f"; the others: {others}" if others else "")
    if op == "sum":
        return _fmt(sum(values))
    if op == "mean":
        return _fmt(mean(values))
    if op == "product":
        result = 1.0
        for v in values:
            result *= v
        return _fmt(result)
    if op in ("difference", "ratio"):
        if len(values) < 2:
            raise MathError(f"{op} needs two numbers, found {len(values)}")
        a, b = values[0], values[1]
        if op == "difference":
            return _fmt(abs(a - b))
        if b == 0:
            raise MathError("division by zero")
        return _fmt(a / b)
    if len(values) == 1:
        return _fmt(values[0])
    raise MathError(f"cannot tell which arithmetic {question!r} asks for")
