"""Any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp, LM Studio) through `openai.AsyncOpenAI`.

Answers are streamed (`stream=True`, with the usage in a last chunk where the endpoint takes
`stream_options`), so `--timeout` is time without progress, not time for the whole answer; an endpoint that
rejects streaming gets whole answers (learned like any rejected parameter, see `drafter.llm.profiles`). A stream
drafter gives up on is closed, so the server stops generating it, before the request is sent again.

Exactly one retry layer: the openai client is built with max_retries=0 and `drafter.llm.retry` retries transient
failures. Authentication, unknown model, exhausted quota and other 4xx fail at once; a context-length error
raises ContextTooLong so the caller can shrink the paper context once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import RetryCallState

from drafter.cleanup import strip_thinking, valid_text
from drafter.errors import ModelError
from drafter.llm.errors import is_loading, model_error, scrub, server_message, status_of
from drafter.llm.gate import FIRST_CONTACT_WAIT, SLOTS_PROBE_WAIT, Flight, Gate, prompt_text
from drafter.llm.profiles import (
    ADAPTABLE,
    MIN_BUDGET_HEADROOM,
    Profile,
    Profiles,
    adapt_profile,
    chat_body,
    rejected_parameter,
    token_limit,
)
from drafter.llm.retry import RetryPolicy
from drafter.llm.sse import ServerFailed, SSEData, error_object, innermost, json_object
from drafter.llm.types import (
    BudgetSpent,
    EmptyCompletion,
    Events,
    NoProgress,
    ParameterRejected,
    Preempted,
    Reply,
    Request,
)

if TYPE_CHECKING:
    from drafter.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
# Times one request may be cut short by the server or taken back from its queue (see Gate.preempted) and sent
# again without counting as a failure; once the gate holds one request at a time it does not happen again.
PREEMPTIONS = 4


def reply_from_parts(text: str, finish_reason: str | None, model: str | None, usage: Any, request: Request,
                     limit: int | None, streamed_tokens: int = 0) -> Reply:
    """An answer's text, finish reason and usage -> Reply. Only `content` is the answer (reasoning_content /
    reasoning fields some servers add are never read) and a chain of thought in it is dropped. An empty answer
    raises EmptyCompletion; BudgetSpent when it stopped at the token limit (`limit`, what the request carried)
    before any visible text."""
    text = strip_thinking(valid_text(text))
    details = _field(usage, "completion_tokens_details")
    reasoning_tokens = int(_field(details, "reasoning_tokens") or 0)
    if not text.strip():
        if finish_reason == "length":
            raise BudgetSpent(limit or request.max_tokens, reasoning_tokens)
        raise EmptyCompletion(f"empty answer for section {request.section_id}")
    return Reply(text=text, model=model or request.model, prompt_tokens=int(_field(usage, "prompt_tokens") or 0),
                 completion_tokens=int(_field(usage, "completion_tokens") or 0) if usage else streamed_tokens,
                 finish_reason=finish_reason, limit=limit, reasoning_tokens=reasoning_tokens)


def _field(obj: Any, name: str) -> Any:
    """A field of the openai client's object or of the parsed JSON (a streamed chunk's usage)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None) if obj is not None else None


def reply_from_completion(response: Any, request: Request, limit: int | None = None) -> Reply:
    """A whole chat completion (the openai client's object, online or parsed from a Batch API output line)."""
    choice = response.choices[0] if response.choices else None
    content = choice.message.content if choice and choice.message else None
    return reply_from_parts(content if isinstance(content, str) else "", choice.finish_reason if choice else None,
                            response.model, response.usage, request, limit)


def parse_completion(content: bytes) -> Any:
    """A chat-completion response body -> the openai client's `ChatCompletion`. Bytes that are not UTF-8 (a local
    server whose token split a multi-byte character) become U+FFFD instead of failing the whole draft; an error
    object sent with status 200 raises ServerFailed."""
    from openai.types.chat import ChatCompletion

    data = json_object(content, "the answer")
    if not data.get("choices") and error_object(data) is not None:
        raise ServerFailed(innermost(data))
    return ChatCompletion.construct(**data)


