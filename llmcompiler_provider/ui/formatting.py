"""How numbers and times read on the pages (and in the charts' labels)."""

from __future__ import annotations

from datetime import datetime, timezone

MISSING = "—"


def when(epoch: float | None) -> str:
    """``2025-06-15 15:06:40 UTC``."""
    if epoch is None:
        return MISSING
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d")


def clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%H:%M")


def seconds(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 10:
        return f"{value:.1f} s"
    return f"{value:.2f} s"


def ratio(value: float | None) -> str:
    return f"{value:.2f}×" if value is not None else MISSING


def percent(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else MISSING


def count(value: int | float | None) -> str:
    return f"{value:,.0f}" if value is not None else MISSING


def axis_number(value: float) -> str:
    """A tick label: no trailing zeros, thousands as ``k``."""
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:.6g}"


def money(value: float | None) -> str:
    """A cost in the LLM connection's price unit: ``0.0123`` (4 decimals below 1, else 2)."""
    if value is None:
        return MISSING
    return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
