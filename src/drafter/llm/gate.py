"""The one request gate of an endpoint: how many requests are in flight, in which order the waiting ones go, when
a request that made no progress has waited too long, and what the endpoint's answers say about its server.

A server that runs one generation at a time (llama.cpp with one slot, llama-cpp-python, a laptop's Ollama) queues
whatever else it is sent; a request waiting there receives nothing until its turn. So the gate holds requests
beyond the server's slots client-side (they wait without a clock), and when a slot frees it sends the waiting
request whose prompt shares the longest prefix with the one that just had it: llama.cpp reuses the previous
prompt's processed prefix, so sections reading the same paper parts go back to back.

The slots come from the server (`GET /props` -> `total_slots`, llama.cpp) or from how answers arrive: a request
sent before another's answer began that still has no byte when that answer is complete, and has waited more than
twice the quickest first byte seen, is queued behind it; twice means the server serves no more than the most answers
ever seen arriving at once. Hosted APIs and vLLM stream every answer at once, so they keep all sections in flight.
A server that ends a running stream without a finish reason when another request arrives (llama-cpp-python, by
default) teaches one slot the first time it does so (see Gate.preempted).

Time without progress (`--timeout`) is counted per request once its answer has begun; before that, from the
endpoint's last progress (any request's token), plus the time the server needs to read this prompt at the rate it
read earlier ones: a request queued behind others that are progressing is waiting, not failing, while a server
that sends nothing at all is given up on after the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

# A first request to an endpoint (or an endpoint+model) with nothing known about it goes alone, so a parameter
# rejection is learned once rather than by every section at the same time, and the server's slots can be asked
# first; the rest follow as soon as that settles, or after these waits: a rejection comes back at once, so a
# request still running was accepted, and a server that does not answer GET /props at once is not a llama.cpp one.
FIRST_CONTACT_WAIT = 0.5
SLOTS_PROBE_WAIT = 2.0
HANDOFFS = 2  # requests starved through another's whole generation before the slots are learned from arrivals


@dataclass(eq=False)
class Flight:
    """One request on its way: when it was sent, when its first and latest bytes came, when it ended."""

    prompt: str
    sent: float = 0.0
    first: float | None = None
    last: float | None = None
    last_token: float | None = None
    done: float | None = None
    tokens: int = 0
    alone: bool = False  # nothing else was in flight when it was sent (its wait for a first byte is prompt time)
    recalled: asyncio.Event = field(default_factory=asyncio.Event)  # set: close it and wait here for the slot


def shared_prefix(a: str, b: str) -> int:
    """How many leading characters two prompts share."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low], a[:high] != b[:high]
    while high - low > 1:
        mid = (low + high) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid
    return low


def prompt_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages)