def budget_error(request: Request, exc: BudgetSpent) -> ModelError:
    """An answer spent its whole budget before any text, twice (online or in two batches)."""
    hidden = f" ({exc.reasoning_tokens} on hidden reasoning)" if exc.reasoning_tokens else ""
    return ModelError(f"model {request.model} spent all {exc.limit} tokens of section {request.section_id}'s "
                      f"budget{hidden} before writing any text, twice",
                      f"Raise the budget: --max-tokens {2 * exc.limit} (or [max_tokens] {request.section_id} = "
                      f"{2 * exc.limit} in config.toml), or use --reasoning-effort low.")


def props_url(endpoint: str) -> str:
    """Where a llama.cpp server describes itself: /props at the server's root (the endpoint less its /v1)."""
    base = endpoint.rstrip("/")
    return (base[:-3] if base.endswith("/v1") else base) + "/props"


async def _next(iterator: AsyncIterator[T]) -> T | None:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return None


def transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's own errors (httpx, or httpx2 for newer clients): older openai clients let them through
    while a stream is read, newer ones wrap them in APIConnectionError."""
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        error = getattr(sys.modules.get(name), "HTTPError", None)
        if isinstance(error, type) and issubclass(error, BaseException):
            found.append(error)
    return tuple(found)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # an abandoned step's failure is already reported as NoProgress


class OpenAIBackend:
    """Chat requests to one OpenAI-compatible endpoint, through its request gate (see `drafter.llm.gate`)."""

    def __init__(self, settings: Settings, events: Events | None = None, profiles: Profiles | None = None) -> None:
        import openai  # imported on first use: `status`, `inspect` and offline drafts never need it

        self.settings = settings
        self.events = events or Events()
        self.name = settings.model
        self.policy = RetryPolicy(settings)
        self.profiles = profiles or Profiles(settings.cache_dir / "endpoints.json")
        known = self.profiles.known_slots(settings.endpoint)
        self.gate = Gate(settings.jobs, settings.timeout, slots=known, slots_source="remembered" if known else "")
        self._first_contact: dict[str, asyncio.Event] = {}
        self._probe: asyncio.Task[None] | None = None
        # Keyless local servers still need a non-empty key for the client; it is never sent anywhere else. Reads
        # have no client timeout: the gate's clock decides when a request has gone too long without progress.
        self.client = openai.AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            base_url=settings.endpoint,
            max_retries=0,
            timeout=openai.Timeout(None, connect=settings.timeout, write=settings.timeout),
        )

    async def aclose(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
        await self.client.close()

    # -- the public interface the Batch API shares ---------------------------------------------------

    def profile_key(self, request: Request) -> str:
        return Profiles.key(self.settings.endpoint, request.model)

    def profile(self, request: Request) -> Profile:
        """The profile this endpoint and model get: learned (this run or an earlier one), else by name."""
        return self.profiles.get(self.profile_key(request), request.model)

    def remember_profile(self, request: Request, profile: Profile) -> None:
        self.profiles.remember(self.profile_key(request), profile)

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of the chat-completions call for this request (the online path and the Batch API
        both send exactly this; online adds the streaming options)."""
        return chat_body(request, self.profile(request))

    def learn_headroom(self, request: Request, profile: Profile) -> None:
        """An answer spent its whole budget before any text: the next requests get more headroom."""
        headroom = max(2 * profile.headroom, MIN_BUDGET_HEADROOM, request.max_tokens)
        self.remember_profile(request, replace(profile, headroom=headroom))

    def model_error(self, exc: BaseException, request: Request) -> ModelError:
        """How a failed request is reported, after its retries."""
        return model_error(exc, where=self.settings.public_endpoint, model=request.model, section=request.section_id,
                           tries=self.policy.tries, timeout=self.settings.timeout, secret=self.settings.api_key)

    # -- first contact and the server's slots --------------------------------------------------------------

    async def _await_first_contact(self, key: str) -> None:
        """The request that makes first contact goes at once; others wait until it settles (or briefly), and
        until the server said how many requests it runs at once (or briefly)."""
        if self._probe is None:
            self._probe = asyncio.create_task(self._probe_slots())
        probe = self._probe  # a probe that met a loading server clears self._probe for the next one
        if key not in self.profiles.known:
            event = self._first_contact.get(key)
            if event is None:
                self._first_contact[key] = asyncio.Event()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), FIRST_CONTACT_WAIT)
        if self.gate.slots_source != "remembered":
            await asyncio.wait({probe}, timeout=SLOTS_PROBE_WAIT)

    def _settle(self, key: str) -> None:
        """First contact is over: requests waiting for it go."""
        event = self._first_contact.get(key)
        if event is not None:
            event.set()

    async def _probe_slots(self) -> None:
        """Ask the server how many requests it runs at once (llama.cpp: GET /props -> total_slots); a server still
        loading its model is asked again after its first answer, or when the next section starts."""
        import openai

        try:
            data = await self.client.get(props_url(self.settings.endpoint), cast_to=object,
                                         options={"timeout": min(self.settings.timeout, 10.0)})
        except (openai.OpenAIError, ValueError) as exc:
            self.gate.heard |= isinstance(exc, openai.APIStatusError | ValueError)  # it answered, with no slots
            if is_loading(exc):  # llama.cpp answers 503 "Loading model" here too: ask again once it answers
                self._probe = None
            return  # not a llama.cpp server (or not answering yet): learned from how answers arrive instead
        self.gate.heard = True
        slots = data.get("total_slots") if isinstance(data, dict) else None
        if isinstance(slots, int) and not isinstance(slots, bool) and slots >= 1:
            log.info("%s runs %d request(s) at once (GET /props)", self.settings.public_endpoint, slots)
            self.gate.learn(slots, "props")
            self.profiles.remember_slots(self.settings.endpoint, slots)

    # -- one request -------------------------------------------------------------------------------------

    async def complete(self, request: Request) -> Reply:
        key = self.profile_key(request)
        await self._await_first_contact(key)
        try:
            for _ in range(PREEMPTIONS):
                with contextlib.suppress(Preempted):
                    return await self._adapting(request, key)
            raise self.model_error(Preempted(f"the server cut the answer short {PREEMPTIONS} times"), request)
        finally:
            self._settle(key)

    async def _adapting(self, request: Request, key: str) -> Reply:
        """Send the request; switch the profile when the endpoint rejects a parameter or the answer spent its
        whole budget before any text (once), and send again at once: neither counts as a failure."""
        bumped = False
        for _ in range(2 * len(ADAPTABLE)):
            profile = self.profile(request)
            try:
                reply = await self._retrying(request, profile)
            except ParameterRejected as exc:
                current = self.profile(request)
                if current != profile:
                    continue  # another section already learned it
                adapted = adapt_profile(profile, exc.param)
                if adapted is None:
                    raise ModelError(f"{self.settings.public_endpoint} rejected parameter {exc.param!r} for "
                                     f"section "
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
                    raise budget_error(request, exc) from exc
                bumped = True
                if self.profile(request) == profile:  # learn more headroom: the next sections start with it
                    self.learn_headroom(request, profile)
                self._settle(key)
                continue
            self.profiles.remember(key, profile)
            return reply
        raise ModelError(f"{self.settings.public_endpoint} kept rejecting the parameters of section "
                         f"{request.section_id}", "Check --model and --base-url.")

    async def _retrying(self, request: Request, profile: Profile) -> Reply:
        import openai

        loading = False  # a server loading its model is told once, then asked again quietly until it is ready

        def before_sleep(state: RetryCallState) -> None:
            nonlocal loading
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            reason = scrub(f"{type(exc).__name__}: {server_message(exc)}" if exc else "", self.settings.api_key)
            if is_loading(exc) and loading:
                log.debug("section %s: %s; asking again in %.1fs", request.section_id, reason, wait)
                return
            loading = is_loading(exc)
            log.info("section %s: %s; retrying in %.1fs", request.section_id, reason, wait)
            self.events.retried(request.section_id, wait, reason)

        try:
            async for attempt in self.policy.retrying(before_sleep):
                with attempt:
                    return await self._once(request, profile)
        except BudgetSpent:
            raise  # _adapting gives it more room once
        except (openai.OpenAIError, EmptyCompletion, NoProgress) as exc:
            raise self.model_error(exc, request) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _once(self, request: Request, profile: Profile) -> Reply:
        import openai

        body = chat_body(request, profile)
        if profile.stream:
            body["stream"] = True
            if profile.stream_usage:
                body["stream_options"] = {"include_usage": True}
        key = self.profile_key(request)
        async with self.gate.slot(prompt_text(request.messages)) as flight:
            self.events.requests += 1
            self.events.in_flight += 1
            try:
                if profile.stream:
                    reply = await self._streamed(body, request, profile, flight, key)
                else:
                    reply = await self._whole(body, request, profile, flight)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                param = rejected_parameter(exc)
                if param is not None and param in body:
                    raise ParameterRejected(param, server_message(exc)) from exc  # settled once learned
                self._settle(key)
                raise
            except BudgetSpent:
                raise  # settled once the headroom is learned
            except (openai.OpenAIError, EmptyCompletion, NoProgress):
                self._settle(key)  # an error that says nothing about the parameters: no reason to hold the rest
                raise
            finally:
                self.events.in_flight -= 1
                self.events.streamed(request.section_id, request.label, -1, 0.0)
        self._settle(key)
        if self._probe is None:  # the server was loading its model when asked its slots: it answers now
            self._probe = asyncio.create_task(self._probe_slots())
        return reply

    async def _progressing(self, step: Awaitable[T], flight: Flight) -> T:
        """Await one step of a request (the response, the next chunk) until the gate's clock says the request
        has gone too long without progress; then the step is abandoned (its connection closed)."""
        task = asyncio.ensure_future(step)
        recalled = asyncio.ensure_future(flight.recalled.wait()) if flight.first is None else None
        try:
            while True:
                left = self.gate.deadline(flight) - time.monotonic()
                if left <= 0:
                    raise NoProgress(self.settings.timeout, flight.first is not None, silent=not self.gate.heard)
                done, _ = await asyncio.wait({task} | ({recalled} if recalled else set()), timeout=left,
                                             return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    failure = task.exception()
                    self.gate.heard |= failure is None or status_of(failure) is not None  # an answer, or an error
                    return task.result()
                if recalled in done:
                    raise Preempted("taken back from the server's queue: it runs one request at a time")
        finally:
            if recalled is not None:
                recalled.cancel()
            if not task.done():
                task.add_done_callback(_retrieve)
                task.cancel()

    async def _whole(self, body: dict[str, Any], request: Request, profile: Profile, flight: Flight) -> Reply:
        """A request to an endpoint that does not stream: the whole answer at once."""
        self.gate.sent(flight)
        # The raw body, parsed here: the client's own parse dies on a byte that is not UTF-8.
        raw = await self._progressing(self.client.chat.completions.with_raw_response.create(**body), flight)
        self.gate.progressed(flight)
        self.gate.finished(flight, streamed=False)
        try:
            return reply_from_completion(parse_completion(raw.content), request, token_limit(request, profile))
        except ServerFailed as exc:
            raise exc.as_status_error(raw.http_response) from exc

    async def _streamed(self, body: dict[str, Any], request: Request, profile: Profile, flight: Flight,
                        key: str) -> Reply:
        """A streamed answer, chunk by chunk, from the raw event stream; closed however it ends. A server that
        ignores `stream` and sends the whole completion as JSON is read as that."""
        import openai

        self.gate.sent(flight)
        opened = self.client.chat.completions.with_streaming_response.create(**body)
        response = await self._progressing(opened.__aenter__(), flight)
        text = Answer()
        stream = SSEData(response.iter_bytes())
        try:
            if "json" in response.headers.get("content-type", ""):
                whole = await self._progressing(response.read(), flight)
                self.gate.progressed(flight)
                self._settle(key)
                return reply_from_completion(parse_completion(whole), request, token_limit(request, profile))
            chunks = aiter(stream)
            limit = token_limit(request, profile)
            while (chunk := await self._progressing(_next(chunks), flight)) is not None:
                content = text.add(chunk)
                self.gate.progressed(flight, 1 if content else 0)
                self._settle(key)
                if content:
                    self.events.streamed(request.section_id, request.label, text.tokens,
                                         time.monotonic() - (flight.first or flight.sent))
                if text.over(limit):  # the server ignores the limit it was sent: drafter holds it (and stops it)
                    log.info("%s went past section %s's limit of %d tokens: the stream is closed there",
                             self.settings.public_endpoint, request.section_id, limit)
                    text.finish = "length"
                    break
        except ServerFailed as exc:  # the server failed after its 200: the error it would have sent before
            raise exc.as_status_error(response.http_response) from exc
        except transport_errors() as exc:  # raised while reading the body by clients that do not wrap them
            raise openai.APIConnectionError(message=f"the answer stream broke: {exc}",
                                            request=response.http_request) from exc
        finally:
            await opened.__aexit__(None, None, None)  # a stream given up on is closed: the server stops generating
        if text.finish is None:
            # Only a stream the server ended itself ([DONE]) was cut short to serve another request; one that just
            # stops is a failure (Ollama's runner failing mid-answer), however many others are in flight.
            if stream.done and self.gate.preempted(flight):
                log.info("%s cut section %s's answer short to serve another request: it runs one at a time",
                         self.settings.public_endpoint, request.section_id)
                self.profiles.remember_slots(self.settings.endpoint, 1)
                raise Preempted(f"the server cut section {request.section_id}'s answer short")
            raise openai.APIConnectionError(message="the answer stream ended before the answer did",
                                            request=response.http_request)
        self._learn_from_arrivals(flight)
        return reply_from_parts("".join(text.parts), text.finish, text.model, text.usage, request,
                                token_limit(request, profile), streamed_tokens=text.tokens)

    def _learn_from_arrivals(self, flight: Flight) -> None:
        learned = self.gate.finished(flight)
        if learned is not None:
            log.info("%s answers %d request(s) at a time (learned from how answers arrive)",
                     self.settings.public_endpoint, learned)
            self.gate.learn(learned, "arrivals")
            self.profiles.remember_slots(self.settings.endpoint, learned)


class Answer:
    """A streamed answer as its chunks arrive: the text, the finish reason, the usage (a last chunk), the model."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.finish: str | None = None
        self.usage: Any = None
        self.model: str | None = None
        self.tokens = 0  # content chunks: a token each, near enough, for progress
        self.chars = 0

    def add(self, chunk: dict[str, Any]) -> str:
        """Take one chunk; returns the text it added."""
        self.model = chunk.get("model") or self.model
        self.usage = chunk.get("usage") or self.usage
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        content = content if isinstance(content, str) else ""
        self.finish = choice.get("finish_reason") or self.finish
        if content:
            self.parts.append(content)
            self.tokens += 1
            self.chars += len(content)
        return content

    def over(self, limit: int) -> bool:
        """Past the request's token limit, counting a chunk as a token (servers send one or more a chunk) or, for a
        server that sends long chunks, 8 characters as one (tokens average about 4)."""
        return self.tokens > limit or self.chars > 8 * limit
