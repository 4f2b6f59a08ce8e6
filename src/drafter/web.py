"""URL -> bytes: the one HTTP GET every download and lookup goes through, and the gate that spaces the requests
to one service. Stdlib only (urllib); each caller turns the failures into its own errors.

    body, ctype = get(url, "application/pdf", timeout=60, limit=200 << 20, deadline=600, cancel=event)

The body is read as it arrives (read1), so a server trickling bytes is stopped at `deadline` seconds and a set
`cancel` event stops the transfer between two reads. Failures: urllib's HTTPError (a status >= 400; the caller
reads and closes it), URLError / TimeoutError / ConnectionError (no answer), http.client.IncompleteRead (the
body broke off), http.client.HTTPException (not HTTP), BadURL, TooLarge, Overtime, Cancelled.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from drafter import __version__


class TransferError(Exception):
    """A GET that did not end in a whole body, for a reason of drafter's own limits."""


class BadURL(TransferError):
    """Not a URL urllib can request (a port out of range, a broken IPv6 host)."""


class TooLarge(TransferError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit >> 20} MB")
        self.limit = limit


class Overtime(TransferError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish sending within {seconds:g}s")
        self.seconds = seconds


class Cancelled(TransferError):
    """The caller's cancel event was set."""


def get(url: str, accept: str, *, headers: dict[str, str] | None = None, timeout: float, limit: int,
        deadline: float, cancel: threading.Event | None = None) -> tuple[bytes, str]:
    """GET `url`: (body, content type). See the module docstring for the failures."""
    try:
        _ = urllib.parse.urlsplit(url).port  # "Port out of range", "Invalid IPv6 URL"
        request = urllib.request.Request(url, headers={"User-Agent": f"drafter/{__version__}", "Accept": accept,
                                                       **(headers or {})})
    except ValueError as exc:
        raise BadURL(str(exc)) from exc
    ends = time.monotonic() + deadline
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            ctype = response.headers.get("Content-Type", "") or ""
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(1 << 16):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(url)
                if time.monotonic() > ends:
                    raise Overtime(deadline)
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                chunks.append(chunk)
            promised = response.headers.get("Content-Length", "")
            if promised.isdigit() and size < int(promised):  # read1 returns b"" at a hang-up mid-body
                raise http.client.IncompleteRead(b"".join(chunks), int(promised) - size)
    except http.client.InvalidURL as exc:  # a port that is not a number
        raise BadURL(str(exc)) from exc
    return b"".join(chunks), ctype


@dataclass
class Gate:
    """Spacing between the requests to one service: each starts at least `delay()` seconds after the previous
    one started. Held for the spacing only, never for a transfer."""

    delay: Callable[[], float]
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")

    def wait(self, cancel: threading.Event | None = None) -> bool:
        """Wait for this request's turn; False when `cancel` was set meanwhile (the request must not go)."""
        with self.lock:
            pause = self.last + self.delay() - time.monotonic()
            if pause > 0 and (cancel or threading.Event()).wait(pause):
                return False
            self.last = time.monotonic()
        return True


__all__ = ["BadURL", "Cancelled", "Gate", "Overtime", "TooLarge", "TransferError", "get"]
