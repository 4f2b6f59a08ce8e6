"""A small fake OpenAI-compatible HTTP server for hermetic end-to-end tests.

Stdlib only.  The server runs ``http.server.ThreadingHTTPServer`` in a background
thread bound to ``127.0.0.1`` on an ephemeral port, so the *real* ``openai`` client
talks to it over a real socket::

    with FakeOpenAI(latency=0.05) as server:
        client = openai.AsyncOpenAI(base_url=server.url, api_key="test-key", max_retries=0)
        server.enqueue(Fault.rate_limit(), Fault.drop())
        ...
        assert len(server.completions()) == 3

Endpoints
---------
* ``POST /v1/chat/completions`` -- chat completions, whole or streamed (``stream=true``: server-sent events
  in OpenAI's chunk format, a usage chunk when ``stream_options.include_usage`` is set, ``data: [DONE]``).
  ``streaming=False`` rejects ``stream`` with HTTP 400, ``stream_options=False`` rejects ``stream_options``.
  Every request is recorded in :attr:`FakeOpenAI.requests`.
* ``GET /v1/models`` and ``GET /v1/models/<id>`` -- the configured ``model_ids``.
* anything else -- HTTP 404 with an OpenAI-style JSON error body.

Faults
------
:meth:`FakeOpenAI.enqueue` queues :class:`Fault` objects; each chat request pops at most
one (FIFO).  With an empty queue requests succeed.  See the :class:`Fault`
constructors for the available kinds (HTTP errors in OpenAI / llama.cpp / vLLM wording,
dropped connections, hangs, empty content, canned replies).

Model behaviours (constructor options, for every request)
----------------------------------------------------------
What 2026 endpoints do that a polite stand-in would not:

* ``rejects=("max_tokens", "temperature")`` -- 400 with OpenAI's exact bodies for reasoning models:
  ``unsupported_parameter`` for ``max_tokens`` (and ``reasoning_effort``), ``unsupported_value`` for a
  ``temperature`` other than 1.
* ``reasoning_tokens=N`` -- N hidden reasoning tokens spent out of the completion limit
  (``max_completion_tokens`` or ``max_tokens``) before any text, reported in
  ``usage.completion_tokens_details.reasoning_tokens``; a limit at or below N gives empty content with
  ``finish_reason: "length"``, a limit a little above it a cut-off answer.
* ``thinking="content"`` -- a ``<think>...</think>`` chain of thought at the start of ``content`` (local
  DeepSeek-R1 / Qwen3); ``"reasoning_content"`` or ``"reasoning"`` -- sent in that message field instead.
  Thinking counts against the limit, so a small one cuts the answer inside the ``<think>`` block.
* ``chatty=True`` -- "Sure! Here's the ... section for your post:" before and "I hope this helps!..." after.
* ``context_window=N`` -- a prompt longer than N tokens is cut to N without a word, and the usage says N: Ollama
  with a prompt longer than its num_ctx (llm/llama_server.go: ``slog.Warn("truncating input prompt", ...)``; its
  /v1 usage.prompt_tokens is the prompt_eval_count of what it read).
* ``enforce_limit=True`` -- answers longer than the limit are cut there with ``finish_reason: "length"``
  (4 characters a token); always on with the reasoning and thinking modes.

Default reply
-------------
``reply(body)`` if given, else ``"Fake draft for <id>.\\n\\nfake-hash: <8 hex>"`` where
``<id>`` is the first ``section id: <id>`` found (case-insensitive), scanning messages
from the last to the first (``"unknown"`` if none), and the hash is the first 8 hex
digits of the SHA-256 of the canonical JSON of ``messages``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeOpenAI", "Fault", "RecordedRequest", "default_reply", "send_sse", "stream_chunks", "unused_port"]

SECTION_ID_RE = re.compile(r"section id:\s*([a-z0-9-]+)", re.IGNORECASE)

# Canonical provider messages, so tests can match on what real servers say.
OPENAI_CONTEXT_MESSAGE = (
    "This model's maximum context length is 8192 tokens. However, your messages resulted in "
    "9000 tokens. Please reduce the length of the messages."
)
LLAMACPP_CONTEXT_MESSAGE = "the request exceeds the available context size, try increasing it"
VLLM_CONTEXT_MESSAGE = (
    "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
    "(4000 in the messages, 1000 in the completion). Please reduce the length of the messages "
    "or completion."
)

# text-generation-inference's validation error (router/src/validation.rs, ValidationError::MaxTotalTokens, behind
# InferError's "Input validation error: ").
TGI_CONTEXT_MESSAGE = ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 "
                       "`inputs` tokens and 1000 `max_new_tokens`")

# LM Studio's (lmstudio-ai/lmstudio-bug-tracker issue 546).
LMSTUDIO_CONTEXT_MESSAGE = ("Trying to keep the first 11490 tokens when context the overflows. However, the model is "
                            "loaded with context length of only 4096 tokens, which is not enough. Try to load the "
                            "model with a larger context length, or provide a shorter input.")


def _stream_error_lines(shape: str, error: dict[str, Any]) -> list[bytes]:
    """The bytes each server sends for an error after its 200 (each source read in its server's code):

    * ``llamacpp-legacy``: llama.cpp's server until late 2025 (tools/server/server.cpp, handle_completions_impl:
      ``server_sent_event(sink, "error", error_data)`` writes ``error: {...}``, then ``data: [DONE]``);
    * ``llamacpp``: llama.cpp's server since (``format_oai_sse(json {{"error", res_json}})``, no ``[DONE]``);
    * ``vllm``: vLLM's ``create_streaming_error_response`` (``{"error": ErrorResponse}``, ``object: error``
      inside), then ``data: [DONE]``; ``vllm-flat``: versions that dump the flat ErrorResponse;
    * ``tgi``: text-generation-inference's chat stream (router/src/infer/mod.rs, ``into_openai_event``:
      ``{"error": {"message", "http_status_code": 422}}``), then ``data: [DONE]``;
    * ``event``: a standard ``event: error`` naming the event whose data is ``{"error": {...}}``;
    * ``lmstudio``: LM Studio's ``{"error": {"message"}, "message"}``, no status and no ``[DONE]``
      (zendev-sh/goai pull request 110; lmstudio-ai/lms issue 362: the same body whole, with status 200).
    """
    flat = {"object": "error", "message": error["message"], "type": error["type"], "param": None,
            "code": error["code"]}
    framed = {
        "llamacpp-legacy": [b"error: " + json.dumps(error).encode() + b"\n\n", b"data: [DONE]\n\n"],
        "llamacpp": [b"data: " + json.dumps({"error": error}).encode() + b"\n\n"],
        "vllm": [b"data: " + json.dumps({"error": flat}).encode() + b"\n\n", b"data: [DONE]\n\n"],
        "vllm-flat": [b"data: " + json.dumps(flat).encode() + b"\n\n", b"data: [DONE]\n\n"],
        "tgi": [b"data: " + json.dumps({"error": {"message": error["message"], "http_status_code":
                                                  error["code"]}}).encode() + b"\n\n", b"data: [DONE]\n\n"],
        "event": [b"event: error\ndata: " + json.dumps({"error": error}).encode() + b"\n\n"],
        "lmstudio": [b"data: " + json.dumps({"error": {"message": error["message"]}, "message":
                                             error["message"]}).encode() + b"\n\n"],
    }
    return framed[shape]


STREAM_ERROR_SHAPES = ("llamacpp-legacy", "llamacpp", "vllm", "vllm-flat", "tgi", "event", "lmstudio")


THOUGHT = ("Okay, the user wants one section of a blog post about a paper. Let me think about what the paper "
           "says and how to explain it simply before I write anything.")
CHATTY_OPENER = "Sure! Here's the {section} section for your post:"
CHATTY_CLOSER = "I hope this helps! Let me know if you'd like any changes to the tone or length."


def _unsupported_parameter_message(param: str) -> str:
    if param == "max_tokens":
        return ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.")
    return f"Unsupported parameter: '{param}' is not supported with this model."


def _unsupported_value_message(param: str, value: Any) -> str:
    return (f"Unsupported value: '{param}' does not support {value} with this model. "
            "Only the default (1) value is supported.")


def unused_port() -> int:
    """Return a TCP port on 127.0.0.1 with nothing listening (for connection-refused tests).

    The port is obtained from the OS and released immediately; another process could in
    theory grab it in between, which is acceptable for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, consumed by exactly one chat request.

    Build instances with the classmethods rather than the raw constructor:

    * :meth:`http_error` -- any status with an ``{"error": {...}}`` body (or a raw body)
    * :meth:`rate_limit` (429 + ``Retry-After``), :meth:`insufficient_quota` (429),
      :meth:`server_error` (500/502/503), :meth:`loading_model` (503, llama.cpp), :meth:`invalid_api_key` (401),
      :meth:`model_not_found` (404), :meth:`context_length_exceeded` (400, OpenAI),
      :meth:`context_exceeded_llamacpp` (400), :meth:`context_exceeded_vllm` (400)
    * :meth:`drop` -- read the request, then close the socket without a (complete) response
    * :meth:`hang` -- wait ``seconds`` before answering normally
    * :meth:`empty` -- HTTP 200 whose content is ``""`` (or whitespace)
    * :meth:`reply` -- HTTP 200 with the given content / finish_reason
    * :meth:`stream_error` -- HTTP 200, a few chunks of the answer, then an error inside the stream, in the shape
      a real server sends it (llama.cpp old and new, vLLM nested and flat, TGI)

    Attributes:
        kind: ``"http"``, ``"drop"``, ``"hang"``, ``"reply"`` or ``"stream_error"``.
        status_code: HTTP status for ``"http"`` faults.
        error: the ``error`` object for ``"http"`` faults.  ``"{model}"`` in its message
            is replaced by the requested model.
        headers: extra response headers (e.g. ``{"Retry-After": "1"}``).
        raw_body: if set, sent verbatim instead of ``{"error": error}`` (e.g. an HTML 502
            page or vLLM's legacy flat error object).
        seconds: the delay for ``"hang"``.
        text: the content for ``"reply"``.
        finish_reason: the finish reason for ``"reply"``.
        partial: for ``"drop"``: send a status line and part of the headers before closing.
        shape: for ``"stream_error"``: how the error is framed (see :data:`STREAM_ERROR_SHAPES`).
        after: for ``"stream_error"``: content chunks sent before the error.
    """

    kind: str
    status_code: int = 200
    error: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: str | None = None
    seconds: float = 0.0
    text: str = ""
    finish_reason: str = "stop"
    partial: bool = False
    shape: str = ""
    after: int = 0

    # -- generic -----------------------------------------------------------------------
    @classmethod
    def http_error(
        cls,
        status: int,
        message: str,
        type: str | None = None,
        code: str | int | None = None,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        raw_body: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Fault:
        """An HTTP error with body ``{"error": {"message", "type", "param", "code", **extra}}``."""
        error: dict[str, Any] = {"message": message, "type": type, "param": param, "code": code}
        if extra:
            error.update(extra)
        return cls(
            kind="http",
            status_code=status,
            error=error,
            headers=tuple((headers or {}).items()),
            raw_body=raw_body,
        )

    # -- OpenAI-style errors -------------------------------------------------------------
    @classmethod
    def rate_limit(cls, retry_after: float | None = 1, headers: dict[str, str] | None = None) -> Fault:
        """HTTP 429 ``rate_limit_exceeded`` with ``Retry-After: <retry_after>`` (omitted if None)."""
        hdrs = {} if retry_after is None else {"Retry-After": _fmt_number(retry_after)}
        hdrs.update(headers or {})
        return cls.http_error(
            429,
            "Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 1s.",
            "requests",
            "rate_limit_exceeded",
            headers=hdrs,
        )

    @classmethod
    def insufficient_quota(cls) -> Fault:
        """HTTP 429 ``insufficient_quota`` (billing problem: retrying does not help)."""
        return cls.http_error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more "
            "information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            "insufficient_quota",
        )

    @classmethod
    def server_error(cls, status: int = 500, headers: dict[str, str] | None = None) -> Fault:
        """HTTP 5xx with an OpenAI-style ``server_error`` body (500, 502, 503, ...)."""
        messages = {
            500: "The server had an error while processing your request. Sorry about that!",
            502: "Bad gateway.",
            503: "The engine is currently overloaded, please try again later.",
        }
        return cls.http_error(
            status, messages.get(status, f"Server error {status}."), "server_error", None, headers=headers
        )

    @classmethod
    def loading_model(cls) -> Fault:
        """HTTP 503 as llama.cpp's server answers every request until its model is loaded (tools/server/server.cpp,
        middleware_server_state: ``res_error(res, format_error_response("Loading model",
        ERROR_TYPE_UNAVAILABLE))``)."""
        body = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
        return cls(kind="http", status_code=503, error=body["error"], raw_body=json.dumps(body))

    @classmethod
    def invalid_api_key(cls) -> Fault:
        """HTTP 401 ``invalid_api_key``."""
        return cls.http_error(
            401,
            "Incorrect API key provided: test-***-key. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    @classmethod
    def model_not_found(cls) -> Fault:
        """HTTP 404 ``model_not_found`` naming the requested model."""
        return cls.http_error(
            404,
            "The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )

    @classmethod
    def context_length_exceeded(cls) -> Fault:
        """HTTP 400 ``context_length_exceeded`` in OpenAI's wording (8192-token model)."""
        return cls.http_error(
            400, OPENAI_CONTEXT_MESSAGE, "invalid_request_error", "context_length_exceeded", param="messages"
        )

    @classmethod
    def context_exceeded_llamacpp(cls) -> Fault:
        """HTTP 400 as llama.cpp's server words it (``code`` is the *integer* 400)."""
        return cls.http_error(
            400,
            LLAMACPP_CONTEXT_MESSAGE,
            "exceed_context_size_error",
            400,
            extra={"n_prompt_tokens": 9000, "n_ctx": 8192},
        )

    @classmethod
    def context_exceeded_vllm(cls, flat: bool = False) -> Fault:
        """HTTP 400 as vLLM words it (``type`` ``BadRequestError``, integer ``code`` 400).

        ``flat=True`` sends older vLLM's top-level ``{"object": "error", "message": ...}``
        body instead of the nested ``{"error": {...}}`` one.
        """
        fault = cls.http_error(400, VLLM_CONTEXT_MESSAGE, "BadRequestError", 400)
        if flat:
            body = {
                "object": "error",
                "message": VLLM_CONTEXT_MESSAGE,
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
            fault = cls(kind="http", status_code=400, error=fault.error, raw_body=json.dumps(body))
        return fault

    # -- transport-level misbehaviour ------------------------------------------------------
    @classmethod
    def drop(cls, partial: bool = False) -> Fault:
        """Read the request, then close the connection without a response.

        With ``partial=True`` a status line and one header are sent first, then the
        connection is closed mid-headers.
        """
        return cls(kind="drop", partial=partial)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """Wait ``seconds`` (on top of the server latency), then answer normally.

        The wait ends early, without a response, if the client disconnects (e.g. after its
        own timeout) or the server stops; such a request is recorded with ``status == 0``.
        """
        return cls(kind="hang", seconds=seconds)

    # -- odd but successful replies ------------------------------------------------------
    @classmethod
    def empty(cls, whitespace: bool = False) -> Fault:
        """HTTP 200 completion whose content is ``""`` (or ``" \\n\\t "`` if whitespace)."""
        return cls(kind="reply", text=" \n\t " if whitespace else "")

    @classmethod
    def unsupported_parameter(cls, param: str) -> Fault:
        """HTTP 400 as OpenAI rejects a parameter a reasoning model does not take (e.g. ``max_tokens``)."""
        return cls.http_error(400, _unsupported_parameter_message(param), "invalid_request_error",
                              "unsupported_parameter", param=param)

    @classmethod
    def unsupported_value(cls, param: str = "temperature", value: float = 0.3) -> Fault:
        """HTTP 400 as OpenAI rejects a ``temperature`` other than 1 for reasoning models."""
        return cls.http_error(400, _unsupported_value_message(param, value), "invalid_request_error",
                              "unsupported_value", param=param)

    @classmethod
    def stream_error(cls, shape: str, status: int, message: str, type: str, *, after: int = 2,
                     extra: dict[str, Any] | None = None) -> Fault:
        """HTTP 200 and ``after`` chunks of the answer, then the error ``{"code": status, "message", "type",
        **extra}`` framed as ``shape`` does (a request that does not stream gets it as the HTTP error)."""
        if shape not in STREAM_ERROR_SHAPES:
            raise ValueError(f"unknown stream error shape {shape!r}")
        error: dict[str, Any] = {"code": status, "message": message, "type": type, **(extra or {})}
        return cls(kind="stream_error", status_code=status, error=error, shape=shape, after=after)

    @classmethod
    def stream_context_error(cls, shape: str) -> Fault:
        """The context-size error each server sends inside a stream, in its own words and shape."""
        if shape.startswith("llamacpp"):
            return cls.stream_error(shape, 400, LLAMACPP_CONTEXT_MESSAGE, "exceed_context_size_error", after=0,
                                    extra={"n_prompt_tokens": 9000, "n_ctx": 8192})
        if shape == "tgi":
            return cls.stream_error(shape, 422, TGI_CONTEXT_MESSAGE, "validation", after=0)
        if shape == "lmstudio":
            return cls.stream_error(shape, 400, LMSTUDIO_CONTEXT_MESSAGE, "", after=0)
        return cls.stream_error(shape, 400, VLLM_CONTEXT_MESSAGE, "BadRequestError", after=0)

    @classmethod
    def reply(cls, text: str, finish_reason: str = "stop") -> Fault:
        """HTTP 200 completion with exactly this content (and finish_reason) for one request."""
        return cls(kind="reply", text=text, finish_reason=finish_reason)


@dataclass
class RecordedRequest:
    """One request to ``/v1/chat/completions`` as seen by the server.

    Attributes:
        body: parsed JSON body (``{}`` if it was not valid JSON).
        headers: request headers, lower-case keys.
        started: ``time.monotonic()`` when the server began handling it.
        finished: ``time.monotonic()`` when handling ended (0.0 while in flight).
        status: HTTP status sent; 0 if no response was sent (drop, or the client went
            away / the server stopped during the latency or a hang).
        fault: the :class:`Fault` applied to it, if any.
        path: the request path.
        usage: the ``usage`` object of the completion sent (``{}`` for none).
    """

    body: dict[str, Any]
    headers: dict[str, str]
    started: float
    finished: float = 0.0
    status: int = 0
    fault: Fault | None = None
    path: str = "/v1/chat/completions"
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's ``messages`` list (empty if absent)."""
        msgs = self.body.get("messages")
        return msgs if isinstance(msgs, list) else []

    @property
    def content(self) -> str:
        """All message contents joined with blank lines (handy for ``in`` assertions)."""
        return "\n\n".join(_message_text(m) for m in self.messages)


def _fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _message_text(message: object) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": "..."}]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _messages_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body.get("messages"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def default_reply(body: dict[str, Any]) -> str:
    """The deterministic default content for a chat request body (see module docstring)."""
    messages = body.get("messages")
    section = "unknown"
    if isinstance(messages, list):
        for message in reversed(messages):
            match = SECTION_ID_RE.search(_message_text(message))
            if match:
                section = match.group(1).lower()
                break
    return f"Fake draft for {section}.\n\nfake-hash: {_messages_hash(body)}\n"


def stream_chunks(completion: dict[str, Any], include_usage: bool, piece: int = 4) -> list[dict[str, Any]]:
    """A whole chat completion as the ``chat.completion.chunk`` objects OpenAI streams: the role, the content a
    few characters (about a token) at a time, the finish reason, then (``include_usage``) a chunk with no choices
    and the usage; every other chunk then carries ``"usage": null``."""
    head = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": ""})]
    for field_name in ("reasoning_content", "reasoning"):
        if message.get(field_name):
            chunks.append(chunk({field_name: message[field_name]}))
    content = message.get("content") or ""
    chunks += [chunk({"content": content[i:i + piece]}) for i in range(0, len(content), piece)]
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": completion["usage"]})
    return chunks


def send_sse(handler: BaseHTTPRequestHandler, chunks: list[dict[str, Any]], between: Callable[[], bool] | None = None,
             done: bool = True, before_end: Callable[[], None] | None = None) -> bool:
    """Stream chunks as server-sent events (chunked transfer encoding), ``data: [DONE]`` last (if ``done``).
    ``between()`` runs before each chunk after the first; False stops the stream there (connection closed).
    ``before_end()`` runs before the stream's end is written, so what it records is there when the client has
    the whole answer (a test may look the moment its client returns).
    Returns False when the client went away or the stream was stopped."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def write(data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    try:
        for i, item in enumerate(chunks):
            if i and between is not None and not between():
                handler.close_connection = True
                return False
            write(f"data: {json.dumps(item)}\n\n".encode())
        if before_end is not None:
            before_end()
        if done:
            write(b"data: [DONE]\n\n")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True
        return False
    return True


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so stop() can end them promptly."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of concurrent connects beyond it
    # gets its SYNs dropped and retried ~1 s later, which would hide real client concurrency.
    request_queue_size = 128
    block_on_close = False  # we join handler threads ourselves, with a timeout

    fake: FakeOpenAI

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.conn_lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._run, args=(request, client_address), daemon=True, name="fakeopenai-conn"
        )
        with self.conn_lock:
            self.connections.add(request)
            self.handler_threads.add(t)
        t.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.discard(request)
                self.handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # the client went away; that's what fault tests do
        if exc is not None:
            self.fake.errors.append(exc)
        super().handle_error(request, client_address)

    def abort_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    server: _Server
    timeout = 60  # idle keep-alive connections give up eventually
    # Runs with the status just before a response's last bytes go out: the record is complete by the time the
    # client has read the answer, however late the scheduler runs this thread again.
    before_end: Callable[[int], None] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output quiet

    # -- helpers -----------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send_raw(status, json.dumps(payload), headers)

    def _send_raw(
        self, status: int, text: str, headers: tuple[tuple[str, str], ...] = (), ctype: str | None = None
    ) -> None:
        data = text.encode("utf-8")
        if ctype is None:
            ctype = "application/json" if text.lstrip().startswith(("{", "[")) else "text/html"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_fake_{next(self.server.fake._ids)}")
        for name, value in headers:
            self.send_header(name, value)
        if self.before_end is not None:
            self.before_end(status)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _not_found(self) -> None:
        self._send_json(
            404,
            {
                "error": {
                    "message": f"Unknown request URL: {self.command} {self.path}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "unknown_url",
                }
            },
        )

    def _client_gone(self) -> bool:
        """True if the peer has closed its end of the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the client left or the server is stopping."""
        deadline = time.monotonic() + seconds
        stopping = self.server.fake._stopping
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if stopping.wait(min(remaining, 0.02)) or self._client_gone():
                return False

    # -- routes ------------------------------------------------------------------------
    def do_GET(self) -> None:
        fake = self.server.fake
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [_model_obj(m) for m in fake.model_ids]})
        elif path.startswith("/v1/models/") and path[len("/v1/models/") :] in fake.model_ids:
            self._send_json(200, _model_obj(path[len("/v1/models/") :]))
        else:
            self._not_found()

    def do_POST(self) -> None:
        raw = self._read_body()
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/chat/completions":
            self._not_found()
            return
        self.server.fake._handle_chat(self, raw)

    def do_PUT(self) -> None:
        self._read_body()
        self._not_found()

    do_DELETE = do_PATCH = do_PUT


def _model_obj(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "fake"}


class FakeOpenAI:
    """A fake OpenAI-compatible server on ``127.0.0.1:<ephemeral port>``.

    Args:
        latency: seconds each chat request waits (in its own handler thread, so
            concurrent requests overlap) before being answered.
        reply: ``reply(body) -> content`` for successful completions; default
            :func:`default_reply`.
        model_ids: ids listed by ``GET /v1/models``.

    Attributes:
        url: ``"http://127.0.0.1:PORT/v1"`` (valid after :meth:`start`).
        requests: every chat request in arrival order (:class:`RecordedRequest`).
        max_in_flight: peak number of chat requests handled at the same time.
        errors: unexpected exceptions raised inside the server (should stay empty).

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        latency: float = 0.0,
        reply: Callable[[dict[str, Any]], str] | None = None,
        model_ids: tuple[str, ...] | list[str] = ("fake-model",),
        *,
        rejects: tuple[str, ...] | list[str] = (),
        reasoning_tokens: int = 0,
        thinking: str | None = None,
        chatty: bool = False,
        enforce_limit: bool = False,
        streaming: bool = True,
        stream_options: bool = True,
        context_window: int | None = None,
    ) -> None:
        if thinking not in (None, "content", "reasoning_content", "reasoning"):
            raise ValueError(f"thinking must be content, reasoning_content or reasoning, not {thinking!r}")
        self.latency = latency
        self.reply = reply
        self.model_ids = tuple(model_ids)
        self.rejects = tuple(rejects)
        self.reasoning_tokens = reasoning_tokens
        self.thinking = thinking
        self.chatty = chatty
        self.enforce_limit = enforce_limit
        self.streaming = streaming
        self.stream_options = stream_options
        self.context_window = context_window
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        self.errors: list[BaseException] = []
        self._in_flight = 0
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL for ``openai.AsyncOpenAI(base_url=...)``, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def port(self) -> int:
        """The TCP port the server listens on (valid after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return int(self._server.server_address[1])

    def start(self) -> FakeOpenAI:
        """Bind, start serving in a background thread and return ``self``."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
            name="fakeopenai-serve",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and pending waits, close all sockets.

        Idempotent.  Raises ``RuntimeError`` if a handler thread does not finish.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        thread.join()
        server.abort_connections()
        with server.conn_lock:
            handlers = list(server.handler_threads)
        for t in handlers:
            t.join(timeout=5)
        server.server_close()
        self._server = self._thread = None
        stuck = [t for t in handlers if t.is_alive()]
        if stuck:
            raise RuntimeError(f"FakeOpenAI: {len(stuck)} handler thread(s) did not finish")

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting & inspection ----------------------------------------------------------
    def enqueue(self, *faults: Fault) -> None:
        """Queue faults; each following chat request consumes one, first in first out."""
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        """How many queued faults have not been consumed yet."""
        with self._lock:
            return len(self._faults)

    def completions(self) -> list[RecordedRequest]:
        """The chat requests answered with HTTP 200, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    # -- request handling (runs in handler threads) ------------------------------------------
    def _handle_chat(self, handler: _Handler, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        rec = RecordedRequest(
            body=body if isinstance(body, dict) else {},
            headers={k.lower(): v for k, v in handler.headers.items()},
            started=time.monotonic(),
            path=handler.path,
        )
        with self._lock:
            self.requests.append(rec)
            fault = self._faults.popleft() if self._faults else None
            rec.fault = fault
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

        def record(status: int) -> None:
            with self._lock:
                rec.status, rec.finished = status, time.monotonic()

        handler.before_end = record
        status = 0
        try:
            status = self._respond(handler, rec, fault, body)
        finally:
            handler.before_end = None
            with self._lock:
                self._in_flight -= 1
                rec.status = status
                rec.finished = rec.finished or time.monotonic()

    def _respond(self, handler: _Handler, rec: RecordedRequest, fault: Fault | None, body: Any) -> int:
        """Send the answer for one chat request; return the status sent (0 for none)."""
        if self.latency > 0 and not handler._wait(self.latency):
            handler.close_connection = True
            return 0
        if not isinstance(body, dict):
            return self._error(handler, 400, "We could not parse the JSON body of your request.")
        if body.get("stream") and not self.streaming:
            return self._error(handler, 400, "FakeOpenAI does not support stream=true.")
        if "stream_options" in body and not self.stream_options:
            return self._error(handler, 400, "Unrecognized request argument supplied: stream_options")
        model = str(body.get("model", ""))

        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            if fault.partial:
                handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/js")
                handler.wfile.flush()
            return 0
        if fault is not None and fault.kind == "hang" and not handler._wait(fault.seconds):
            handler.close_connection = True
            return 0
        if fault is not None and fault.kind == "http":
            if fault.raw_body is not None:
                handler._send_raw(fault.status_code, fault.raw_body, fault.headers)
            else:
                error = dict(fault.error or {})
                if isinstance(error.get("message"), str):
                    error["message"] = error["message"].replace("{model}", model)
                handler._send_json(fault.status_code, {"error": error}, fault.headers)
            return fault.status_code

        if fault is not None and fault.kind == "stream_error":
            return self._stream_error(handler, rec, model, body, fault)
        if fault is not None and fault.kind == "reply":
            return self._answer(handler, body, self._completion(rec, model, fault.text, fault.finish_reason))
        rejection = self._rejection(body)
        if rejection is not None:
            handler._send_json(400, {"error": rejection})
            return 400
        content = self.reply(body) if self.reply is not None else default_reply(body)
        return self._answer(handler, body, self._behave(rec, model, body, content))

    def _answer(self, handler: _Handler, body: dict[str, Any], completion: dict[str, Any]) -> int:
        """Send a completion whole, or streamed when the request asked for a stream."""
        if not body.get("stream"):
            handler._send_json(200, completion)
            return 200
        options = body.get("stream_options")
        usage = isinstance(options, dict) and bool(options.get("include_usage"))
        end = handler.before_end
        sent = send_sse(handler, stream_chunks(completion, usage), before_end=(lambda: end(200)) if end else None)
        return 200 if sent else 0

    def _stream_error(self, handler: _Handler, rec: RecordedRequest, model: str, body: dict[str, Any],
                      fault: Fault) -> int:
        """Status 200, the role and ``fault.after`` content chunks, then the error as ``fault.shape`` frames it."""
        error = dict(fault.error or {})
        if not body.get("stream"):
            handler._send_json(fault.status_code, {"error": error})
            return fault.status_code
        content = self.reply(body) if self.reply is not None else default_reply(body)
        chunks = stream_chunks(self._completion(rec, model, content, "stop"), False)[:1 + fault.after]
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        pieces = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + _stream_error_lines(fault.shape, error)
        if handler.before_end is not None:
            handler.before_end(200)
        try:
            for piece in pieces:
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True
        return 200

    def _rejection(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """OpenAI's error object for the first parameter this server rejects, as a reasoning model does."""
        for param in self.rejects:
            if param not in body:
                continue
            if param == "temperature":
                if body["temperature"] == 1:
                    continue
                message, code = _unsupported_value_message(param, body[param]), "unsupported_value"
            else:
                message, code = _unsupported_parameter_message(param), "unsupported_parameter"
            return {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        return None

    def _behave(self, rec: RecordedRequest, model: str, body: dict[str, Any], content: str) -> dict[str, Any]:
        """The completion with this server's model behaviours: chatter, thinking, hidden reasoning, limits."""
        if self.chatty:
            section = SECTION_ID_RE.search(rec.content)
            opener = CHATTY_OPENER.format(section=section.group(1) if section else "next")
            content = f"{opener}\n\n{content}\n\n{CHATTY_CLOSER}"
        extra: dict[str, Any] = {}
        spent = self.reasoning_tokens  # hidden tokens, out of the limit before any text
        if self.thinking == "content":
            content = f"<think>\n{THOUGHT}\n</think>\n\n{content}"
        elif self.thinking is not None:
            extra[self.thinking] = THOUGHT
            spent += len(THOUGHT) // 4
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        finish_reason = "stop"
        if isinstance(limit, int) and (self.enforce_limit or self.reasoning_tokens or self.thinking):
            room = max(0, limit - spent) * 4
            if spent >= limit or len(content) > room:
                content, finish_reason = content[:room], "length"
                spent = min(spent, limit)
        result = self._completion(rec, model, content, finish_reason, hidden=spent)
        result["choices"][0]["message"].update(extra)
        if self.reasoning_tokens:
            result["usage"]["completion_tokens_details"] = {
                "reasoning_tokens": min(self.reasoning_tokens, spent), "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        return result

    def _error(self, handler: _Handler, status: int, message: str) -> int:
        handler._send_json(
            status,
            {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}},
        )
        return status

    def _completion(
        self, rec: RecordedRequest, model: str, content: str, finish_reason: str, hidden: int = 0
    ) -> dict[str, Any]:
        prompt_tokens = sum(len(_message_text(m)) for m in rec.messages) // 4
        if self.context_window is not None:  # read only what fits, the rest cut without a word
            prompt_tokens = min(prompt_tokens, self.context_window)
        completion_tokens = len(content) // 4 + hidden
        rec.usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        return {
            "id": f"chatcmpl-fake{next(self._completion_ids):04d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
