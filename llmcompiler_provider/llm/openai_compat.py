"""Any OpenAI-compatible chat completions endpoint: OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio, TGI.

Calls go through the ``openai`` SDK with its own retries switched off; this module decides
what is retried, passes every HTTP attempt through the endpoint's admission control
(``llm/admission.py``) and turns every failure into one ``LLMError`` whose message names the
endpoint and the model and never the API key.

What is retried, and for how long:

- the endpoint's state, not the prompt's failure: HTTP 429 and 503 (they also slow the
  admission down), 502 and 504, a refused connection to an endpoint that has answered before
  in this process (a server restarting), and a stream cut short (ended without a
  ``finish_reason``, or dropped mid-answer). These are retried until the call has spent
  ``queue_timeout`` seconds waiting (for admission, backing off, or for the server's first
  piece); with ``Retry-After``, never sooner than it asks, plus a random spread; without, after
  an exponential backoff with full jitter. A cut stream is asked again and the text already
  delivered is skipped when the new answer starts with it (deterministic decoding: temperature
  0); when it differs, ``LLMStreamCut``.
- HTTP 500, 408, 409, and a refused connection to an endpoint never seen answering (a wrong
  URL fails fast): at most ``max_retries`` more attempts.
- nothing else (401, 403, 404, 400, a malformed stream, an answer that exceeds ``timeout``).
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Generator, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from llmcompiler_provider.llm.admission import AdmissionControl, AdmissionLimits, AdmissionTimeout, Permit, admission_for
from llmcompiler_provider.llm.answer_stream import WATCHDOG, CallState, Reading
from llmcompiler_provider.llm.base import ChatStream, StreamingChatModel, Usage, clean_stop, estimate_tokens
from llmcompiler_provider.results import one_line
from llmcompiler_provider.llm.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMError,
    LLMPromptTooLong,
    LLMRateLimited,
    LLMStreamCut,
    LLMTimeout,
    LLMUnavailable,
)

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: what a server without authentication gets as a key (the SDK insists on one)
NO_KEY = "not-needed"
#: the longest backoff between two attempts without Retry-After (full jitter below it)
MAX_BACKOFF_S = 8.0
#: characters of a server's or transport's message kept in an error
MESSAGE_CHARS = 300
#: the endpoint is overloaded: slow the admission down, retry within the queue timeout
BUSY_STATUS = frozenset({429, 503})
#: a gateway could not reach the server: retry within the queue timeout
GATEWAY_STATUS = frozenset({502, 504})
#: the server failed this request: retry at most max_retries times
SERVER_ERROR_STATUS = frozenset({408, 409, 500})
_SECRET_LIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-*.]{6,}")


class OpenAIChatModel(StreamingChatModel):
    """A chat model behind an OpenAI-compatible HTTP endpoint, streamed; safe to share between threads.

    Time limits of one call:

    - ``queue_timeout`` (default 600 s) bounds the time the call spends waiting: for admission
      (the limits below, a ``Retry-After`` pause), backing off between attempts, and for the
      server's first piece of each attempt (its own queue). When it runs out, the call fails
      with ``LLMRateLimited`` (429s, or the limits kept it waiting), ``LLMUnavailable`` (503,
      502/504, refused), ``LLMStreamCut`` or ``LLMTimeout`` (the server never started answering).
    - ``timeout`` (default 60 s) bounds the answer: from the first piece of an attempt to its
      end, so no silence inside the answer lasts longer either. Queueing never counts against it.
    - ``connect_timeout`` bounds opening each connection.

    Admission: ``max_concurrent_requests``, ``requests_per_minute``, ``tokens_per_minute``
    (None: no limit) and ``adaptive_concurrency`` are the limits of this endpoint, shared by
    every model of the process that goes to the same base URL and model (the stricter limits
    win). ``share_limits=True`` shares them with every process of the Dask cluster this
    process has a client of; ``admission`` passes an ``AdmissionControl`` of your own.
    """

    provider_name = "openai"  # gen_ai.provider.name in traces

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        queue_timeout: float = 600.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        supports_grammar: bool = False,
        include_usage: bool = True,
        max_concurrent_requests: int | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        adaptive_concurrency: bool = True,
        share_limits: bool = False,
        admission: AdmissionControl | None = None,
    ) -> None:
        if not model:
            raise ValueError("an OpenAI-compatible model needs a model name")
        for name, value in (("timeout", timeout), ("queue_timeout", queue_timeout)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.model_name = model
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.queue_timeout = float(queue_timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.supports_grammar = supports_grammar
        self.include_usage = include_usage
        self.last_usage = None
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if self._api_key is None and base_url is None:
            raise LLMAuthError(f"no API key for {self.base_url}: set OPENAI_API_KEY or pass an API key")
        limits = AdmissionLimits(max_concurrent_requests, requests_per_minute, tokens_per_minute,
                                 _flag(adaptive_concurrency))
        if admission is None:
            client = _dask_client(self.where) if _flag(share_limits) else None
            admission = admission_for(self.where, limits, client=client)
        elif limits != AdmissionLimits(adaptive=limits.adaptive):
            admission.tighten(limits)
        self.admission = admission
        self._client = self._make_client(dict(extra_headers or {}))

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.base_url!r}, model={self.model_name!r})"

    def _make_client(self, headers: dict[str, str]) -> Any:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise LLMUnavailable(f"the openai package is not installed ({exc})") from exc
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=self._api_key or NO_KEY,
            default_headers=headers,
            max_retries=0,
            timeout=self._http_timeout(self.queue_timeout),
        )

    def _http_timeout(self, seconds: float) -> Any:
        import openai

        # the SDK's own Timeout: httpx's up to openai 2, httpx2's from openai 3
        return openai.Timeout(seconds, connect=min(seconds, self.connect_timeout))

    @property
    def where(self) -> str:
        """How messages name this backend: endpoint (without any user:password@) and model."""
        parts = urlsplit(self.base_url)
        if parts.username or parts.password:
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        return f"{urlunsplit(parts)} (model {self.model_name})"

    # the call ---------------------------------------------------------------------
    def stream(
        self,
        messages: list[dict],
        *,
        stop: list[str] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        grammar: str | None = None,
        timeout: float | None = None,
    ) -> ChatStream:
        self._begin_call(messages, max_tokens)
        request: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        stop = clean_stop(stop)
        if stop:
            request["stop"] = stop
        if grammar and self.supports_grammar:
            request["extra_body"] = {"grammar": grammar}
        seconds = self.timeout if timeout is None else float(timeout)
        prompt_tokens = estimate_tokens("".join(str(m.get("content", "")) for m in messages))
        return ChatStream(self, lambda finish: self._generate(request, prompt_tokens, seconds, finish))

    def _generate(
        self, request: dict[str, Any], prompt_tokens: int, timeout: float, finish: Callable[[Usage], None]
    ) -> Iterator[str]:
        call = CallState(prompt_tokens)
        try:
            while True:
                permit = self._admit(call, prompt_tokens + request["max_tokens"])
                delay = yield from self._attempt(request, call, permit, timeout)
                if delay is None:
                    return
                if call.queued_s + delay > self.queue_timeout:
                    raise self._gave_up(call)
                time.sleep(delay)
                call.wait(delay)
        finally:
            finish(call.usage())

    def _admit(self, call: CallState, tokens: int) -> Permit:
        try:
            permit = self.admission.admit(tokens, deadline=time.monotonic() + self.queue_timeout - call.queued_s)
        except AdmissionTimeout as exc:
            raise self._gave_up(call, str(exc)) from None
        call.wait(permit.waited_s)
        call.attempts += 1
        return permit

    def _attempt(
        self, request: dict[str, Any], call: CallState, permit: Permit, timeout: float
    ) -> Generator[str, None, float | None]:
        """One HTTP attempt: yields the new text; returns None when the answer is complete, else
        the seconds to wait before the next attempt. Raises what is not worth another attempt."""
        sent = time.monotonic()
        try:
            try:
                chunks = self._send(request, self.queue_timeout - call.queued_s)
            except Exception as exc:  # noqa: BLE001 - sorted by _request_failed
                call.queued_s += time.monotonic() - sent
                return self._request_failed(exc, call, permit)
            self.admission.answered = True
            reading = Reading(call, sent, timeout)
            try:
                yield from reading.pieces(chunks, self.where)
            except LLMError:
                raise
            except Exception as exc:  # noqa: BLE001 - a transport failure mid-answer: sorted below
                reading.cut = self._mid_answer_problem(exc, reading, timeout)
            finally:
                WATCHDOG.disarm(reading.alarm)
                chunks.close()
            if reading.first_piece is None:
                call.queued_s += time.monotonic() - sent
            if reading.finish_reason is not None:  # complete, even if the connection broke after it
                reading.replay.check_complete(self.where)
                call.finish_reason = reading.finish_reason
                permit.succeeded(call.tokens_used())
                return None
            permit.slow_down()
            call.cuts += 1
            call.last = ("cut", reading.cut or "ended its stream before the answer was finished")
            return self._backoff(call)
        finally:
            permit.release()  # on every other way out (a raised error, the consumer closing the stream)

    def _send(self, request: dict[str, Any], budget: float) -> Any:
        options = dict(request)
        if self.include_usage:
            options["stream_options"] = {"include_usage": True}
        options["timeout"] = self._http_timeout(max(budget, 0.001))  # its read timeout: the server's queue
        return self._client.chat.completions.create(**options)

    def _request_failed(self, exc: Exception, call: CallState, permit: Permit) -> float:
        """Seconds to wait before the next attempt after a request that got no stream, or raise."""
        import openai

        if self.include_usage and _rejects_stream_options(exc):
            self.include_usage = False  # this server does not know stream_options: count approximately
            call.attempts -= 1
            return 0.0
        timeouts, _ = _http_errors()
        if isinstance(exc, (*timeouts, openai.APITimeoutError)) and not _refused(exc):
            permit.release()  # the read timeout is what is left of the queue timeout
            raise (self._gave_up(call) if call.last else self._never_started()) from exc
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        if status is not None:
            self.admission.answered = True
        retry_after = _retry_after_seconds(exc) if status in BUSY_STATUS else None
        if status in BUSY_STATUS:
            call.rate_limited += 1
            permit.slow_down(retry_after)
            call.last = ("status", exc)
            return 0.0 if retry_after is not None else self._backoff(call)  # admission waits out Retry-After
        permit.release()
        refused = _refused(exc)
        if status in GATEWAY_STATUS or (refused and self.admission.answered):
            call.last = ("status" if status else "refused", exc)
            return self._backoff(call)
        if status in SERVER_ERROR_STATUS or refused:
            if call.errors >= self.max_retries:
                raise self._request_error(exc, call.attempts) from exc
            call.errors += 1
            call.last = ("status" if status else "refused", exc)
            return self._backoff(call)
        raise self._request_error(exc, call.attempts) from exc

    def _backoff(self, call: CallState) -> float:
        """Exponential backoff with full jitter."""
        return random.uniform(0.0, min(MAX_BACKOFF_S, self.backoff_s * 2 ** max(0, call.attempts - 1)))

    def _mid_answer_problem(self, exc: Exception, reading: Reading, timeout: float) -> str:
        """A failure while reading the answer: a cut worth another attempt (its description), or raise."""
        import openai

        timeouts, transport_errors = _http_errors()
        if reading.alarm is not None and reading.alarm.fired:
            silent = time.monotonic() - (reading.last_piece or reading.first_piece or 0.0)
            if silent >= 0.9 * timeout:
                raise LLMTimeout(f"{self.where} stopped sending its answer for {timeout:g}s") from exc
            raise LLMTimeout(f"{self.where} did not finish answering within {timeout:g}s") from exc
        if isinstance(exc, (*timeouts, openai.APITimeoutError)):
            if reading.first_piece is None:  # the read timeout is what was left of the queue timeout
                raise (self._gave_up(reading.call) if reading.call.last else self._never_started()) from exc
            raise LLMTimeout(f"{self.where} stopped sending its answer for {self.queue_timeout:g}s") from exc
        if isinstance(exc, (*transport_errors, openai.APIConnectionError)):
            return f"dropped the connection mid-answer: {self._redact(_root_cause(exc))}"
        raise self._stream_error(exc) from exc

    # errors -----------------------------------------------------------------------
    def _never_started(self) -> LLMTimeout:
        return LLMTimeout(f"{self.where} did not start answering within the queue timeout ({self.queue_timeout:g}s)")

    def _gave_up(self, call: CallState, waiting: str | None = None) -> LLMError:
        """The error of a call whose queue timeout ran out, after what it last met."""
        spent = f"the queue timeout ({self.queue_timeout:g}s, {call.attempts} attempts)"
        kind, cause = call.last or ("admission", None)
        if kind == "cut":
            return LLMStreamCut(f"{self.where} cut its answer short {call.cuts} times (it {cause}) "
                                f"and did not finish it within {spent}")
        if kind == "refused":
            return LLMUnavailable(f"cannot reach {self.where} within {spent}: {self._redact(_root_cause(cause))}")
        if kind == "status":
            status, detail = cause.status_code, self._redact(_server_message(cause))
            said = f"; the server said: {detail}" if detail else ""
            if status == 429:
                return LLMRateLimited(
                    f"{self.where} kept rate-limiting the requests (HTTP 429) for {spent}: lower "
                    f"max_concurrent_requests or requests_per_minute, or raise queue_timeout{said}"
                )
            if status in BUSY_STATUS | GATEWAY_STATUS:
                return LLMUnavailable(f"{self.where} kept answering HTTP {status} for {spent}{said}")
            return self._request_error(cause, call.attempts)
        return LLMRateLimited(
            f"{self.where}: the request was not admitted within the queue timeout ({self.queue_timeout:g}s): "
            f"{waiting or 'no attempt left'}"
        )

    def _request_error(self, exc: Exception, attempts: int) -> LLMError:
        import openai

        tried = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
            return self._never_started()
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"cannot reach {self.where}{tried}: {self._redact(_root_cause(exc))}")
        if isinstance(exc, openai.APIStatusError):
            status, detail = exc.status_code, self._redact(_server_message(exc))
            if status in (401, 403):
                return LLMAuthError(
                    f"{self.where} refused the credentials (HTTP {status}): check the API key"
                    + (f"; the server said: {detail}" if detail else "")
                )
            if status == 404:
                return LLMBadResponse(
                    f"{self.where} answered HTTP 404: check the base URL (it usually ends in /v1) "
                    f"and the model name" + (f"; the server said: {detail}" if detail else "")
                )
            if status == 400 and re.search(r"context|too long|maximum.*tokens", detail, re.I):
                return LLMPromptTooLong(f"{self.where} says the prompt is too long: {detail}")
            return LLMBadResponse(f"{self.where} answered HTTP {status}{tried}" + (f": {detail}" if detail else ""))
        return self._stream_error(exc)

    def _stream_error(self, exc: Exception) -> LLMError:
        import openai

        if isinstance(exc, (json.JSONDecodeError, openai.APIError, AttributeError, KeyError, TypeError)):
            return LLMBadResponse(f"{self.where} sent a malformed stream: {self._redact(one_line(str(exc), MESSAGE_CHARS))}")
        return LLMBadResponse(f"{self.where} failed: {type(exc).__name__}: {self._redact(one_line(str(exc), MESSAGE_CHARS))}")

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return _SECRET_LIKE.sub(lambda m: m.group(1) + "-***", text)


def _dask_client(where: str) -> Any:
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError) as exc:
        raise ValueError(f"share_limits=True for {where} needs a Dask client in this process "
                         f"(a worker's, or a default client): {exc}") from None


def _flag(value: Any) -> bool:
    """A boolean option, also when a connection's extra gives it as a string."""
    return value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)


