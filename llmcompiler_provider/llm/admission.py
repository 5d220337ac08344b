"""Admission control: how many requests go to one LLM endpoint at once, how often, with how many tokens.

Every HTTP attempt of an ``OpenAIChatModel`` asks its endpoint's ``AdmissionControl`` first
(``admit``) and reports how it went (``Permit.succeeded`` / ``slow_down`` / ``release``). One
control serves every call of the process that goes to the same endpoint (base URL and model):
``admission_for`` keeps them in a process-wide registry.

A request is admitted when

- no pause is running: an HTTP 429 or 503 pauses admission until its ``Retry-After`` has
  passed, and each waiting request then adds its own random spread, so the retries do not
  arrive in lockstep;
- a concurrency slot is free: at most ``max_concurrent_requests`` in flight; when ``adaptive``,
  a 429/503 (or a stream the server cut short) lowers the limit multiplicatively (never below
  1) and a run of successes raises it again by one, up to the concurrency at which the
  endpoint last refused, which is probed again only after a long run of successes: a batch
  started with no limits settles at what the endpoint accepts;
- a request and its estimated tokens fit ``requests_per_minute`` and ``tokens_per_minute``:
  token buckets that refill smoothly and hold one second's worth (as most endpoints enforce
  their limits: 600 requests a minute admits 10 a second, never 600 in the first second).
  A request's tokens are estimated at admission (prompt plus ``max_tokens``) and settled
  with the actual count when it ends.

``DaskAdmission`` (``admission_for(..., client=client)``) shares the concurrency slots, the
pause and the rate buckets with every other process that uses the same Dask scheduler and
endpoint, through Dask's own primitives: a ``distributed.Semaphore`` for the slots, a
``distributed.Lock`` around the scheduler's metadata for the pause and the buckets.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Callable

#: a 429/503's pause is followed by a random spread of this fraction of its Retry-After ...
SPREAD_FRACTION = 0.25
#: ... and at least this many seconds
MIN_SPREAD_S = 0.05
#: the adaptive limit is multiplied by this when the endpoint says slow down
DECREASE = 0.5
#: at the concurrency where the endpoint last refused, successes before trying one more
PROBE_AFTER = 100
#: successes per concurrency slot before the adaptive limit rises by one
RISE_AFTER = 1


@dataclass(frozen=True)
class AdmissionLimits:
    """What one endpoint may receive; ``None`` is no limit."""

    max_concurrent_requests: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    adaptive: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "adaptive" or value is None:
                continue
            number = int(value) if f.name == "max_concurrent_requests" else float(value)
            if number <= 0:
                raise ValueError(f"{f.name} must be positive (or None for no limit), not {value!r}")
            object.__setattr__(self, f.name, number)

    def stricter(self, other: "AdmissionLimits") -> "AdmissionLimits":
        """Both limits at once: the smaller of each, adaptive if either is."""

        def low(a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else min(a, b)

        return AdmissionLimits(
            low(self.max_concurrent_requests, other.max_concurrent_requests),
            low(self.requests_per_minute, other.requests_per_minute),
            low(self.tokens_per_minute, other.tokens_per_minute),
            self.adaptive or other.adaptive,
        )

    def describe(self) -> str:
        named = [f"{f.name}={getattr(self, f.name):g}" for f in fields(self)
                 if f.name != "adaptive" and getattr(self, f.name) is not None]
        return ", ".join(named) or "no limits"


class AdmissionTimeout(Exception):
    """A request was not admitted before its deadline; ``str()`` says what it waited for."""


class Permit:
    """One admitted request: report its outcome once (later reports are ignored)."""

    def __init__(self, control: "AdmissionControl", tokens: int, generation: int, waited_s: float) -> None:
        self.control = control
        self.tokens = tokens
        self.generation = generation
        self.waited_s = waited_s
        self._open = True

    def succeeded(self, tokens: int | None = None) -> None:
        """The endpoint answered; ``tokens`` is what the request actually used."""
        if self._close():
            self.control._settle(self, "ok", tokens=tokens)

    def slow_down(self, retry_after: float | None = None) -> None:
        """The endpoint said it is overloaded (429/503, or it cut a stream short)."""
        if self._close():
            self.control._settle(self, "overloaded", retry_after=retry_after)

    def release(self) -> None:
        """The request ended some other way (an error that says nothing about load)."""
        if self._close():
            self.control._settle(self, "other")

    def _close(self) -> bool:
        was_open, self._open = self._open, False
        return was_open


class AdmissionControl:
    """The admission of requests to one endpoint, shared by the threads of this process."""

    def __init__(self, endpoint: str, limits: AdmissionLimits | None = None) -> None:
        self.endpoint = endpoint
        self.limits = limits or AdmissionLimits()
        #: the endpoint has answered at least once in this process (so a refused connection is a restart)
        self.answered = False
        #: requests the endpoint answered with 429/503 (or cut short), over this control's life
        self.rate_limited = 0
        self._cv = threading.Condition()
        self._in_flight = 0
        self._limit: float | None = self.limits.max_concurrent_requests
        self._ceiling: int | None = None
        self._successes = 0
        self._generation = 0
        self._state: dict[str, Any] = {}
        self._state_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r}, {self.limits.describe()})"

    @property
    def concurrency_limit(self) -> int | None:
        """How many requests may be in flight now (None: no limit yet)."""
        return None if self._limit is None else int(self._limit)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def tighten(self, limits: AdmissionLimits) -> None:
        """Apply ``limits`` on top of the current ones (the stricter of each wins)."""
        with self._cv:
            self.limits = self.limits.stricter(limits)
            top = self.limits.max_concurrent_requests
            if top is not None:
                self._limit = top if self._limit is None else min(self._limit, top)
            self._cv.notify_all()

    # admission ------------------------------------------------------------------------
    def admit(self, tokens: int, *, deadline: float) -> Permit:
        """Wait until a request of about ``tokens`` tokens may go, by ``deadline`` (time.monotonic())."""
        started = time.monotonic()
        self._wait_for(lambda state, now: _pause_left(state, now), deadline, "the endpoint's Retry-After pause")
        generation = self._take_slot(deadline)
        try:
            self._take_shared_slot(deadline)
            try:
                self._wait_for(lambda state, now: _take_rate(state, now, self.limits, tokens), deadline,
                               f"the rate limits ({self.limits.describe()})")
            except BaseException:
                self._release_shared_slot()
                raise
        except BaseException:
            self._release_slot()
            raise
        return Permit(self, tokens, generation, time.monotonic() - started)

    def _wait_for(self, step: Callable[[dict, float], float], deadline: float, what: str) -> None:
        """Run ``step`` on the shared state until it returns 0 (done), sleeping the seconds it returns."""
        while (wait := self._transact(step)) > 0:
            if time.monotonic() + wait > deadline:
                raise AdmissionTimeout(f"waiting for {what} would take {wait:.1f}s more than the queue timeout")
            time.sleep(wait)

    def _take_slot(self, deadline: float) -> int:
        with self._cv:
            while self._limit is not None and self._in_flight >= max(1, int(self._limit)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AdmissionTimeout(
                        f"all {int(self._limit)} request slots stayed busy ({self.limits.describe()}"
                        f"{', lowered by the endpoint' if self._limit != self.limits.max_concurrent_requests else ''})"
                    )
                self._cv.wait(left)
            self._in_flight += 1
            return self._generation

    def _release_slot(self) -> None:
        with self._cv:
            self._in_flight -= 1
            self._cv.notify()

    # outcomes ----------------------------------------------------------------------------
    def _settle(self, permit: Permit, outcome: str, *, tokens: int | None = None,
                retry_after: float | None = None) -> None:
        self._release_shared_slot()
        with self._cv:
            in_flight = self._in_flight
            self._in_flight -= 1
            if outcome == "overloaded":
                self.rate_limited += 1
                self._decrease(permit.generation, in_flight)
            elif outcome == "ok":
                self.answered = True
                self._increase()
            self._cv.notify_all()
        if retry_after is not None:
            self._transact(lambda state, now: _pause(state, now, retry_after))
        if tokens is not None and self.limits.tokens_per_minute:
            self._transact(lambda state, now: _refund(state, now, self.limits, permit.tokens - tokens))

    def _decrease(self, generation: int, in_flight: int) -> None:
        """Multiplicative decrease, once per generation of admitted requests (as TCP does per window).

        The ceiling is one below the limit the refused request was admitted under (without a
        limit yet, one below the requests in flight): the concurrency of the refusal, not the
        requests in flight when it came back, which a refusal for the request rate can catch low.
        """
        if not self.limits.adaptive or generation != self._generation:
            return  # sent before the last decrease: it says nothing about the new limit
        refused_at = in_flight if self._limit is None else int(self._limit)
        self._ceiling = max(1, refused_at - 1)
        current = in_flight if self._limit is None else min(self._limit, in_flight)
        self._limit = max(1.0, math.floor(current * DECREASE))
        self._generation += 1
        self._successes = 0

    def _increase(self) -> None:
        """Additive increase after a run of successes: up to the ceiling, then a slow probe past it."""
        if not self.limits.adaptive or self._limit is None:
            return
        self._successes += 1
        top = self.limits.max_concurrent_requests
        at_ceiling = self._ceiling is not None and self._limit >= self._ceiling
        needed = max(PROBE_AFTER, 25 * int(self._limit)) if at_ceiling else RISE_AFTER * int(self._limit)
        if self._successes < needed or (top is not None and self._limit >= top):
            return
        self._successes = 0
        self._limit += 1
        if at_ceiling:
            self._ceiling = int(self._limit)

    # where the pause and the rate buckets live: this process (DaskAdmission: the scheduler) -------
    def _transact(self, step: Callable[[dict, float], float]) -> float:
        with self._state_lock:
            return step(self._state, time.time())

    def _take_shared_slot(self, deadline: float) -> None:
        """Only across processes (DaskAdmission)."""

    def _release_shared_slot(self) -> None:
        """Only across processes (DaskAdmission)."""


# the shared state: a plain dict (msgpack-able, so it can live in the Dask scheduler) --------
def _pause_left(state: dict, now: float) -> float:
    until = state.get("pause_until", 0.0)
    return until - now + random.uniform(0.0, state.get("spread", 0.0)) if until > now else 0.0


def _pause(state: dict, now: float, retry_after: float) -> float:
    until = now + retry_after
    if until > state.get("pause_until", 0.0):
        state["pause_until"] = until
        state["spread"] = max(MIN_SPREAD_S, SPREAD_FRACTION * retry_after)
    return 0.0


def _buckets(limits: AdmissionLimits, tokens: int) -> list[tuple[str, float, float]]:
    """(name, refill per second, amount this request takes) of each limited rate."""
    per_minute = (("rpm", limits.requests_per_minute, 1), ("tpm", limits.tokens_per_minute, tokens))
    return [(name, limit / 60.0, amount) for name, limit, amount in per_minute if limit]


def _level(state: dict, name: str, rate: float, now: float) -> float:
    """A bucket's level now; it holds at most one second's worth (at least one request)."""
    capacity = max(1.0, rate)
    level, at = state.get(name, (capacity, now))
    level = min(capacity, level + max(0.0, now - at) * rate)
    state[name] = [level, now]
    return level


def _take_rate(state: dict, now: float, limits: AdmissionLimits, tokens: int) -> float:
    """0 after taking the request's share of every bucket, else the seconds until they hold it."""
    pause = _pause_left(state, now)
    if pause:
        return pause
    wait = 0.0
    for name, rate, amount in _buckets(limits, tokens):
        need = min(amount, max(1.0, rate))  # a request bigger than a second's worth goes into debt
        wait = max(wait, (need - _level(state, name, rate, now)) / rate)
    if wait > 0:
        return wait
    for name, _rate, amount in _buckets(limits, tokens):
        state[name][0] -= amount
    return 0.0


