"""Chat request -> model reply: one Backend interface; OpenAI-compatible client, response cache, concurrency.

Exactly one retry layer: the openai client is built with max_retries=0 and tenacity retries transient
failures (429, 5xx, timeouts, dropped connections, empty answers) with exponential backoff and jitter,
honouring Retry-After. Authentication, unknown model, exhausted quota and other 4xx fail at once; a
context-length error raises ContextTooLong so the caller can shrink the paper context once.

Endpoints differ in what a request may carry: reasoning models (o1/o3/o4-mini, the gpt-5 family, and any
deployment name an Azure or proxy user gives them) reject `max_tokens` and any `temperature` but 1, and spend
hidden reasoning tokens out of the completion budget. A `Profile` per (endpoint, model) says how to build the
body; a 400 naming a parameter as unsupported switches the profile and retries at once (not a failure), and the
switch is remembered for the run and in the cache directory (`endpoints.json`), so the next run starts right.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from drafter.cache import ResponseCache, request_key
from drafter.cleanup import strip_thinking, valid_text
from drafter.errors import ModelError
from drafter.files import atomic_write

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
    reasoning_effort: str | None = None  # low | medium | high, sent where the endpoint takes it


@dataclass
class Reply:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    source: str = "llm"  # "llm", or "extracted" for the offline drafter
    cached: bool = False
    finish_reason: str | None = None
    limit: int | None = None  # the completion-token limit the request carried (visible + hidden reasoning)
    reasoning_tokens: int = 0  # hidden reasoning the endpoint reported (part of completion_tokens)

    @property
    def cut(self) -> bool:
        """The answer stopped at the token limit, mid-text."""
        return self.finish_reason == "length"

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


class MalformedCompletion(EmptyCompletion):
    """The answer was not a chat-completion JSON object (retried like an empty answer)."""


class ParameterRejected(Exception):
    """The endpoint rejected a request parameter as unsupported (switch the profile and send again)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class BudgetSpent(EmptyCompletion):
    """The answer stopped at the token limit before any visible text (hidden reasoning or a <think> block):
    not retried as it is, but once with more headroom."""

    def __init__(self, limit: int, reasoning_tokens: int) -> None:
        super().__init__(f"no visible text within {limit} tokens")
        self.limit = limit
        self.reasoning_tokens = reasoning_tokens


# -- what an endpoint accepts ------------------------------------------------------------------------

# Extra completion tokens for hidden reasoning on top of a section's visible budget. A limit is a cap, not a
# spend: reasoning models are billed for what they use.
REASONING_HEADROOM = 4096
MIN_BUDGET_HEADROOM = 2048  # at least this much more after an answer spent its whole budget before any text
# Known reasoning models (matched after any "provider/" prefix); deployment names are learned from 400s.
_REASONING_NAME = re.compile(r"^(?:o[1-9](?:-(?:mini|pro|preview|deep-research)[\w.-]*)?|o[1-9]-\d[\w.-]*|"
                             r"gpt-5(?![\w.-]*chat)[\w.-]*)$", re.I)
_ADAPTABLE = ("max_tokens", "max_completion_tokens", "temperature", "reasoning_effort")
_REJECTION = re.compile(r"(?:unsupported|not supported|unrecognized|unknown|not permitted|not allowed|extra inputs|"
                        r"does not support)[^\n]{0,60}?\b(max_completion_tokens|max_tokens|temperature|"
                        r"reasoning_effort)\b|\b(max_completion_tokens|max_tokens|temperature|reasoning_effort)\b'?"
                        r"[^\n]{0,30}?(?:is not supported|is unsupported|not permitted|is not allowed|"
                        r"does not support)", re.I)


@dataclass(frozen=True)
class Profile:
    """How to build a request body for one (endpoint, model)."""

    token_param: str = "max_tokens"  # or "max_completion_tokens" (reasoning models)
    temperature: bool = True  # send the temperature (reasoning models take only their default)
    headroom: int = 0  # completion tokens added to each section's budget for hidden reasoning
    effort: bool = True  # send reasoning_effort when the user asked for one

    @property
    def reasoning(self) -> bool:
        return self.token_param == "max_completion_tokens"


REASONING = Profile("max_completion_tokens", temperature=False, headroom=REASONING_HEADROOM)


def is_reasoning_name(model: str) -> bool:
    """o1/o3/o4-mini..., the gpt-5 family (not the chat variants), with or without a "provider/" prefix."""
    return bool(_REASONING_NAME.match(model.rsplit("/", 1)[-1].strip()))


