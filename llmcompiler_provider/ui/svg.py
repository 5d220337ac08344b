"""Small building blocks for the server-side SVG pictures (no JavaScript, no fonts to fetch)."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

STATUS_COLORS = {
    "success": "#3f9d5a",
    "failed": "#d1463b",
    "skipped": "#a3a3a3",
    "cancelled": "#8c7f6a",
    "pending": "#c8c8c8",
    "running": "#4a86c5",
}
LLM_COLOR = "#8a63c7"
SERIES_COLORS = ("#2f6db5", "#d9822b", "#3f9d5a", "#c2417a", "#7b5cc4", "#1f9aa8", "#8c6d1f", "#5a5a5a")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def status_color(status: str | None) -> str:
    return STATUS_COLORS.get(status or "", STATUS_COLORS["pending"])


def text_of(value: object) -> str:
    """``value`` escaped for an SVG text node."""
    return escape(str(value))


def attrs(**values: object) -> str:
    """XML attributes, escaped and quoted; ``class_`` becomes ``class``, underscores become dashes."""
    parts = []
    for name, value in values.items():
        if value is None:
            continue
        key = "class" if name == "class_" else name.replace("_", "-")
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={quoteattr(shown)}")
    return " ".join(parts)


def element(tag: str, content: str | None = None, **values: object) -> str:
    attributes = attrs(**values)
    opening = f"<{tag} {attributes}" if attributes else f"<{tag}"
    return f"{opening}/>" if content is None else f"{opening}>{content}</{tag}>"


def titled(tag: str, title: str, content: str = "", **values: object) -> str:
    """An element with a hover tooltip (an SVG ``<title>`` child) before its ``content``."""
    return element(tag, f"<title>{text_of(title)}</title>{content}", **values)


def document(width: float, height: float, body: list[str], *, label: str, class_: str) -> str:
    """A standalone ``<svg>`` that scales to its container's width."""
    header = attrs(
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width:.0f} {height:.0f}",
        width="100%",
        role="img",
        aria_label=label,
        class_=class_,
        font_family=FONT,
        font_size=12,
        preserveAspectRatio="xMinYMin meet",
        style=f"max-width:{width:.0f}px",
    )
    return f"<svg {header}><title>{text_of(label)}</title>{''.join(body)}</svg>"


def nice_step(span: float, target_ticks: int = 6) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``target_ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / max(1, target_ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def ticks(low: float, high: float, target_ticks: int = 6) -> list[float]:
    """Round values from at or below ``low`` to at or above ``high``."""
    step = nice_step(high - low, target_ticks)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(index * step, 10) for index in range(first, max(last, first + 1) + 1)]


def shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max(1, max_chars - 1)] + "…"
