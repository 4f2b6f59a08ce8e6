"""A small fake of the OpenAI Batch API (files + batches) on 127.0.0.1, for hermetic tests of --batch-api.

Stdlib only, speaking the real wire format so the real ``openai`` client runs:

* ``POST /v1/files`` (multipart: ``file``, ``purpose``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``
* ``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window``, ``metadata``),
  ``GET /v1/batches/{id}``, ``GET /v1/batches`` (list), ``POST /v1/batches/{id}/cancel``
* ``POST /v1/chat/completions`` answers like the online fake but is counted in ``chat_calls``: the Batch API
  path must never call it.

A batch moves ``validating -> in_progress -> finalizing -> completed``, one step per retrieve (``steps``
retrieves per step), unless ``hold`` is set (it then stays ``in_progress`` until :meth:`release`). When it
completes, each input line is answered with :func:`fakeserver.default_reply` (the online fake's answer, with
the same token counts), so the drafts match the online path's. Output and error files hold one line per request,
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``. Scripted trouble:

* :meth:`fail_lines` -- the next N request lines whose custom_id contains a text get an HTTP error response
  (in the error file), :meth:`expire_lines` -- they get ``error.code = "batch_expired"`` instead;
* ``fail_batch=True`` -- validation fails: status ``failed`` with ``errors.data``;
* ``no_batch_api=True`` -- 404 on ``/files`` and ``/batches`` (a server without the Batch API);
* ``rejects=("max_tokens", "temperature")`` -- a reasoning model: lines carrying those get OpenAI's 400
  ``unsupported_parameter`` / ``unsupported_value`` bodies in the error file;
* cancel: ``cancelling`` at once, ``cancelled`` at the next retrieve, with no output.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from fakeserver import _message_text, _unsupported_parameter_message, _unsupported_value_message, default_reply
from localhttp import start_server, stop_server

__all__ = ["FakeBatchAPI"]

STEPS = ("validating", "in_progress", "finalizing", "completed")


@dataclass
class _Script:
    match: str
    times: int
    kind: str  # "error", "expired" or "spent"
    status: int = 500
    message: str = "The server had an error while processing your request. Sorry about that!"
    code: str | None = None


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def obj(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


def completion_body(body: dict[str, Any], number: int) -> dict[str, Any]:
    """The chat completion the online fake would send for this request body (same content and usage)."""
    content = default_reply(body)
    messages = body.get("messages") or []
    prompt_tokens = sum(len(_message_text(m)) for m in messages) // 4
    completion_tokens = len(content) // 4
    return {"id": f"chatcmpl-batch{number:04d}", "object": "chat.completion", "created": int(time.time()),
            "model": str(body.get("model", "")), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class FakeBatchAPI:
    """The fake server; ``url`` is the base URL for ``--base-url``. See the module docstring."""

    def __init__(self, *, steps: int = 1, hold: bool = False, fail_batch: bool = False,
                 no_batch_api: bool = False, rejects: tuple[str, ...] = ()) -> None:
        self.steps = steps
        self.rejects = tuple(rejects)
        self.held = threading.Event()
        if not hold:
            self.held.set()
        self.fail_batch = fail_batch
        self.no_batch_api = no_batch_api
        self.files: dict[str, _File] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, list[dict[str, Any]]] = {}  # batch id -> its request lines
        self.retrieves: dict[str, int] = {}
        self.chat_calls: list[dict[str, Any]] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.errors: list[BaseException] = []
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------------------
    def fail_lines(self, match: str, times: int = 1, status: int = 500, message: str | None = None,
                   code: str | None = None) -> None:
        """The next `times` request lines whose custom_id contains `match` fail with HTTP `status` (and an
        OpenAI error body with `message` and `code`, e.g. context_length_exceeded)."""
        script = _Script(match, times, "error", status, code=code)
        if message:
            script.message = message
        self._scripts.append(script)

    def spend_lines(self, match: str, times: int = 1) -> None:
        """The next `times` request lines whose custom_id contains `match` spend their whole token limit on
        hidden reasoning: HTTP 200, empty content, finish_reason "length"."""
        self._scripts.append(_Script(match, times, "spent"))

    def expire_lines(self, match: str, times: int = 1) -> None:
        """The next `times` request lines whose custom_id contains `match` expire unanswered."""
        self._scripts.append(_Script(match, times, "expired"))

    def release(self) -> None:
        """Let held batches finish."""
        self.held.set()

    def created(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.batches.values())

    # -- lifecycle -------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeBatchAPI:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server, self._thread = start_server(Handler, "fakebatchapi")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            stop_server(self._server, self._thread)
            self._server = self._thread = None

    def __enter__(self) -> FakeBatchAPI:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- the API ---------------------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def upload(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        with self._lock:
            made = _File(self._new_id("file-fake"), filename, purpose, data)
            self.files[made.id] = made
            return made.obj()

    def create_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            source = self.files.get(str(body.get("input_file_id")))
            if source is None:
                return 400, _error(f"No such File object: {body.get('input_file_id')}", "invalid_request_error")
            if body.get("completion_window") != "24h" or body.get("endpoint") != "/v1/chat/completions":
                return 400, _error("Invalid endpoint or completion_window", "invalid_request_error")
            now = int(time.time())
            batch = {"id": self._new_id("batch_fake"), "object": "batch", "endpoint": body["endpoint"],
                     "errors": None, "input_file_id": source.id, "completion_window": "24h",
                     "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": now,
                     "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None,
                     "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None,
                     "cancelled_at": None, "request_counts": {"total": 0, "completed": 0, "failed": 0},
                     "metadata": body.get("metadata")}
            lines, problems = [], []
            seen: set[str] = set()
            for number, raw in enumerate(source.data.decode("utf-8").splitlines(), 1):
                try:
                    line = json.loads(raw)
                except ValueError:
                    problems.append({"code": "invalid_json_line", "message": "This line is not parseable as "
                                     "valid JSON.", "param": None, "line": number})
                    continue
                cid = line.get("custom_id")
                if line.get("method") != "POST" or line.get("url") != body["endpoint"] or not cid or cid in seen:
                    problems.append({"code": "invalid_request", "message": "custom_id missing or duplicated, or "
                                     "method/url do not match the batch's endpoint", "param": None, "line": number})
                seen.add(str(cid))
                lines.append(line)
            if self.fail_batch and not problems:
                problems.append({"code": "model_not_found", "message": "The provided model 'fake-model' is not "
                                 "supported by the Batch API.", "param": "body.model", "line": 1})
            if problems:
                batch["errors"] = {"object": "list", "data": problems}
                batch["_fail"] = True
            batch["request_counts"]["total"] = len(lines)
            self.batches[batch["id"]] = batch
            self.inputs[batch["id"]] = lines
            self.retrieves[batch["id"]] = 0
            return 200, _public(batch)

    def retrieve(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, _error(f"No batch found with id '{batch_id}'.", "invalid_request_error")
            self.retrieves[batch_id] += 1
            self._advance(batch)
            return 200, _public(batch)

    def cancel(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, _error(f"No batch found with id '{batch_id}'.", "invalid_request_error")
            if batch["status"] in ("validating", "in_progress", "finalizing"):
                batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
            return 200, _public(batch)

    def _advance(self, batch: dict[str, Any]) -> None:
        now = int(time.time())
        status = batch["status"]
        if status == "cancelling":
            batch["status"], batch["cancelled_at"] = "cancelled", now
            return
        if status not in STEPS[:-1]:
            return
        if self.retrieves[batch["id"]] % self.steps:
            return
        if status == "validating" and batch.get("_fail"):
            batch["status"], batch["failed_at"] = "failed", now
            return
        if status == "in_progress" and not self.held.is_set():
            return
        following = STEPS[STEPS.index(status) + 1]
        batch["status"] = following
        batch[f"{following}_at"] = now
        if following == "completed":
            self._run(batch)

    def _scripted(self, cid: str) -> _Script | None:
        for script in self._scripts:
            if script.times > 0 and script.match in cid:
                script.times -= 1
                return script
        return None

    def _rejected(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """OpenAI's 400 body for a parameter this (reasoning) model does not take, or None."""
        for param in ("max_tokens", "reasoning_effort"):
            if param in self.rejects and param in body:
                error = _error(_unsupported_parameter_message(param), "invalid_request_error", "unsupported_parameter")
                error["error"]["param"] = param
                return error
        if "temperature" in self.rejects and body.get("temperature", 1) != 1:
            error = _error(_unsupported_value_message("temperature", body["temperature"]), "invalid_request_error",
                           "unsupported_value")
            error["error"]["param"] = "temperature"
            return error
        return None

    def _run(self, batch: dict[str, Any]) -> None:
        """Answer every request line; write the output and error files in the Batch API's format."""
        output, errors = [], []
        for line in self.inputs[batch["id"]]:
            cid = str(line["custom_id"])
            number = next(self._ids)
            record: dict[str, Any] = {"id": f"batch_req_fake{number:06d}", "custom_id": cid, "response": None,
                                      "error": None}
            script = self._scripted(cid)
            rejected = self._rejected(line.get("body") or {})
            if rejected is not None:
                record["response"] = {"status_code": 400, "request_id": f"req_fake{number:06d}", "body": rejected}
                errors.append(record)
            elif script is not None and script.kind == "spent":
                body = completion_body(line["body"], number)
                limit = int(line["body"].get("max_completion_tokens") or line["body"].get("max_tokens") or 0)
                body["choices"][0]["message"]["content"] = ""
                body["choices"][0]["finish_reason"] = "length"
                body["usage"].update(completion_tokens=limit, total_tokens=body["usage"]["prompt_tokens"] + limit,
                                     completion_tokens_details={"reasoning_tokens": limit})
                record["response"] = {"status_code": 200, "request_id": f"req_fake{number:06d}", "body": body}
                output.append(record)
            elif script is not None and script.kind == "expired":
                record["error"] = {"code": "batch_expired", "message": "This request could not be executed "
                                   "before the completion window expired."}
                errors.append(record)
            elif script is not None:
                record["response"] = {"status_code": script.status, "request_id": f"req_fake{number:06d}",
                                      "body": _error(script.message, "server_error" if script.status >= 500
                                                     else "invalid_request_error", script.code)}
                errors.append(record)
            else:
                record["response"] = {"status_code": 200, "request_id": f"req_fake{number:06d}",
                                      "body": completion_body(line["body"], number)}
                output.append(record)
        for records, key, name in ((output, "output_file_id", "output"), (errors, "error_file_id", "errors")):
            if records:
                data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
                made = _File(self._new_id("file-fake"), f"{batch['id']}_{name}.jsonl", "batch_output", data)
                self.files[made.id] = made
                batch[key] = made.id
        batch["request_counts"]["completed"] = len(output)
        batch["request_counts"]["failed"] = len(errors)


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeBatchAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _route(self, method: str) -> None:
        fake = self.server_fake
        path = self.path.split("?", 1)[0]
        fake.log.append((method, path))
        try:
            raw = self._body() if method == "POST" else b""
            if path == "/v1/chat/completions" and method == "POST":
                body = json.loads(raw or b"{}")
                fake.chat_calls.append(body)
                self._send(200, completion_body(body, len(fake.chat_calls)))
                return
            if fake.no_batch_api and path.startswith(("/v1/files", "/v1/batches")):
                self._send(404, _error(f"Invalid URL ({method} {path})", "invalid_request_error"))
                return
            if path == "/v1/files" and method == "POST":
                self._upload(raw)
                return
            match = re.fullmatch(r"/v1/files/([\w-]+)(/content)?", path)
            if match and method == "GET":
                made = fake.files.get(match.group(1))
                if made is None:
                    self._send(404, _error(f"No such File object: {match.group(1)}", "invalid_request_error"))
                elif match.group(2):
                    self._send(200, made.data, "application/octet-stream")
                else:
                    self._send(200, made.obj())
                return
            if path == "/v1/batches" and method == "POST":
                self._send(*fake.create_batch(json.loads(raw or b"{}")))
                return
            if path == "/v1/batches" and method == "GET":
                data = [_public(b) for b in reversed(fake.created())]
                self._send(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                 "last_id": data[-1]["id"] if data else None, "has_more": False})
                return
            match = re.fullmatch(r"/v1/batches/([\w-]+)(/cancel)?", path)
            if match and (method == "GET") != bool(match.group(2)):
                self._send(*(fake.cancel(match.group(1)) if match.group(2) else fake.retrieve(match.group(1))))
                return
            self._send(404, _error(f"Invalid URL ({method} {path})", "invalid_request_error"))
        except Exception as exc:  # noqa: BLE001 -- recorded for the test to see, and answered as a 500
            fake.errors.append(exc)
            self._send(500, _error(f"fake batch server error: {exc}", "server_error"))

    def _upload(self, raw: bytes) -> None:
        head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
            self._send(400, _error("A file and purpose=batch are required.", "invalid_request_error"))
            return
        filename, data = fields["file"]
        self._send(200, self.server_fake.upload(filename or "upload.jsonl", "batch", data))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")
