"""The one small protocol every chat backend follows: stream text pieces, then report usage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

#: an OpenAI-style chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``
ChatMessage = dict


@dataclass(frozen=True)
class Usage:
    """What one call cost: tokens in and out, total latency and time to the first text piece."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    ttft_s: float | None = None
    #: False when the backend did not report token counts and they were estimated
    exact: bool = True
    #: why the model stopped ("stop", "length", ...), when the backend said
    finish_reason: str | None = None
    #: seconds spent waiting for admission and before retries (not part of the answer's timeout)
    queued_s: float = 0.0
    #: times the request was tried again, and HTTP 429/503 answers among its attempts
    retries: int = 0
    rate_limited: int = 0


@runtime_checkable
class TextStream(Protocol):
    """The text pieces of one call; ``usage`` is set once the stream ends or is closed."""

    usage: Usage | None

    def __iter__(self) -> Iterator[str]: ...

    def __next__(self) -> str: ...

    def close(self) -> None: ...


@runtime_checkable
class ChatModel(Protocol):
    """A chat model that streams its answer.

    ``stream`` returns the call's text pieces as they arrive; once they are exhausted (or
    closed), the stream's ``usage`` (and ``last_usage``) describes that call.
    """

    model_name: str
    last_usage: Usage | None

    def stream(
        self,
        messages: list[dict],
        *,
        stop: list[str] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        grammar: str | None = None,
        timeout: float | None = None,
    ) -> TextStream: ...

    def complete(self, messages: list[dict], **options: Any) -> tuple[str, Usage]: ...


class ChatStream(Iterator[str]):
    """The text pieces of one call as they arrive; ``usage`` is set once the stream ends or is closed.

    Each call gets its own stream, so usage stays right even when one model object
    serves several threads (``ChatModel.last_usage`` is simply the latest call's).
    """

    def __init__(self, owner: "StreamingChatModel", produce: Callable[[Callable[[Usage], None]], Iterator[str]]):
        self.usage: Usage | None = None
        self._owner = owner
        self._pieces = produce(self._finish)

    def _finish(self, usage: Usage) -> None:
        self.usage = usage
        self._owner.last_usage = usage

    def __iter__(self) -> "ChatStream":
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        """Stop the call early (the backend stops generating and releases what it holds)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StreamingChatModel:
    """Shared behaviour of the backends: ``complete`` on top of ``stream``, usage bookkeeping."""

    model_name: str = "unknown"
    last_usage: Usage | None = None

    def stream(self, messages: list[dict], **options: Any) -> ChatStream:  # pragma: no cover - abstract
        raise NotImplementedError

    def _begin_call(self, messages: list[dict], max_tokens: int) -> None:
        """Checks every backend makes before a call, and forgets the previous call's usage."""
        validate_messages(messages)
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
        self.last_usage = None

    def complete(self, messages: list[dict], **options: Any) -> tuple[str, Usage]:
        """The whole answer at once, with its usage."""
        with self.stream(messages, **options) as pieces:
            text = "".join(pieces)
        assert pieces.usage is not None
        return text, pieces.usage


class CallClock:
    """Measures one call: started when created, first piece marked once, stopped at the end."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_piece: float | None = None

    def mark_piece(self) -> None:
        if self.first_piece is None:
            self.first_piece = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def usage(self, prompt_tokens: int, completion_tokens: int, *, exact: bool = True) -> Usage:
        ttft = None if self.first_piece is None else self.first_piece - self.started
        return Usage(prompt_tokens, completion_tokens, self.elapsed(), ttft, exact)


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for backends that report none."""
    return max(1, round(len(text) / 4)) if text else 0


def clean_stop(stop: list[str] | None) -> list[str]:
    """Stop sequences without empty strings (which would stop before the first token) or repeats."""
    return list(dict.fromkeys(s for s in (stop or []) if s))


def validate_messages(messages: list[dict]) -> None:
    """Reject what no backend can send, with a clear sentence."""
    if not messages:
        raise ValueError("a chat call needs at least one message")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"chat message {i} must be a dict with 'role' and 'content'")
