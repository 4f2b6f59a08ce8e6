"""Chat request -> model reply: one Backend interface; OpenAI-compatible client, response cache, concurrency.

Exactly one retry layer: the openai client is built with max_retries=0 and tenacity retries transient
failures (429, 5xx, timeouts, dropped connections, empty answers) with exponential backoff and jitter,
honouring Retry-After. Authentication, unknown model, exhausted quota and other 4xx fail at once; a
context-length error raises ContextTooLong so the caller can shrink the paper context once.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from drafter.cache import ResponseCache, request_key
from drafter.errors import ModelError

if TYPE_CHECKING:
    from drafter.config import Settings
    from drafter.paper import Paper

log = logging.getLogger(__name__)

_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|exceeds? the (available )?context|context size|"
    r"too many tokens|prompt is too long|input is too long|exceed_context_size",
    re.I,
)


@dataclass
class Request:
    section_id: str
    messages: list[dict[str, str]]
    max_tokens: int
    model: str
    temperature: float = 0.3
    # The offline backend drafts from the paper itself rather than from the messages.
    paper: Paper | None = field(default=None, compare=False, repr=False)
    label: str = ""  # which paper the request belongs to, for progress lines


@dataclass
class Reply:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    source: str = "llm"  # "llm", or "extracted" for the offline drafter
    cached: bool = False
    finish_reason: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Backend(Protocol):
    name: str

    async def complete(self, request: Request) -> Reply: ...

    async def aclose(self) -> None: ...


class ContextTooLong(ModelError):
    """The server said the prompt does not fit the model's context window."""


class EmptyCompletion(Exception):
    """The model answered with nothing (retried like a transient failure)."""


