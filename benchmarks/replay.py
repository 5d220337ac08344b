"""A plan arriving at a fixed token rate, as a planner LLM would stream it.

``ReplayChatModel`` follows the project's chat-model protocol (``stream`` /
``complete`` / ``last_usage``): its first call streams the plan text in pieces of
``CHARS_PER_TOKEN`` characters, one every ``1 / tokens_per_s`` seconds on an absolute
schedule (no drift); later calls (the joiner) answer ``Finish`` at once. It is a
benchmark instrument: it takes the model's generation time out of the comparison
and keeps only its pace, so every executor sees the same arrival times.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Iterator

from llmcompiler_provider.llm.base import ChatStream, StreamingChatModel, Usage

CHARS_PER_TOKEN = 4
DEFAULT_TOKENS_PER_S = 50.0
JOINER_ANSWER = "Thought: every observation is in.\nAction: Finish(done)"


def token_pieces(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def line_arrivals(text: str, tokens_per_s: float) -> list[float]:
    """Seconds after the stream starts at which each line's newline has arrived."""
    interval = 1.0 / tokens_per_s
    return [index * interval for index, piece in enumerate(token_pieces(text), 1) for char in piece if char == "\n"]


def join_arrival(text: str, tokens_per_s: float) -> float:
    """Seconds after the stream starts at which the ``join()`` line has arrived (the plan is known complete)."""
    arrivals = line_arrivals(text, tokens_per_s)
    line = next((i for i, content in enumerate(text.split("\n")) if "join()" in content), None)
    return arrivals[line] if line is not None and line < len(arrivals) else stream_duration(text, tokens_per_s)


def stream_duration(text: str, tokens_per_s: float) -> float:
    return len(token_pieces(text)) / tokens_per_s


def paced(text: str, tokens_per_s: float, started: float | None = None) -> Iterator[str]:
    """The pieces of ``text``, each yielded at its time on the schedule (blocking sleeps)."""
    started = time.time() if started is None else started
    for index, piece in enumerate(token_pieces(text), 1):
        delay = started + index / tokens_per_s - time.time()
        if delay > 0:
            time.sleep(delay)
        yield piece


async def paced_async(text: str, tokens_per_s: float, started: float) -> AsyncIterator[str]:
    """``paced`` for an event loop."""
    for index, piece in enumerate(token_pieces(text), 1):
        delay = started + index / tokens_per_s - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield piece


class ReplayChatModel(StreamingChatModel):
    """Streams a fixed plan at a fixed pace; ``started`` is when the plan's stream began."""

    def __init__(self, plan: str, tokens_per_s: float = DEFAULT_TOKENS_PER_S) -> None:
        self.model_name = f"replay@{tokens_per_s:g}tok/s"
        self.plan = plan
        self.tokens_per_s = tokens_per_s
        self.started: float | None = None
        self.calls = 0

    def stream(self, messages: list[dict], **options: Any) -> ChatStream:
        self.calls += 1
        if self.calls == 1:
            self.started = time.time()
            text, pieces = self.plan, paced(self.plan, self.tokens_per_s, self.started)
        else:
            text, pieces = JOINER_ANSWER, iter([JOINER_ANSWER])

        def produce(finish: Callable[[Usage], None]) -> Iterator[str]:
            began = time.perf_counter()
            yield from pieces
            finish(Usage(0, len(token_pieces(text)), time.perf_counter() - began, None, exact=False))

        return ChatStream(self, produce)
