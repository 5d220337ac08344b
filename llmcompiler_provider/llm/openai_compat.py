"""Any OpenAI-compatible chat completions endpoint: OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio, TGI.

Calls go through the ``openai`` SDK with its own retries switched off: this module
retries 429 and 5xx answers and refused connections itself (bounded, exponential
backoff, honouring ``Retry-After``), never retries a timeout, and turns every
failure into one ``LLMError`` whose message names the endpoint and the model and
never the API key.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from llmcompiler_provider.llm.base import (
    CallClock,
    ChatStream,
    StreamingChatModel,
    Usage,
    clean_stop,
    estimate_tokens,
)
from llmcompiler_provider.results import one_line
from llmcompiler_provider.llm.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMError,
    LLMPromptTooLong,
    LLMRateLimited,
    LLMTimeout,
    LLMUnavailable,
)

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: what a server without authentication gets as a key (the SDK insists on one)
NO_KEY = "not-needed"
MAX_BACKOFF_S = 8.0
#: characters of a server's or transport's message kept in an error
MESSAGE_CHARS = 300
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_SECRET_LIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-*.]{6,}")


class OpenAIChatModel(StreamingChatModel):
    """A chat model behind an OpenAI-compatible HTTP endpoint, streamed."""

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
        max_retries: int = 3,
        backoff_s: float = 0.5,
        supports_grammar: bool = False,
        include_usage: bool = True,
    ) -> None:
        if not model:
            raise ValueError("an OpenAI-compatible model needs a model name")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.model_name = model
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.supports_grammar = supports_grammar
        self.include_usage = include_usage
        self.last_usage = None
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if self._api_key is None and base_url is None:
            raise LLMAuthError(f"no API key for {self.base_url}: set OPENAI_API_KEY or pass an API key")
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
            timeout=self._http_timeout(self.timeout),
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
        request["timeout"] = self._http_timeout(seconds)
        return ChatStream(self, lambda finish: self._generate(request, messages, seconds, finish))

    def _generate(
        self, request: dict[str, Any], messages: list[dict], timeout: float, finish: Callable[[Usage], None]
    ) -> Iterator[str]:
        clock = CallClock()
        pieces = 0
        reported: Any = None
        finished = False
        text_chars = 0
        try:
            chunks = self._open_stream(request, clock, timeout)
            try:
                for chunk in chunks:
                    if getattr(chunk, "usage", None) is not None:
                        reported = chunk.usage
                    for choice in chunk.choices or ():
                        if choice.finish_reason is not None:
                            finished = True
                        text = choice.delta.content if choice.delta is not None else None
                        if text:
                            pieces += 1
                            text_chars += len(text)
                            clock.mark_piece()
                            yield text
                    if clock.elapsed() > timeout:
                        raise LLMTimeout(f"{self.where} did not finish answering within {timeout:g}s")
            finally:
                chunks.close()
            if not finished:
                raise LLMBadResponse(f"{self.where} ended its stream before the answer was finished")
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - every transport failure becomes one clear LLMError
            raise self._stream_error(exc, timeout) from exc
        finally:
            finish(self._usage(clock, reported, messages, pieces))

    def _open_stream(self, request: dict[str, Any], clock: CallClock, timeout: float) -> Any:
        """The SDK's stream object, after retrying what is worth retrying."""
        attempt = 0
        while True:
            try:
                options = dict(request)
                if self.include_usage:
                    options["stream_options"] = {"include_usage": True}
                return self._client.chat.completions.create(**options)
            except Exception as exc:  # noqa: BLE001
                if self.include_usage and _rejects_stream_options(exc):
                    self.include_usage = False  # this server does not know stream_options: count approximately
                    continue
                delay = self._retry_delay(exc, attempt)
                if delay is None or attempt >= self.max_retries or clock.elapsed() + delay > timeout:
                    raise self._request_error(exc, attempt, timeout) from exc
                attempt += 1
                time.sleep(delay)

    def _retry_delay(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when ``exc`` is not worth a retry."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return None
        if isinstance(exc, openai.APIConnectionError):
            pass
        elif isinstance(exc, openai.APIStatusError) and exc.status_code in RETRYABLE_STATUS:
            retry_after = _retry_after_seconds(exc)
            if retry_after is not None:
                return min(retry_after, MAX_BACKOFF_S)
        else:
            return None
        return min(self.backoff_s * 2**attempt, MAX_BACKOFF_S) * (1 + 0.1 * random.random())

    # errors -----------------------------------------------------------------------
    def _request_error(self, exc: Exception, retries: int, timeout: float) -> LLMError:
        import openai

        tried = f" after {retries + 1} attempts" if retries else ""
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"{self.where} did not answer within {timeout:g}s")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"cannot reach {self.where}{tried}: {self._redact(_root_cause(exc))}")
        if isinstance(exc, openai.APIStatusError):
            status, detail = exc.status_code, self._redact(_server_message(exc))
            if status in (401, 403):
                return LLMAuthError(
                    f"{self.where} refused the credentials (HTTP {status}): check the API key"
                    + (f"; the server said: {detail}" if detail else "")
                )
            if status == 429:
                return LLMRateLimited(f"{self.where} kept rate-limiting the requests (HTTP 429){tried}")
            if status == 404:
                return LLMBadResponse(
                    f"{self.where} answered HTTP 404: check the base URL (it usually ends in /v1) "
                    f"and the model name" + (f"; the server said: {detail}" if detail else "")
                )
            if status == 400 and re.search(r"context|too long|maximum.*tokens", detail, re.I):
                return LLMPromptTooLong(f"{self.where} says the prompt is too long: {detail}")
            return LLMBadResponse(f"{self.where} answered HTTP {status}{tried}" + (f": {detail}" if detail else ""))
        return self._stream_error(exc, timeout)

    def _stream_error(self, exc: Exception, timeout: float) -> LLMError:
        import openai

        timeouts, transport_errors = _http_errors()
        if isinstance(exc, (*timeouts, openai.APITimeoutError)):
            return LLMTimeout(f"{self.where} stopped sending its answer for {timeout:g}s")
        if isinstance(exc, (*transport_errors, openai.APIConnectionError)):
            return LLMBadResponse(f"{self.where} dropped the connection mid-answer: {self._redact(_root_cause(exc))}")
        if isinstance(exc, (json.JSONDecodeError, openai.APIError, AttributeError, KeyError, TypeError)):
            return LLMBadResponse(f"{self.where} sent a malformed stream: {self._redact(one_line(str(exc), MESSAGE_CHARS))}")
        return LLMBadResponse(f"{self.where} failed: {type(exc).__name__}: {self._redact(one_line(str(exc), MESSAGE_CHARS))}")

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return _SECRET_LIKE.sub(lambda m: m.group(1) + "-***", text)

    def _usage(self, clock: CallClock, reported: Any, messages: list[dict], pieces: int) -> Usage:
        if reported is not None and getattr(reported, "completion_tokens", None) is not None:
            return clock.usage(int(reported.prompt_tokens or 0), int(reported.completion_tokens))
        prompt_chars = "".join(str(m.get("content", "")) for m in messages)
        return clock.usage(estimate_tokens(prompt_chars), pieces, exact=False)


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
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
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
