"""The response cache in front of a backend: an identical logical request is answered from disk."""

from __future__ import annotations

from typing import Any

from drafter.cache import ResponseCache, request_key
from drafter.llm.types import Backend, Events, Reply, Request


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