@dataclass
class Events:
    """Hooks for progress display; every counter the summary needs."""

    on_retry: Callable[[str, float, str], None] | None = None
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    in_flight: int = 0
    waiting_retry: int = 0

    def retried(self, section: str, wait: float, reason: str) -> None:
        self.retries += 1
        if self.on_retry is not None:
            self.on_retry(section, wait, reason)


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _error_code(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    code = getattr(exc, "code", None) or ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = code or str(inner.get("code") or inner.get("type") or "")
    return str(code)


def _is_quota(exc: BaseException) -> bool:
    return "insufficient_quota" in _error_code(exc) or "quota" in str(getattr(exc, "message", "")).lower()


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: rate limits (not exhausted quota), server errors, timeouts, dropped connections."""
    import openai  # imported on first use: it costs about a second at start-up

    if isinstance(exc, EmptyCompletion | openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.RateLimitError):
        return not _is_quota(exc)
    status = _status(exc)
    return isinstance(exc, openai.APIStatusError) and status is not None and (status >= 500 or status == 408)


# A refused connection usually means the local server is not running: say so after a short while instead of
# backing off for a minute. Timeouts and dropped connections keep the full retry budget.
REFUSED_ATTEMPTS = 3


def is_refused(exc: BaseException | None) -> bool:
    """The endpoint refused the connection (nothing listens there), as opposed to a timeout or a drop."""
    import openai

    if not isinstance(exc, openai.APIConnectionError) or isinstance(exc, openai.APITimeoutError):
        return False
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower() or (
                "all connection attempts failed" in str(cause).lower()):
            return True
        cause = cause.__cause__
    return False


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def scrub(text: str, secret: str | None) -> str:
    """Remove an API key (and OpenAI-style key fragments) from text shown to the user."""
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"\bsk-[A-Za-z0-9_\-*]{6,}", "sk-***", text)


def _server_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", "") or exc)


def chat_body(request: Request) -> dict[str, Any]:
    """The chat-completions body for a request: model, messages and the sampling parameters."""
    return {"model": request.model, "messages": request.messages, "max_tokens": request.max_tokens,
            "temperature": request.temperature}


def reply_from_completion(response: Any, request: Request) -> Reply:
    """A chat completion (the openai client's object, online or parsed from a Batch API output line) -> Reply;
    an empty answer raises EmptyCompletion."""
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content or "") if choice and choice.message else ""
    if not text.strip():
        raise EmptyCompletion(f"empty answer for section {request.section_id}")
    usage = response.usage
    return Reply(
        text=text,
        model=response.model or request.model,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        finish_reason=choice.finish_reason if choice else None,
    )


class OpenAIBackend:
    """Any OpenAI-compatible endpoint through `openai.AsyncOpenAI` (OpenAI, Ollama, vLLM, llama.cpp, LM Studio)."""

    def __init__(self, settings: Settings, events: Events | None = None) -> None:
        import openai  # imported on first use: `status`, `inspect` and offline drafts never need it

        self.settings = settings
        self.events = events or Events()
        self.name = settings.model
        # Keyless local servers still need a non-empty key for the client; it is never sent anywhere else.
        self.client = openai.AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            base_url=settings.endpoint,
            max_retries=0,
            timeout=settings.timeout,
        )

    async def aclose(self) -> None:
        await self.client.close()

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = min(REFUSED_ATTEMPTS, self.settings.retries + 1) if is_refused(exc) else self.settings.retries + 1
        return stop_after_attempt(limit)(state)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_random_exponential(multiplier=0.5, max=self.settings.max_backoff)(state)
        asked = retry_after(exc)
        return min(max(backoff, asked or 0.0), self.settings.max_backoff)

    async def complete(self, request: Request) -> Reply:
        import openai

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            reason = scrub(f"{type(exc).__name__}: {_server_message(exc)}" if exc else "", self.settings.api_key)
            log.info("section %s: %s; retrying in %.1fs", request.section_id, reason, wait)
            self.events.retried(request.section_id, wait, reason)

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=self._stop,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(request)
        except (openai.OpenAIError, EmptyCompletion) as exc:
            raise self._to_error(exc, request) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of the chat-completions call for this request (the online path and the Batch API
        both send exactly this)."""
        return chat_body(request)

    async def _once(self, request: Request) -> Reply:
        self.events.requests += 1
        response = await self.client.chat.completions.create(**self.body(request))
        return reply_from_completion(response, request)

    def _to_error(self, exc: BaseException, request: Request) -> ModelError:
        import openai

        where = self.settings.endpoint
        model = request.model
        key = self.settings.api_key
        section = request.section_id
        tries = self.settings.retries + 1
        message = scrub(_server_message(exc), key)
        if isinstance(exc, EmptyCompletion):
            return ModelError(f"model {model} returned an empty answer for section {section} ({tries} tries)",
                              "Try again, raise --context-tokens or use a stronger model.")
        if isinstance(exc, openai.AuthenticationError):
            return ModelError(f"{where} rejected the API key (401)",
                              "Check OPENAI_API_KEY or DRAFTER_API_KEY, or use --offline.")
        if isinstance(exc, openai.PermissionDeniedError):
            return ModelError(f"{where} denied access to model {model} (403): {message}",
                              "Check that your key may use this model.")
        if isinstance(exc, openai.NotFoundError):
            return ModelError(f"model {model!r} not found at {where} (404)",
                              "Check --model against the models your server lists (GET /models).")
        if isinstance(exc, openai.RateLimitError) and _is_quota(exc):
            return ModelError(f"quota exhausted at {where} (429 insufficient_quota)",
                              "Add credit or switch model; finished sections are cached, so re-running "
                              "resumes.")
        if isinstance(exc, openai.BadRequestError) and _CONTEXT_PATTERNS.search(f"{_error_code(exc)} {message}"):
            return ContextTooLong(f"section {section}: prompt too long for {model}'s context window: {message}",
                                  "Lower --context-tokens or use a model with a larger context.")
        if isinstance(exc, openai.APITimeoutError):
            return ModelError(f"{where} did not answer section {section} within {self.settings.timeout:g}s "
                              f"({tries} tries)", "Raise --timeout, lower --jobs, or check the server.")
        if isinstance(exc, openai.APIConnectionError):
            tries = min(tries, REFUSED_ATTEMPTS) if is_refused(exc) else tries
            return ModelError(f"cannot connect to {where} ({tries} tries)",
                              "Check --base-url and that the server is running, or use --offline.")
        status = _status(exc)
        return ModelError(f"{where} failed for section {section}" + (f" ({status})" if status else "")
                          + f": {message}", "Try again later; finished sections are cached.")


class CachedBackend:
    """Answers a request identical in endpoint, model, parameters and messages from the response cache."""

    def __init__(self, inner: Backend, cache: ResponseCache, endpoint: str, events: Events | None = None) -> None:
        self.inner = inner
        self.cache = cache
        self.endpoint = endpoint
        self.events = events or Events()
        self.name = inner.name

    async def aclose(self) -> None:
        await self.inner.aclose()

    def key(self, request: Request) -> str:
        return request_key({"endpoint": self.endpoint, "model": request.model, "max_tokens": request.max_tokens,
                            "temperature": request.temperature, "messages": request.messages})

    async def complete(self, request: Request) -> Reply:
        key = self.key(request)
        hit = self.cache.get(key)
        if hit is not None and isinstance(hit.get("text"), str) and hit["text"].strip():
            self.events.cache_hits += 1
            return Reply(hit["text"], hit.get("model", request.model), int(hit.get("prompt_tokens", 0)),
                         int(hit.get("completion_tokens", 0)), hit.get("source", "llm"), cached=True,
                         finish_reason=hit.get("finish_reason"))
        reply = await self.inner.complete(request)
        self.cache.put(key, {"text": reply.text, "model": reply.model, "prompt_tokens": reply.prompt_tokens,
                             "completion_tokens": reply.completion_tokens, "source": reply.source,
                             "finish_reason": reply.finish_reason, "section": request.section_id})
        return reply


class LimitedBackend:
    """One global limit on requests in flight, shared by every paper of a run."""

    def __init__(self, inner: Backend, jobs: int, events: Events | None = None) -> None:
        self.inner = inner
        self.semaphore = asyncio.Semaphore(jobs)
        self.events = events or Events()
        self.name = inner.name

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def complete(self, request: Request) -> Reply:
        async with self.semaphore:
            self.events.in_flight += 1
            try:
                return await self.inner.complete(request)
            finally:
                self.events.in_flight -= 1


class OfflineBackend:
    """No network: drafts each section from the paper's own sentences (see `drafter.offline`)."""

    name = "offline"

    async def aclose(self) -> None:
        return None

    async def complete(self, request: Request) -> Reply:
        from drafter.offline import draft_offline  # local import: only the offline path needs it

        if request.paper is None:
            raise ModelError(f"offline drafter needs the paper for section {request.section_id}")
        text = draft_offline(request.paper, request.section_id)
        return Reply(text=text, model="offline", source="extracted")


def make_backend(settings: Settings, events: Events | None = None) -> Backend:
    """The backend stack for these settings: offline, or OpenAI-compatible behind the cache and the limit."""
    events = events or Events()
    if settings.offline:
        return OfflineBackend()
    backend: Backend = OpenAIBackend(settings, events)
    if settings.cache:
        backend = CachedBackend(backend, ResponseCache(settings.cache_dir), settings.endpoint, events)
    return LimitedBackend(backend, settings.jobs, events)


def describe(settings: Settings) -> dict[str, Any]:
    """Settings worth showing with --debug (never the key)."""
    return {"model": settings.model, "endpoint": settings.endpoint, "offline": settings.offline,
            "jobs": settings.jobs, "api_key": "set" if settings.api_key else "unset"}