@dataclass
class Gate:
    """At most `limit` requests in flight; the others wait here in prefix order; the endpoint's progress clock."""

    jobs: int
    timeout: float
    slots: int | None = None  # how many the server runs at once, when known
    slots_source: str = ""  # "props", "arrivals", "preempted" or "remembered"
    running: int = 0
    waiting: list[tuple[str, asyncio.Future[None]]] = field(default_factory=list)
    flights: set[Flight] = field(default_factory=set)
    last_prompt: str = ""
    last_progress: float = 0.0
    heard: bool = False  # the endpoint has answered something this run (response headers, an HTTP error)
    prompt_rate: float | None = None  # prompt tokens per second the server read, slowest seen this run
    peak: int = 0  # most answers seen arriving at once
    ended: list[Flight] = field(default_factory=list)  # the latest answers that arrived whole
    quickest: float | None = None  # the shortest wait for a first byte seen (a request the server took at once)
    handoffs: int = 0

    @property
    def limit(self) -> int:
        return max(1, min(self.jobs, self.slots or self.jobs))

    @contextlib.asynccontextmanager
    async def slot(self, prompt: str) -> AsyncIterator[Flight]:
        """Hold one of the endpoint's slots for a request with this prompt (waiting, without a clock, for one)."""
        if self.running < self.limit and not self.waiting:
            self.running += 1
            self.last_prompt = prompt
        else:
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (prompt, ready)
            self.waiting.append(entry)
            try:
                await ready
            except BaseException:
                if entry in self.waiting:
                    self.waiting.remove(entry)
                elif ready.done() and not ready.cancelled():
                    self._release()  # granted as it was cancelled: pass it on
                raise
        flight = Flight(prompt)
        try:
            yield flight
        finally:
            self.flights.discard(flight)
            self._release()

    def _release(self) -> None:
        self.running -= 1
        self._wake()

    def _wake(self) -> None:
        while self.waiting and self.running < self.limit:
            last = self.last_prompt
            index = max(range(len(self.waiting)), key=lambda i: (shared_prefix(self.waiting[i][0], last), -i))
            prompt, ready = self.waiting.pop(index)
            if ready.done():
                continue
            self.running += 1
            self.last_prompt = prompt
            ready.set_result(None)

    def preempted(self, flight: Flight) -> bool:
        """This stream ended without a finish reason. With other requests at the server, the server cut it short to
        serve one of them: it runs one generation at a time and gives it to a newcomer (llama-cpp-python does by
        default). Learn one slot, and take back the requests it has not begun answering but the first (the server
        is starting that one now), so they wait here instead of cutting each other short there."""
        others = sorted((f for f in self.flights if f is not flight), key=lambda f: f.sent)
        if not others:
            return False
        self.slots, self.slots_source = 1, "preempted"
        queued = [f for f in others if f.first is None]
        for f in queued[1:] if len(queued) == len(others) else queued:
            f.recalled.set()
        return True

    def learn(self, slots: int, source: str) -> None:
        """The server runs `slots` requests at once: hold the rest from now on (or let more go)."""
        self.slots, self.slots_source = max(1, slots), source
        self._wake()

    # -- the clock and what arrivals tell ---------------------------------------------------------------

    def sent(self, flight: Flight) -> None:
        flight.sent = time.monotonic()
        flight.alone = not self.flights
        self.flights.add(flight)

    def progressed(self, flight: Flight, tokens: int = 1) -> None:
        now = time.monotonic()
        if flight.first is None:
            flight.first = now
            wait = now - flight.sent
            self.quickest = wait if self.quickest is None else min(self.quickest, wait)
            if flight.alone:
                self._measure_prompt(flight, now - flight.sent)
        flight.last = now
        if tokens:
            flight.last_token = now
        flight.tokens += tokens
        self.last_progress = now

    def _measure_prompt(self, flight: Flight, seconds: float) -> None:
        if seconds > 0.05:
            rate = max(1.0, len(flight.prompt) / 4 / seconds)
            self.prompt_rate = rate if self.prompt_rate is None else min(self.prompt_rate, rate)

    def finished(self, flight: Flight, streamed: bool = True) -> int | None:
        """The request's answer arrived whole. Returns the slots learned from arrivals, if this settles them
        (only streamed answers tell: a whole answer arrives at once however the server schedules it)."""
        now = time.monotonic()
        flight.done = now
        self.last_progress = now
        if not streamed or flight.first is None or self.slots_source == "props":
            return None
        # Answers that really arrived at the same time: their tokens overlapped for longer than a few of this
        # answer's token intervals (a quarter second at least), not just around a handoff, where the next answer's
        # first chunk can be read before this one's last.
        begun, end = flight.first, flight.last_token or flight.first
        needed = max(3 * (end - begun) / max(1, flight.tokens - 1), 0.25)
        together = sum(1 for f in (*self.flights, *self.ended) if f is not flight and f.first is not None
                       and min(end, f.last_token or f.first) - max(begun, f.first) > needed)
        self.peak = max(self.peak, 1 + together)
        self.ended = [*self.ended[-63:], flight]
        patience = 2 * (self.quickest or 0.0)
        starved = [f for f in self.flights
                   if f is not flight and f.first is None and f.sent < flight.first and now - f.sent > patience]
        if not starved:
            return None
        self.handoffs += 1
        if self.handoffs >= HANDOFFS and self.peak < self.limit:
            return max(1, self.peak)
        return None

    def deadline(self, flight: Flight) -> float:
        """When this request has gone too long without progress."""
        if flight.last is not None:
            return flight.last + self.timeout
        reading = len(flight.prompt) / 4 / self.prompt_rate if self.prompt_rate else 0.0
        return max(flight.sent, self.last_progress) + self.timeout + reading