def _refund(state: dict, now: float, limits: AdmissionLimits, tokens: int) -> float:
    """Give back what a request's estimate took beyond its actual tokens (or take the shortfall)."""
    for name, rate, _amount in _buckets(limits, 0):
        if name == "tpm":
            state[name][0] = _level(state, name, rate, now) + tokens
    return 0.0


class DaskAdmission(AdmissionControl):
    """An ``AdmissionControl`` whose slots, pause and rate buckets every process on the same Dask
    scheduler shares (the adaptive limit stays per process, under the shared slots)."""

    def __init__(self, endpoint: str, limits: AdmissionLimits | None, client: Any) -> None:
        from distributed import Lock, Semaphore

        super().__init__(endpoint, limits)
        self.name = "llmcompiler-admission-" + hashlib.sha256(endpoint.encode()).hexdigest()[:16]
        self._client = client
        self._lock = Lock(self.name + "-state", scheduler_rpc=client.scheduler, loop=client.loop)
        top = self.limits.max_concurrent_requests
        self._semaphore = None if top is None else Semaphore(
            max_leases=top, name=self.name + "-slots", scheduler_rpc=client.scheduler, loop=client.loop
        )

    def _transact(self, step: Callable[[dict, float], float]) -> float:
        key = [self.name]
        with self._lock:
            state = self._client.get_metadata(key, None) or {}
            result = step(state, time.time())
            self._client.set_metadata(key, state)
        return result

    def _take_shared_slot(self, deadline: float) -> None:
        if self._semaphore is not None and not self._semaphore.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise AdmissionTimeout(
                f"all {self.limits.max_concurrent_requests} request slots shared through Dask stayed busy"
            )

    def _release_shared_slot(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()


_registry: dict[tuple[str, str | None], AdmissionControl] = {}
_registry_lock = threading.Lock()


def admission_for(endpoint: str, limits: AdmissionLimits | None = None, *, client: Any = None) -> AdmissionControl:
    """The admission control of ``endpoint`` in this process, made on first use.

    With a Dask ``client``, a ``DaskAdmission`` shared with every process on that scheduler.
    Asked again with other limits, the control keeps the stricter of each.
    """
    limits = limits or AdmissionLimits()
    key = (endpoint, None if client is None else client.scheduler.address)
    with _registry_lock:
        control = _registry.get(key)
        if control is None:
            control = _registry[key] = (
                AdmissionControl(endpoint, limits) if client is None else DaskAdmission(endpoint, limits, client)
            )
            return control
    if limits != control.limits:
        control.tighten(limits)
    return control
