"""Errors every chat backend raises: one-line messages naming the endpoint and model, never a key."""

from __future__ import annotations


class LLMError(Exception):
    """A chat model call failed; ``str(error)`` is a one-line sentence for the user."""


class LLMUnavailable(LLMError):
    """The endpoint cannot be reached (connection refused, DNS failure) or the model cannot be loaded."""


class LLMAuthError(LLMError):
    """The endpoint refused the credentials (HTTP 401 or 403)."""


class LLMTimeout(LLMError):
    """The call did not finish within its timeout."""


class LLMRateLimited(LLMError):
    """The endpoint kept answering HTTP 429 (or the admission limits kept the request waiting)
    for the whole queue timeout."""


class LLMBadResponse(LLMError):
    """The endpoint answered with an error (4xx/5xx) or a malformed or broken stream."""


class LLMPromptTooLong(LLMError):
    """The prompt does not fit the model's context window."""


class LLMStreamCut(LLMBadResponse):
    """The endpoint cut its answer short and it could not be completed: asked again, it answered
    differently from what was already delivered, or kept cutting it for the whole queue timeout."""
