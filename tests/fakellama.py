"""A stand-in for a local llama.cpp-style server that runs a fixed number of generations at once (one by default).

What a real one-slot server does, so tests and bench/local.py can count what a client costs it:

* a FIFO queue in front of its slots; a queued request whose client left is dropped (``dropped``);
* prompt processing at ``prompt_rate`` tokens/s, then generation at ``token_rate`` tokens/s; with ``prefix_cache``
  a slot skips the prompt prefix it shares with the previous prompt it processed (llama.cpp's prompt cache);
* ``stream=true``: server-sent events in OpenAI's chunk format, one token a chunk, the usage chunk when
  ``stream_options.include_usage`` is set, ``data: [DONE]``; a client that closes the stream stops the generation;
* without ``stream``: the generation runs to its end even if the client left (its tokens are ``wasted``);
* ``GET /props`` -> ``{"total_slots": N, ...}`` as llama.cpp's server answers (``props=False``: 404, as
  llama-cpp-python's server has no /props);
* ``interrupt=True``: llama-cpp-python's server with its default ``interrupt_requests``: a stream's headers go out
  at once (before a slot is free), its first chunk carries only the role, and after each chunk, if another request
  waits for a slot, the stream ends with ``data: [DONE]`` and no finish reason (``interrupted`` counts them);
  ``usage=False``: no usage chunk even when asked (llama-cpp-python's streams carry none);
* ``loading=K``: the first K requests (but GET /v1/models) are answered 503 ``{"error": {"code": 503, "message":
  "Loading model", "type": "unavailable_error"}}``, as llama.cpp's server answers until its model is loaded
  (tools/server/server.cpp, middleware_server_state); ``props_asked`` counts GET /props, answered or not.

Counters: ``started`` (generations begun), ``generated`` and ``wasted`` tokens (generated for an answer its client
never received whole), ``dropped`` (queued requests of gone clients), ``busy`` seconds (time at least one slot
worked), ``prompt_processed`` tokens, ``max_queued``, ``max_running`` (generations at once), and ``order`` (the
section of each generation, in order).

Modes for the ugly cases (``mode=``, for the first ``bad`` generations, then normal; ``bad=None``: all):
``"silent"`` accepts every connection and never answers anything; ``"stall"`` stops a stream after ``after``
tokens and sends nothing more; ``"drop"`` closes the connection after ``after`` tokens; ``"cut"`` ends the stream
cleanly after ``after`` tokens, with neither a finish reason nor ``data: [DONE]``, as Ollama's /v1 does when its
runner fails mid-answer (server/routes.go streamResponse stops the stream at the ``{"error": ...}`` it is sent, and
middleware/openai.go's ChatWriter writes that as one more chunk with ``"content": ""``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from fakeserver import SECTION_ID_RE, _message_text, default_reply
from localhttp import start_server, stop_server

WORDS = ("the model reads the paper and writes a clear section about its method results and limits for "
         "practitioners who want to build on it ").split()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of connections must not be held back by the listen backlog
    fake: FakeLlama

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client closed its connection: what the tests make clients do
        super().handle_error(request, client_address)


class _Job:
    def __init__(self, body: dict[str, Any], prompt: str) -> None:
        self.body = body
        self.prompt = prompt
        self.slot: int | None = None
        self.section = "unknown"
        for message in reversed(body.get("messages") or []):
            match = SECTION_ID_RE.search(_message_text(message))
            if match:
                self.section = match.group(1).lower()
                break


class FakeLlama:
    def __init__(self, slots: int = 1, *, prompt_rate: float = 20000.0, token_rate: float = 2000.0,
                 answer_tokens: int = 40, props: bool = True, prefix_cache: bool = True, mode: str = "normal",
                 bad: int | None = None, after: int = 3, model: str = "local-model", interrupt: bool = False,
                 usage: bool = True, loading: int = 0) -> None:
        if mode not in ("normal", "silent", "stall", "drop", "cut"):
            raise ValueError(f"unknown mode {mode!r}")
        self.slots = slots
        self.prompt_rate = prompt_rate
        self.token_rate = token_rate
        self.answer_tokens = answer_tokens
        self.props = props
        self.prefix_cache = prefix_cache
        self.mode = mode
        self.bad = bad
        self.after = after
        self.model = model
        self.interrupt = interrupt
        self.usage = usage
        self.loading = loading  # requests still answered 503 "Loading model"
        self.props_asked = 0  # GET /props, answered or not
        self.interrupted = 0
        self.unanswered: list[str] = []  # the section of each chat request a silent server took and never answered
        self.started = self.generated = self.wasted = self.dropped = self.prompt_processed = self.max_queued = 0
        self.max_running = 0  # most generations at once
        self.busy = 0.0
        self.order: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._idle = list(range(slots))
        self._slot_prompt = [""] * slots
        self._busy_since: float | None = None
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._misbehaved = 0

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeLlama:
        server, self._thread = start_server(_Handler, "fakellama", server_class=_Server)
        assert isinstance(server, _Server)
        self._server = server
        server.fake = self
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        stop_server(self._server, self._thread)
        self._server = None

    def __enter__(self) -> FakeLlama:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def counters(self) -> dict[str, Any]:
        with self._cond:
            return {"started": self.started, "generated": self.generated, "wasted": self.wasted,
                    "dropped": self.dropped, "busy": round(self.busy, 3), "prompt_processed": self.prompt_processed,
                    "max_queued": self.max_queued, "max_running": self.max_running, "interrupted": self.interrupted}

    # -- the queue and the slots (handler threads) ---------------------------------------------------------

    def _misbehaves(self) -> bool:
        with self._cond:
            if self.mode == "normal" or (self.bad is not None and self._misbehaved >= self.bad):
                return False
            self._misbehaved += 1
            return True

    def _wait_for_slot(self, job: _Job, handler: _Handler) -> bool:
        """Queue the job until a slot takes it (FIFO); False if its client left first (dropped) or we stop."""
        with self._cond:
            self._queue.append(job)
            while True:
                if self._idle and self._queue[0] is job:
                    self._queue.pop(0)
                    job.slot = max(self._idle, key=lambda s: _shared(self._slot_prompt[s], job.prompt))
                    self._idle.remove(job.slot)
                    self.max_running = max(self.max_running, self.slots - len(self._idle))
                    if self._busy_since is None:
                        self._busy_since = time.monotonic()
                    self._cond.notify_all()
                    return True
                if self._stopping.is_set() or handler.client_gone():
                    self._queue.remove(job)
                    self.dropped += not self._stopping.is_set()
                    self._cond.notify_all()
                    return False
                self.max_queued = max(self.max_queued, len(self._queue))  # waiting for a slot: queued
                self._cond.wait(0.02)

    def _release(self, job: _Job) -> None:
        with self._cond:
            assert job.slot is not None
            self._idle.append(job.slot)
            self._slot_prompt[job.slot] = job.prompt
            if len(self._idle) == self.slots and self._busy_since is not None:
                self.busy += time.monotonic() - self._busy_since
                self._busy_since = None
            self._cond.notify_all()

    def _process_prompt(self, job: _Job) -> None:
        assert job.slot is not None
        cached = _shared(self._slot_prompt[job.slot], job.prompt) if self.prefix_cache else 0
        tokens = max(1, (len(job.prompt) - cached) // 4)
        with self._cond:
            self.started += 1
            self.prompt_processed += tokens
            self.order.append(job.section)
        self._sleep(tokens / self.prompt_rate)

    def _sleep(self, seconds: float) -> bool:
        return not self._stopping.wait(seconds)

    def answer_text(self, body: dict[str, Any]) -> tuple[list[str], str]:
        """The answer's tokens (4 characters each) and its finish reason, within the request's limit."""
        limit = body.get("max_tokens", body.get("max_completion_tokens")) or self.answer_tokens
        text = default_reply(body)
        i = 0
        while len(text) // 4 < self.answer_tokens:
            text += WORDS[i % len(WORDS)] + " "
            i += 1
        tokens = [text[k:k + 4] for k in range(0, len(text), 4)][:self.answer_tokens]
        if len(tokens) > limit:
            return tokens[:limit], "length"
        return tokens, "stop"

    def generate(self, handler: _Handler, job: _Job) -> None:
        bad = self._misbehaves()
        early = self.interrupt and bool(job.body.get("stream"))  # llama-cpp-python answers a stream's headers at once
        if early and not handler.start_stream():
            return
        if not self._wait_for_slot(job, handler):
            return
        try:
            self._process_prompt(job)
            tokens, finish = self.answer_text(job.body)
            if job.body.get("stream"):
                self._stream(handler, job, tokens, finish, bad, started=early)
            else:
                self._whole(handler, job, tokens, finish)
        finally:
            self._release(job)

    def _count(self, generated: int, delivered: bool) -> None:
        with self._cond:
            self.generated += generated
            if not delivered:
                self.wasted += generated

    def _whole(self, handler: _Handler, job: _Job, tokens: list[str], finish: str) -> None:
        self._sleep(len(tokens) / self.token_rate)  # runs to its end whether or not the client is still there
        completion = self._completion(job, "".join(tokens), finish, len(tokens))
        delivered = not handler.client_gone() and handler.send_json(200, completion)
        self._count(len(tokens), delivered)

    def _stream(self, handler: _Handler, job: _Job, tokens: list[str], finish: str, bad: bool,
                started: bool = False) -> None:
        head = {"id": f"chatcmpl-llama{self.started}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self.model, "system_fingerprint": "b0"}
        options = job.body.get("stream_options")
        usage = self.usage and isinstance(options, dict) and bool(options.get("include_usage"))

        def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}

        if not started and not handler.start_stream():
            self._count(0, False)
            return
        if self.interrupt and not handler.event(chunk({"role": "assistant"})):
            self._count(0, False)
            return
        sent = 0
        for i, token in enumerate(tokens):
            if self.interrupt and self._newcomer():
                self._count(sent, False)
                handler.end_stream()
                return
            if bad and self.mode == "cut" and i == self.after:
                self._count(sent, False)
                handler.event(chunk({"content": ""}))
                handler._chunk(b"")
                return
            if bad and self.mode in ("stall", "drop") and i == self.after:
                self._count(sent, False)
                if self.mode == "stall":
                    while not self._stopping.is_set() and not handler.client_gone():
                        self._sleep(0.02)
                handler.close_connection = True
                return
            delta = {"role": "assistant", "content": token} if i == 0 and not self.interrupt else {"content": token}
            if not handler.event(chunk(delta)):
                self._count(sent + 1, False)  # the client closed the stream: the generation stops here
                return
            sent += 1
            if not self._sleep(1 / self.token_rate):
                self._count(sent, False)
                return
        end = [chunk({}, finish)]
        if usage:
            completion = self._completion(job, "".join(tokens), finish, len(tokens))
            end.append({**head, "choices": [], "usage": completion["usage"]})
        delivered = all(handler.event(c) for c in end) and handler.end_stream()
        self._count(sent, delivered)

    def _newcomer(self) -> bool:
        """Another request waits for a slot: an interrupting server ends the running stream for it."""
        with self._cond:
            if self._queue:
                self.interrupted += 1
                return True
            return False

    def _completion(self, job: _Job, content: str, finish: str, tokens: int) -> dict[str, Any]:
        prompt_tokens = len(job.prompt) // 4
        return {"id": f"chatcmpl-llama{self.started}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model, "system_fingerprint": "b0",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "logprobs": None, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": tokens,
                          "total_tokens": prompt_tokens + tokens}}


def _shared(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def client_gone(self) -> bool:
        import select

        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def send_json(self, status: int, payload: Any) -> bool:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def start_stream(self) -> bool:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def _chunk(self, data: bytes) -> bool:
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def event(self, payload: dict[str, Any]) -> bool:
        return self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

    def end_stream(self) -> bool:
        return self._chunk(b"data: [DONE]\n\n") and self._chunk(b"")

    def _loading(self) -> bool:
        """Answer 503 "Loading model" while the stand-in is still loading."""
        fake = self.server.fake
        with fake._cond:
            if fake.loading <= 0:
                return False
            fake.loading -= 1
        self.send_json(503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})
        return True

    def _silent(self, chat: bytes | None = None) -> bool:
        fake = self.server.fake
        if fake.mode != "silent" or not fake._misbehaves():
            return False
        if chat is not None:
            with contextlib.suppress(ValueError), fake._cond:
                fake.unanswered.append(_Job(json.loads(chat or b"{}"), "").section)
        while not fake._stopping.is_set() and not self.client_gone():
            fake._sleep(0.02)
        self.close_connection = True
        return True

    def do_GET(self) -> None:
        fake = self.server.fake
        if self._silent():
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/props":
            with fake._cond:
                fake.props_asked += 1
        if path != "/v1/models" and self._loading():
            return
        if path == "/props" and fake.props:
            self.send_json(200, {"total_slots": fake.slots, "model_path": f"/models/{fake.model}.gguf",
                                 "default_generation_settings": {"n_ctx": 8192, "params": {"n_predict": -1}},
                                 "chat_template": "{{ messages }}", "build_info": "b0-fake"})
        elif path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": fake.model, "object": "model", "created": 0,
                                                              "owned_by": "llamacpp"}]})
        else:
            self.send_json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self._silent(raw):
            return
        if self._loading():
            return
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/chat/completions":
            self.send_json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": {"code": 400, "message": "invalid JSON", "type": "invalid_request_error"}})
            return
        with fake._cond:
            fake.bodies.append(body)
        prompt = "\n".join(f"{m.get('role')}: {_message_text(m)}" for m in body.get("messages") or [])
        try:
            fake.generate(self, _Job(body, prompt))
        except Exception as exc:  # a bug in the stand-in: the test that started it fails on it
            fake.errors.append(exc)
            raise
