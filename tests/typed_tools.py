"""A toolset with a parameter of every type a plan can write, for the type checker's and the plan
grammar's tests (importable from every test folder: ``tests/`` is on ``sys.path``)."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from llmcompiler_provider.tools import Toolset


def typed_toolset() -> Toolset:
    ts = Toolset("typed")

    @ts.tool
    def count(n: int) -> int:
        return n

    @ts.tool
    def scale(x: float, by: Optional[float] = None) -> float:
        return x

    @ts.tool
    def flag(on: bool, label: str = "") -> bool:
        return on

    @ts.tool
    def names(values: list[str], options: dict[str, int] = {}) -> list[str]:  # noqa: B006
        return values

    @ts.tool
    def either(v: Union[str, int, None]) -> str:
        return str(v)

    @ts.tool
    def mode(m: Literal["fast", "slow", 3, True]) -> str:
        return str(m)

    @ts.tool
    def total(label: str, *parts: int, unit: str) -> int:
        return sum(parts)

    @ts.tool
    def grid(rows: list[list[float]]) -> Any:
        return rows

    @ts.tool
    def loose(x, y: Any = None):
        return x

    return ts