def _refused(exc: Exception) -> bool:
    """The connection could not be made (refused, unresolvable, connect timeout): nothing was sent."""
    import openai

    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        return True
    cause = exc.__cause__ or exc.__context__
    return "ConnectTimeout" in (type(exc).__name__, type(cause).__name__)


#: the HTTP clients the openai SDK is built on: httpx up to openai 2, httpx2 from openai 3
HTTP_CLIENT_PACKAGES = ("httpx", "httpx2")


def _http_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout errors, transport errors) of the HTTP clients loaded in this process: an error read
    mid-stream comes from the client the SDK uses, unwrapped, and only a loaded client can raise."""
    clients = [sys.modules[name] for name in HTTP_CLIENT_PACKAGES if name in sys.modules]
    return (
        tuple(client.TimeoutException for client in clients),
        tuple(client.TransportError for client in clients),
    )


def _rejects_stream_options(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None)
    return status in (400, 422) and "stream_options" in _server_message(exc)


def _retry_after_seconds(exc: Any) -> float | None:
    """The server's ``retry-after-ms`` or ``Retry-After`` (seconds, or an HTTP date), if it gave one."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                continue
    return None


def _server_message(exc: Any) -> str:
    """The server's own error sentence, on one line, if it gave one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message is None:
            message = body.get("detail") or body.get("message")
        if message is not None:
            return one_line(message if isinstance(message, str) else json.dumps(message), MESSAGE_CHARS)
    if isinstance(body, str) and body.strip():
        return one_line(body, MESSAGE_CHARS)
    response = getattr(exc, "response", None)
    return one_line(response.reason_phrase, MESSAGE_CHARS) if response is not None and response.reason_phrase else ""


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return one_line(str(exc) or type(exc).__name__, MESSAGE_CHARS)
