"""An in-process Backend for pipeline tests that need no HTTP (after simonw/llm's MockModel).

    backend = FakeBackend()
    backend.enqueue("summary", "A short summary.")        # the next summary request gets this text
    backend.enqueue("math", ModelError("quota"))          # ... or this error
    draft = asyncio.run(draft_paper(paper, settings, backend))
    [request] = backend.requests_for("summary")           # what the pipeline sent

A section with nothing queued gets `default(request)` (by default "Fake draft for <section>." and a digest of
its messages, as tests/fakeserver.py answers). A queued item may be text, a Reply, an exception (raised), or a
callable taking the Request and returning any of those (run when the request arrives: a test can act "while the
model answers"). The client behaviour (retries, HTTP errors, profiles) is tested against the stand-in servers
on 127.0.0.1; this backend is for what happens around one answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from drafter.llm import Reply, Request

Answer = str | Reply | BaseException | Callable[[Request], Any]


def default_answer(request: Request) -> str:
    digest = hashlib.sha256(json.dumps(request.messages, sort_keys=True).encode("utf-8")).hexdigest()[:12]
    return f"Fake draft for {request.section_id}.\n\nfake-hash: {digest}\n"


class FakeBackend:
    """A queue of answers per section (or for any section), and the history of every request."""

    def __init__(self, default: Callable[[Request], Answer] = default_answer, *, model: str = "fake-model",
                 delay: float = 0.0) -> None:
        self.default = default
        self.model = model
        self.delay = delay  # seconds each answer takes (an await, so other sections run meanwhile)
        self.history: list[Request] = []
        self.closed = False
        self._queues: dict[str | None, deque[Answer]] = defaultdict(deque)

    def enqueue(self, section_id: str | None, *answers: Answer) -> FakeBackend:
        """Answers for the next requests of `section_id` (None: of any section without its own queue)."""
        self._queues[section_id].extend(answers)
        return self

    def requests_for(self, section_id: str) -> list[Request]:
        return [r for r in self.history if r.section_id == section_id]

    def _next(self, request: Request) -> Answer:
        for key in (request.section_id, None):
            if self._queues[key]:
                return self._queues[key].popleft()
        return self.default(request)

    async def complete(self, request: Request) -> Reply:
        self.history.append(request)
        answer = self._next(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        while callable(answer) and not isinstance(answer, BaseException | Reply):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Reply):
            return answer
        return Reply(str(answer), self.model, prompt_tokens=100, completion_tokens=max(1, len(str(answer)) // 4),
                     finish_reason="stop", limit=request.max_tokens)

    async def aclose(self) -> None:
        self.closed = True


__all__ = ["FakeBackend", "default_answer"]
