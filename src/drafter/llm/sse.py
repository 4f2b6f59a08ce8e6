"""A streamed answer's server-sent events, and the errors servers send inside a 200 response.

A server that has already answered 200 can only report a failure inside the body, and each server words it its
own way (none of them is a chunk the answer could be read from):

* `error: {"code": 400, "message": ..., "type": "exceed_context_size_error", "n_ctx": ...}` -- a field named
  `error` (llama.cpp's server until late 2025, then `data: [DONE]`);
* `data: {"error": {"code": 500, "message": ..., "type": "server_error"}}` -- llama.cpp's server since, vLLM
  (`"code": 400`, `"type": "BadRequestError"`) and TGI (`"http_status_code": 422`);
* `data: {"object": "error", "message": ..., "code": 400}` -- vLLM versions that send the flat error object;
* `data: {"error": "..."}` -- an error that is only a message;
* `event: error` then its `data:` -- the standard way to name an event.

Each becomes the HTTP error it would have been before the stream began (its `code` or `http_status_code`; else
400 when it speaks of the context, else 500), so it is retried, shrunk or reported like one. A whole JSON answer
with status 200 that is an error object, not a completion, is read the same way.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from drafter.llm.errors import CONTEXT_PATTERNS
from drafter.llm.types import MalformedCompletion


class ServerFailed(Exception):
    """The server reported a failure in a 200 response: `error` is its error object (with a `message`)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or error))
        self.error = error

    @property
    def status(self) -> int:
        """The status the error names, else 400 for a context error, else 500 (the server failed)."""
        for key in ("code", "http_status_code", "status", "status_code"):
            value = self.error.get(key)
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
                return value
        words = f"{self.error.get('type') or ''} {self.error.get('code') or ''} {self.error.get('message') or ''}"
        return 400 if CONTEXT_PATTERNS.search(words) else 500

    def as_status_error(self, http_response: Any) -> Exception:
        """The openai client's error for this status, as the client raises it for an error response (its body
        the error object); `http_response` is the HTTP library's response it came in."""
        import openai

        classes: dict[int, type[openai.APIStatusError]] = {
            400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
            404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
            429: openai.RateLimitError}
        status = self.status
        cls = classes.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
        response = type(http_response)(status, request=http_response.request)
        return cls(str(self), response=response, body=self.error)


def error_object(item: dict[str, Any]) -> dict[str, Any] | None:
    """The error a parsed chunk (or a whole answer) carries instead of an answer, else None."""
    error = item.get("error")
    if isinstance(error, dict):
        return error if error else None
    if isinstance(error, str) and error:
        return {**{k: v for k, v in item.items() if k != "error"}, "message": error}
    if item.get("object") == "error":
        return item
    return None


def innermost(error: dict[str, Any]) -> dict[str, Any]:
    """An error object with its message, out of the wrappers around it (`{"error": {"error": {...}}}`)."""
    inner = error_object(error)
    return innermost(inner) if inner is not None and inner is not error else error


def json_object(content: bytes, what: str) -> dict[str, Any]:
    """Bytes -> a JSON object (a byte that is not UTF-8 becomes U+FFFD); MalformedCompletion if it is not one."""
    try:
        data = json.loads(content.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise MalformedCompletion(f"{what} is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedCompletion(f"{what} is not a JSON object")
    return data


class SSEData:
    """The JSON objects of a server-sent event stream's `data:` lines, until `data: [DONE]` (then `done` is True:
    the server ended the stream itself, as opposed to a stream that just stops); read from the raw bytes,
    comments (`: ping`), blank lines and other fields skipped. An error in any of the shapes above raises
    ServerFailed."""

    def __init__(self, pieces: AsyncIterator[bytes]) -> None:
        self.pieces = pieces
        self.done = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._read()

    async def _read(self) -> AsyncIterator[dict[str, Any]]:
        buffer = b""
        event = b""
        async for piece in self.pieces:
            buffer += piece
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                line = line.rstrip(b"\r")
                if not line:
                    event = b""  # a blank line ends an event
                    continue
                name, _, value = line.partition(b":")
                value = value.strip()
                if name == b"event":
                    event = value
                elif name == b"error":
                    raise ServerFailed(innermost(json_object(value, "an error event")))
                elif name == b"data":
                    if value == b"[DONE]":
                        self.done = True
                        return
                    item = json_object(value, "a streamed chunk")
                    if event == b"error" or error_object(item) is not None:
                        raise ServerFailed(innermost(item))
                    yield item


def sse_data(pieces: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The chunks of an event stream (see SSEData), when whether it ended with `[DONE]` does not matter."""
    return aiter(SSEData(pieces))