def default_profile(model: str) -> Profile:
    """The profile a model starts with before the endpoint says otherwise: by its name."""
    return REASONING if is_reasoning_name(model) else Profile()


def adapt_profile(profile: Profile, param: str) -> Profile | None:
    """The profile after the endpoint rejected `param`, or None when there is nothing left to change.

    A rejected max_tokens or temperature means a reasoning model (the two come together): switch to
    max_completion_tokens, drop the temperature and add headroom at once, so each request adapts only once.
    """
    if param in ("max_tokens", "temperature") and (profile.token_param == "max_tokens" or profile.temperature):
        if param == "temperature" and profile.token_param == "max_tokens" and not profile.temperature:
            return None
        return replace(profile, token_param="max_completion_tokens", temperature=False,
                       headroom=max(profile.headroom, REASONING_HEADROOM))
    if param == "max_completion_tokens" and profile.token_param == "max_completion_tokens":
        return replace(profile, token_param="max_tokens")
    if param == "reasoning_effort" and profile.effort:
        return replace(profile, effort=False)
    return None


def rejected_parameter(exc: BaseException) -> str | None:
    """The request parameter a 400/422 names as unsupported (OpenAI: code unsupported_parameter or
    unsupported_value with `param`; proxies and local servers: in the message), else None."""
    if _status(exc) not in (400, 422):
        return None
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("param") in _ADAPTABLE and str(inner.get("code") or "") in (
            "unsupported_parameter", "unsupported_value", "invalid_request_body", ""):
        return str(inner["param"])
    match = _REJECTION.search(_server_message(exc))
    return (match.group(1) or match.group(2)).lower() if match else None


