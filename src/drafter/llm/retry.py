"""The one retry policy of every call to the model endpoint (chat requests and the Batch API's file and batch
calls): transient failures are retried with exponential backoff and jitter, honouring Retry-After, at most
`retries + 1` attempts (a refused connection only REFUSED_ATTEMPTS, an endpoint that has never answered anything
only SILENT_ATTEMPTS); the openai client itself never retries.

A server still loading its model (llama.cpp answers every request `503 Loading model` until it is ready) is not
failing: it is asked again every LOADING_POLL seconds, without spending the retries, until it has been loading
for `--timeout` seconds (time without progress, like a request waiting for its first byte)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from drafter.llm.errors import REFUSED_ATTEMPTS, SILENT_ATTEMPTS, is_loading, is_refused, is_transient, retry_after
from drafter.llm.types import NoProgress

if TYPE_CHECKING:
    from drafter.config import Settings

LOADING_POLL = 1.0


@dataclass
class Loading:
    """One call's answers that said the model is loading: how many, and since when."""

    polls: int = 0
    since: float | None = None


class RetryPolicy:
    def __init__(self, settings: Settings) -> None:
        self.retries = settings.retries
        self.max_backoff = settings.max_backoff
        self.load_wait = settings.timeout

    @property
    def tries(self) -> int:
        return self.retries + 1

    def stop(self, state: RetryCallState, loading: Loading | None = None) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if loading is not None and is_loading(exc):
            now = time.monotonic()
            loading.polls += 1
            loading.since = loading.since if loading.since is not None else now
            return now - loading.since >= self.load_wait
        polls = loading.polls if loading is not None else 0
        limit = self.tries
        if is_refused(exc):
            limit = min(REFUSED_ATTEMPTS, limit)
        elif isinstance(exc, NoProgress) and exc.silent:
            limit = min(SILENT_ATTEMPTS, limit)
        return stop_after_attempt(limit + polls)(state)

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if is_loading(exc):
            return min(LOADING_POLL, self.max_backoff)
        backoff = wait_random_exponential(multiplier=0.5, max=self.max_backoff)(state)
        asked = retry_after(exc)
        return min(max(backoff, asked or 0.0), self.max_backoff)

    def retrying(self, before_sleep: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
        """An AsyncRetrying loop with this policy (re-raising the last failure)."""
        loading = Loading()
        return AsyncRetrying(retry=retry_if_exception(is_transient), wait=self.wait,
                             stop=lambda state: self.stop(state, loading), before_sleep=before_sleep, reraise=True)
