"""The one retry policy of every call to the model endpoint (chat requests and the Batch API's file and batch
calls): transient failures are retried with exponential backoff and jitter, honouring Retry-After, at most
`retries + 1` attempts (a refused connection only REFUSED_ATTEMPTS); the openai client itself never retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from drafter.llm.errors import REFUSED_ATTEMPTS, is_refused, is_transient, retry_after

if TYPE_CHECKING:
    from drafter.config import Settings


class RetryPolicy:
    def __init__(self, settings: Settings) -> None:
        self.retries = settings.retries
        self.max_backoff = settings.max_backoff

    @property
    def tries(self) -> int:
        return self.retries + 1

    def stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = min(REFUSED_ATTEMPTS, self.tries) if is_refused(exc) else self.tries
        return stop_after_attempt(limit)(state)

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_random_exponential(multiplier=0.5, max=self.max_backoff)(state)
        asked = retry_after(exc)
        return min(max(backoff, asked or 0.0), self.max_backoff)

    def retrying(self, before_sleep: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
        """An AsyncRetrying loop with this policy (re-raising the last failure)."""
        return AsyncRetrying(retry=retry_if_exception(is_transient), wait=self.wait, stop=self.stop,
                             before_sleep=before_sleep, reraise=True)