class Profiles:
    """What each (endpoint, model) accepts: learned during the run, kept in `<cache>/endpoints.json`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: dict[str, Profile] = {}
        if path is None:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # none yet, or damaged: learned again and rewritten
        for key, value in (data.items() if isinstance(data, dict) else []):
            with contextlib.suppress(TypeError, ValueError):
                profile = Profile(**value)
                if profile.token_param in ("max_tokens", "max_completion_tokens"):
                    self.known[key] = profile

    @staticmethod
    def key(endpoint: str, model: str) -> str:
        return f"{endpoint.rstrip('/')} {model}"

    def get(self, key: str, model: str) -> Profile:
        return self.known.get(key) or default_profile(model)

    def remember(self, key: str, profile: Profile) -> None:
        if self.known.get(key) == profile:
            return
        self.known[key] = profile
        if self.path is None:
            return
        try:
            atomic_write(self.path, json.dumps({k: asdict(v) for k, v in sorted(self.known.items())}, indent=1))
        except OSError as exc:  # a read-only cache costs only the memory across runs
            log.warning("cannot save endpoint profiles to %s: %s", self.path, exc)


# A first request to an endpoint+model with no known profile goes alone, so a parameter rejection is learned
# once rather than by every section at the same time; the rest follow as soon as its first exchange settles
# (an answer, an error, or a rejection learned from), or after this long: a rejection comes back at once, so
# a request still running was accepted.
FIRST_CONTACT_WAIT = 0.5


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

    if isinstance(exc, BudgetSpent):
        return False
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
    return parse_retry_after(headers.get("retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header value (a number of seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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


def token_limit(request: Request, profile: Profile) -> int:
    """The completion-token limit a request carries: the section's budget plus the profile's headroom."""
    headroom = profile.headroom * (2 if request.reasoning_effort == "high" and profile.reasoning else 1)
    return request.max_tokens + headroom


def chat_body(request: Request, profile: Profile | None = None) -> dict[str, Any]:
    """The chat-completions body for a request as this endpoint profile takes it (by default: the profile the
    model's name suggests): model, messages, the token limit, temperature and reasoning effort."""
    profile = profile or default_profile(request.model)
    body: dict[str, Any] = {"model": request.model, "messages": request.messages,
                            profile.token_param: token_limit(request, profile)}
    if profile.temperature:
        body["temperature"] = request.temperature
    if request.reasoning_effort and profile.effort:
        body["reasoning_effort"] = request.reasoning_effort
    return body


def parse_completion(content: bytes) -> Any:
    """A chat-completion response body -> the openai client's `ChatCompletion`. Bytes that are not UTF-8 (a local
    server whose token split a multi-byte character) become U+FFFD instead of failing the whole draft."""
    from openai.types.chat import ChatCompletion

    try:
        data = json.loads(content.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise MalformedCompletion(f"the answer is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedCompletion("the answer is not a JSON object")
    return ChatCompletion.construct(**data)


def reply_from_completion(response: Any, request: Request, limit: int | None = None) -> Reply:
    """A chat completion (the openai client's object, online or parsed from a Batch API output line) -> Reply.

    Only `content` is the answer (reasoning_content / reasoning fields some servers add are never read) and a
    chain of thought in it is dropped. An empty answer raises EmptyCompletion; BudgetSpent when it stopped at
    the token limit (`limit`, what the request carried) before any visible text."""
    choice = response.choices[0] if response.choices else None
    content = choice.message.content if choice and choice.message else None
    text = strip_thinking(valid_text(content if isinstance(content, str) else ""))
    usage = response.usage
    details = getattr(usage, "completion_tokens_details", None) if usage else None
    reasoning_tokens = int(getattr(details, "reasoning_tokens", 0) or 0)
    finish_reason = choice.finish_reason if choice else None
    if not text.strip():
        if finish_reason == "length":
            raise BudgetSpent(limit or request.max_tokens, reasoning_tokens)
        raise EmptyCompletion(f"empty answer for section {request.section_id}")
    return Reply(
        text=text,
        model=response.model or request.model,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        finish_reason=finish_reason,
        limit=limit,
        reasoning_tokens=reasoning_tokens,
    )


class OpenAIBackend:
    """Any OpenAI-compatible endpoint through `openai.AsyncOpenAI` (OpenAI, Ollama, vLLM, llama.cpp, LM Studio)."""

    def __init__(self, settings: Settings, events: Events | None = None, profiles: Profiles | None = None) -> None:
        import openai  # imported on first use: `status`, `inspect` and offline drafts never need it

        self.settings = settings
        self.events = events or Events()
        self.name = settings.model
        self.profiles = profiles or Profiles(settings.cache_dir / "endpoints.json")
        self._first_contact: dict[str, asyncio.Event] = {}
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

    def _profile_key(self, request: Request) -> str:
        return Profiles.key(self.settings.public_endpoint, request.model)  # the file never holds credentials

    def profile(self, request: Request) -> Profile:
        """The profile this endpoint and model get: learned (this run or an earlier one), else by name."""
        return self.profiles.get(self._profile_key(request), request.model)

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of the chat-completions call for this request (the online path and the Batch API
        both send exactly this)."""
        return chat_body(request, self.profile(request))

    async def _await_first_contact(self, key: str) -> None:
        """The request that makes first contact goes at once; others wait until it settles (or briefly)."""
        if key in self.profiles.known:
            return
        event = self._first_contact.get(key)
        if event is None:
            self._first_contact[key] = asyncio.Event()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), FIRST_CONTACT_WAIT)

    def _settle(self, key: str) -> None:
        """First contact is over: requests waiting for it go."""
        event = self._first_contact.get(key)
        if event is not None:
            event.set()

    async def complete(self, request: Request) -> Reply:
        key = self._profile_key(request)
        await self._await_first_contact(key)
        try:
            return await self._adapting(request, key)
        finally:
            self._settle(key)

    async def _adapting(self, request: Request, key: str) -> Reply:
        """Send the request; switch the profile when the endpoint rejects a parameter or the answer spent its
        whole budget before any text (once), and send again at once: neither counts as a failure."""
        bumped = False
        for _ in range(2 * len(_ADAPTABLE)):
            profile = self.profile(request)
            try:
                reply = await self._retrying(request, profile)
            except ParameterRejected as exc:
                current = self.profile(request)
                if current != profile:
                    continue  # another section already learned it
                adapted = adapt_profile(profile, exc.param)
                if adapted is None:
                    raise ModelError(f"{self.settings.public_endpoint} rejected parameter {exc.param!r} for section "
                                     f"{request.section_id}: {scrub(str(exc), self.settings.api_key)}",
                                     "Check --model and --base-url; report the message if the model is "
                                     "right.") from exc
                log.info("%s rejected %s for %s: switching to %s", self.settings.public_endpoint, exc.param,
                         request.model, adapted)
                self.profiles.remember(key, adapted)
                self._settle(key)
                continue
            except BudgetSpent as exc:
                if bumped:
                    raise self._budget_error(request, exc) from exc
                bumped = True
                current = self.profile(request)
                if current == profile:  # learn more headroom: the next sections start with it
                    headroom = max(2 * profile.headroom, MIN_BUDGET_HEADROOM, request.max_tokens)
                    self.profiles.remember(key, replace(profile, headroom=headroom))
                self._settle(key)
                continue
            self.profiles.remember(key, profile)
            return reply
        raise ModelError(f"{self.settings.public_endpoint} kept rejecting the parameters of section "
                         f"{request.section_id}",
                         "Check --model and --base-url.")

    def _budget_error(self, request: Request, exc: BudgetSpent) -> ModelError:
        hidden = f" ({exc.reasoning_tokens} on hidden reasoning)" if exc.reasoning_tokens else ""
        return ModelError(f"model {request.model} spent all {exc.limit} tokens of section {request.section_id}'s "
                          f"budget{hidden} before writing any text, twice",
                          f"Raise the budget: --max-tokens {2 * exc.limit} (or [max_tokens] {request.section_id} = "
                          f"{2 * exc.limit} in config.toml), or use --reasoning-effort low.")

    async def _retrying(self, request: Request, profile: Profile) -> Reply:
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
                    return await self._once(request, profile)
        except BudgetSpent:
            raise  # _adapting gives it more room once
        except (openai.OpenAIError, EmptyCompletion) as exc:
            raise self._to_error(exc, request) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _once(self, request: Request, profile: Profile) -> Reply:
        import openai

        self.events.requests += 1
        body = chat_body(request, profile)
        key = self._profile_key(request)
        try:
            # The raw body, parsed here: the client's own parse dies on a byte that is not UTF-8.
            raw = await self.client.chat.completions.with_raw_response.create(**body)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            param = rejected_parameter(exc)
            if param is not None and param in body:
                raise ParameterRejected(param, _server_message(exc)) from exc  # settled once learned
            self._settle(key)
            raise
        except openai.OpenAIError:
            self._settle(key)  # an error that says nothing about the parameters: no reason to hold the rest
            raise
        try:
            reply = reply_from_completion(parse_completion(raw.content), request, token_limit(request, profile))
        except BudgetSpent:
            raise  # settled once the headroom is learned
        except EmptyCompletion:
            self._settle(key)
            raise
        self._settle(key)
        return reply

    def _to_error(self, exc: BaseException, request: Request) -> ModelError:
        import openai

        where = self.settings.public_endpoint
        model = request.model
        key = self.settings.api_key
        section = request.section_id
        tries = self.settings.retries + 1
        message = scrub(_server_message(exc), key)
        if isinstance(exc, MalformedCompletion):
            return ModelError(f"{where} sent a malformed answer for section {section} ({tries} tries): {exc}",
                              "Check that --base-url points at an OpenAI-compatible /v1 endpoint.")
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
        """The logical request (not the body an endpoint profile makes of it), so the cache still answers after
        a profile switch."""
        logical: dict[str, Any] = {"endpoint": self.endpoint, "model": request.model,
                                   "max_tokens": request.max_tokens, "temperature": request.temperature,
                                   "messages": request.messages}
        if request.reasoning_effort:
            logical["reasoning_effort"] = request.reasoning_effort
        return request_key(logical)

    async def complete(self, request: Request) -> Reply:
        key = self.key(request)
        hit = self.cache.get(key)
        if hit is not None and isinstance(hit.get("text"), str) and hit["text"].strip():
            self.events.cache_hits += 1
            limit = hit.get("limit")
            return Reply(hit["text"], hit.get("model", request.model), int(hit.get("prompt_tokens", 0)),
                         int(hit.get("completion_tokens", 0)), hit.get("source", "llm"), cached=True,
                         finish_reason=hit.get("finish_reason"), limit=limit if isinstance(limit, int) else None,
                         reasoning_tokens=int(hit.get("reasoning_tokens", 0) or 0))
        reply = await self.inner.complete(request)
        self.cache.put(key, {"text": reply.text, "model": reply.model, "prompt_tokens": reply.prompt_tokens,
                             "completion_tokens": reply.completion_tokens, "source": reply.source,
                             "finish_reason": reply.finish_reason, "section": request.section_id,
                             "limit": reply.limit, "reasoning_tokens": reply.reasoning_tokens})
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
    return {"model": settings.model, "endpoint": settings.public_endpoint, "offline": settings.offline,
            "jobs": settings.jobs, "api_key": "set" if settings.api_key else "unset",
            "reasoning_effort": settings.reasoning_effort, "max_tokens": settings.max_tokens}
