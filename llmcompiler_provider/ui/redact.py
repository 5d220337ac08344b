"""Masking what looks like a secret before the UI shows any stored text.

Runs keep prompts, tool arguments, results and error messages as they were; an
error from a driver or an HTTP client may quote a URL with its password or an
API key. Everything the UI renders or returns goes through :func:`redact_value`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(@)", re.IGNORECASE), rf"\g<1>{MASK}\g<2>"),
    # api_key=..., "password": "...", token: ...
    (
        re.compile(
            r"""\b((?:api[_-]?key|access[_-]?key|secret(?:[_-]?key)?|password|passwd|pwd|token"""
            r"""|auth[_-]?token)"""
            r"""["']?\s*[:=]\s*["']?)[^\s"',;&}]+""",
            re.IGNORECASE,
        ),
        rf"\g<1>{MASK}",
    ),
    # Authorization: Bearer xyz
    (re.compile(r"\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), rf"\g<1>{MASK}"),
    # sk-... style API keys
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{16,}"), rf"\g<1>-{MASK}"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with every string in it (at any depth) passed through :func:`redact_text`."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item) for item in value]
    return value


def redact_model(model: Model) -> Model:
    """A copy of ``model`` with every string in it passed through :func:`redact_text`."""
    return type(model).model_validate(redact_value(model.model_dump()))
