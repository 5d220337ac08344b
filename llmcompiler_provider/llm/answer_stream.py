"""Reading one call's answer over its attempts: what it spent and received (``CallState``), the
text a replay skips (``Replay``), one attempt's stream (``Reading``) and the watchdog that ends
an answer stalled past its timeout (``Watchdog``)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from llmcompiler_provider.llm.base import CallClock, Usage
from llmcompiler_provider.llm.errors import LLMStreamCut, LLMTimeout


@dataclass
class CallState:
    """What one call has spent and received over its attempts."""

    prompt_tokens: int  # estimated, for when the server reports no usage
    clock: CallClock = field(default_factory=CallClock)
    queued_s: float = 0.0  # waiting of every kind: counted against the queue timeout
    waited_s: float = 0.0  # of which for admission and backoff (Usage.queued_s)
    attempts: int = 0
    errors: int = 0  # server errors and refusals, counted against max_retries
    cuts: int = 0
    rate_limited: int = 0
    delivered: str = ""  # the text the consumer has
    pieces: int = 0
    reported: Any = None  # the server's usage of the last attempt
    finish_reason: str | None = None
    last: tuple[str, Any] | None = None  # (kind, cause) of the last retried failure

    def wait(self, seconds: float) -> None:
        self.queued_s += seconds
        self.waited_s += seconds

    def tokens_used(self) -> int:
        reported = self.reported
        if reported is not None and getattr(reported, "completion_tokens", None) is not None:
            return int(reported.prompt_tokens or 0) + int(reported.completion_tokens)
        return self.prompt_tokens + self.pieces

    def usage(self) -> Usage:
        reported = self.reported
        if reported is not None and getattr(reported, "completion_tokens", None) is not None:
            usage = self.clock.usage(int(reported.prompt_tokens or 0), int(reported.completion_tokens))
        else:
            usage = self.clock.usage(self.prompt_tokens, self.pieces, exact=False)
        return replace(usage, finish_reason=self.finish_reason, queued_s=self.waited_s,
                       retries=max(0, self.attempts - 1), rate_limited=self.rate_limited)


class Replay:
    """Skips, in a new attempt's answer, the text a cut-short attempt already delivered."""

    def __init__(self, delivered: str) -> None:
        self.expected = delivered
        self.seen = ""

    def feed(self, text: str, where: str) -> str:
        """The part of ``text`` that is new to the consumer."""
        if not self.expected:
            return text
        self.seen += text
        common = min(len(self.seen), len(self.expected))
        if self.seen[:common] != self.expected[:common]:
            raise self._diverged(where)
        if len(self.seen) <= len(self.expected):
            return ""
        new, self.expected = self.seen[len(self.expected):], ""
        return new

    def check_complete(self, where: str) -> None:
        if self.expected:
            raise self._diverged(where)

    def _diverged(self, where: str) -> LLMStreamCut:
        return LLMStreamCut(
            f"{where} cut its answer short, and asked again it answered differently from the "
            f"{len(self.expected)} characters already delivered (a replay needs deterministic decoding: temperature 0)"
        )


class Reading:
    """Reading one attempt's stream: its pieces, finish reason, first piece and stall alarm."""

    def __init__(self, call: CallState, sent: float, timeout: float) -> None:
        self.call, self.sent, self.timeout = call, sent, timeout
        self.replay = Replay(call.delivered)
        self.first_piece: float | None = None
        self.last_piece: float | None = None
        self.finish_reason: str | None = None
        self.alarm: Alarm | None = None
        self.cut: str | None = None

    def pieces(self, chunks: Any, where: str) -> Iterator[str]:
        call = self.call
        for chunk in chunks:
            if getattr(chunk, "usage", None) is not None:
                call.reported = chunk.usage
            for choice in chunk.choices or ():
                if choice.finish_reason is not None:
                    self.finish_reason = choice.finish_reason
                text = choice.delta.content if choice.delta is not None else None
                if not text:
                    continue
                now = time.monotonic()
                if self.first_piece is None:  # the answer's clock starts; the queue's stops
                    self.first_piece = now
                    call.queued_s += now - self.sent
                    self.alarm = WATCHDOG.arm(socket_of(chunks), now + self.timeout)
                self.last_piece = now
                new = self.replay.feed(text, where)
                if new:
                    call.delivered += new
                    call.pieces += 1
                    call.clock.mark_piece()
                    yield new
            if self.first_piece is not None and time.monotonic() - self.first_piece > self.timeout:
                raise LLMTimeout(f"{where} did not finish answering within {self.timeout:g}s")


class Alarm:
    def __init__(self, sock: socket.socket | None, deadline: float) -> None:
        self.sock, self.deadline, self.fired = sock, deadline, False

    def fire(self) -> None:
        self.fired = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # a read blocked on it returns at once
        except OSError:
            pass


class Watchdog:
    """One thread that shuts down the socket of every answer past its deadline: a blocked read
    cannot be given a new timeout once the body is being read, but it returns when its socket
    is shut down. Without a socket (an unusual transport) only the queue timeout bounds a read."""

    IDLE_EXIT_S = 30.0

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._alarms: set[Alarm] = set()
        self._running = False

    def arm(self, sock: socket.socket | None, deadline: float) -> Alarm | None:
        if sock is None:
            return None
        alarm = Alarm(sock, deadline)
        with self._cv:
            self._alarms.add(alarm)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="llm-answer-watchdog", daemon=True).start()
            self._cv.notify()
        return alarm

    def disarm(self, alarm: Alarm | None) -> None:
        if alarm is not None:
            with self._cv:
                self._alarms.discard(alarm)

    def _run(self) -> None:
        with self._cv:
            while True:
                now = time.monotonic()
                for alarm in [a for a in self._alarms if a.deadline <= now]:
                    self._alarms.discard(alarm)
                    alarm.fire()
                if self._alarms:
                    self._cv.wait(max(0.0, min(a.deadline for a in self._alarms) - time.monotonic()))
                elif not self._cv.wait(self.IDLE_EXIT_S) and not self._alarms:
                    self._running = False
                    return


WATCHDOG = Watchdog()


def socket_of(chunks: Any) -> socket.socket | None:
    """The socket an SDK stream reads from (httpcore's ``network_stream`` extension), if it can tell."""
    try:
        return chunks.response.extensions["network_stream"].get_extra_info("socket")
    except Exception:  # noqa: BLE001 - another transport: no stall alarm, the read timeout still bounds it
        return None
