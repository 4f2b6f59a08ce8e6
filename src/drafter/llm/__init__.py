"""Chat request -> model reply: one Backend interface, and the stack `make_backend` builds from the settings.

    types           Request, Reply, Backend, the exceptions, Events (progress hooks)
    profiles        what an endpoint accepts (reasoning models, streaming) and how many requests it serves at
                    once, learned and kept in <cache>/endpoints.json
    gate            the one request gate: slots, the order waiting requests go in, time without progress
    retry, errors   the retry policy and the one-line error of every failure (online and Batch API alike)
    openai_backend  the OpenAI-compatible client: streamed answers, parameter adaptation
    cached          the response cache in front of it
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drafter.cache import ResponseCache
from drafter.errors import ModelError
from drafter.llm.cached import CachedBackend
from drafter.llm.errors import REFUSED_ATTEMPTS, is_refused, is_transient, parse_retry_after, retry_after, scrub
from drafter.llm.gate import FIRST_CONTACT_WAIT
from drafter.llm.openai_backend import OpenAIBackend, budget_error, parse_completion, reply_from_completion
from drafter.llm.profiles import (
    MIN_BUDGET_HEADROOM,
    REASONING,
    REASONING_HEADROOM,
    Profile,
    Profiles,
    adapt_profile,
    chat_body,
    default_profile,
    is_reasoning_name,
    rejected_parameter,
    token_limit,
)
from drafter.llm.types import (
    Backend,
    BudgetSpent,
    ContextTooLong,
    EmptyCompletion,
    Events,
    MalformedCompletion,
    NoProgress,
    ParameterRejected,
    Reply,
    Request,
)

if TYPE_CHECKING:
    from drafter.config import Settings


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
    """The backend stack for these settings: offline, or OpenAI-compatible (its gate holds the --jobs limit)
    behind the response cache."""
    events = events or Events()
    if settings.offline:
        return OfflineBackend()
    backend: Backend = OpenAIBackend(settings, events)
    if settings.cache:
        backend = CachedBackend(backend, ResponseCache(settings.cache_dir), settings.endpoint, events)
    return backend


def describe(settings: Settings) -> dict[str, Any]:
    """Settings worth showing with --debug (never the key)."""
    return {"model": settings.model, "endpoint": settings.public_endpoint, "offline": settings.offline,
            "jobs": settings.jobs, "api_key": "set" if settings.api_key else "unset",
            "reasoning_effort": settings.reasoning_effort, "max_tokens": settings.max_tokens}


__all__ = ["FIRST_CONTACT_WAIT", "MIN_BUDGET_HEADROOM", "REASONING", "REASONING_HEADROOM", "REFUSED_ATTEMPTS",
           "Backend", "BudgetSpent", "CachedBackend", "ContextTooLong", "EmptyCompletion", "Events",
           "MalformedCompletion", "NoProgress", "OfflineBackend", "OpenAIBackend", "ParameterRejected", "Profile",
           "Profiles", "Reply", "Request", "adapt_profile", "budget_error", "chat_body", "default_profile",
           "describe", "is_reasoning_name", "is_refused", "is_transient", "make_backend", "parse_completion",
           "parse_retry_after", "rejected_parameter", "reply_from_completion", "retry_after", "scrub", "token_limit"]
