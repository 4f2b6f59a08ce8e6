"""What flows through the model client: requests, replies, the Backend interface, its exceptions and event hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from drafter.errors import ModelError

if TYPE_CHECKING:
    from drafter.paper import Paper


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
    """The server said the prompt does not fit the model's context window: `window` and `prompt` are the sizes
    (tokens, the server's count) it gave, when it gave them."""

    window: int | None = None
    prompt: int | None = None


class EmptyCompletion(Exception):
    """The model answered with nothing (retried like a transient failure)."""


class MalformedCompletion(EmptyCompletion):
    """The answer was not a chat-completion JSON object (retried like an empty answer)."""


class NoProgress(Exception):
    """A request received nothing (no byte, no token) for the allowed time: the server is stuck or gone.
    Retried like a timeout; the request's connection is closed first, so the server stops working on it."""

    def __init__(self, seconds: float, started: bool, silent: bool = False) -> None:
        super().__init__(f"no progress for {seconds:.0f}s" + (" mid-answer" if started else "")
                         + (" (the endpoint has never answered)" if silent else ""))
        self.seconds = seconds
        self.started = started
        self.silent = silent  # nothing at all, not even response headers, has come from the endpoint this run


class Preempted(Exception):
    """The server cut this answer's stream short to serve another request (it ended without a finish reason while
    other requests were at the server: llama-cpp-python's default), or drafter took the request back from the
    server's queue once it learned that: sent again when the slot is free, not counted as a failure."""


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


@dataclass
class Events:
    """Hooks for progress display; every counter the summary needs.

    on_stream(section, label, tokens, seconds) is called as an answer arrives (tokens so far, seconds since its
    first token), and once more with tokens = -1 when the section's request ends (answered, failed or closed)."""

    on_retry: Callable[[str, float, str], None] | None = None
    on_stream: Callable[[str, str, int, float], None] | None = None
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    in_flight: int = 0
    waiting_retry: int = 0

    def retried(self, section: str, wait: float, reason: str) -> None:
        self.retries += 1
        if self.on_retry is not None:
            self.on_retry(section, wait, reason)

    def streamed(self, section: str, label: str, tokens: int, seconds: float) -> None:
        if self.on_stream is not None:
            self.on_stream(section, label, tokens, seconds)
