"""A counting proxy in front of a real OpenAI-compatible server (the opt-in llama.cpp test): forwards every request
as it is, streams included, and records per request its section, when it started, got its first token and ended,
how many tokens came back, and whether the client left before the end.

A client that leaves is passed on: the proxy closes its own connection to the server at once (while the request
waits for an answer, and at the next token of a stream), so the server sees what it would have seen without the
proxy (llama-cpp-python drops a queued request whose client left and stops a stream whose client left).
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from localhttp import start_server, stop_server

_SECTION = re.compile(r"Section id: ([a-z-]+)")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "accept-encoding",
               "proxy-connection", "te", "trailer", "upgrade"}


@dataclass
class Exchange:
    method: str
    path: str
    section: str | None = None
    stream: bool = False
    started: float = 0.0
    first_token: float | None = None
    ended: float | None = None
    status: int | None = None
    tokens: int = 0  # completion tokens that came back (a stream: its content chunks, or its usage if it sent one)
    client_left: bool = False

    @property
    def generated(self) -> bool:
        """The server produced tokens for this request (a request dropped from its queue produced none)."""
        return self.tokens > 0


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def chat(self) -> list[Exchange]:
        with self.lock:
            return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    def __enter__(self) -> CountingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self, "GET")

            def do_POST(self) -> None:
                proxy._forward(self, "POST")

        self._server, self._thread = start_server(Handler, "counting-proxy")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._thread is not None
        stop_server(self._server, self._thread)

    def _forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        exchange = Exchange(method, handler.path, started=time.monotonic())
        if body:
            request = json.loads(body)
            exchange.stream = bool(request.get("stream"))
            found = _SECTION.search(json.dumps(request.get("messages", "")))
            exchange.section = found.group(1) if found else None
        with self.lock:
            self.exchanges.append(exchange)
        upstream = http.client.HTTPConnection(self.host, self.port)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(method, handler.path, body=body or None, headers=headers)
            if not self._answer_or_client_gone(handler.connection, upstream):
                exchange.client_left = True
                return
            response = upstream.getresponse()
            exchange.status = response.status
            handler.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    handler.send_header(key, value)
            if "text/event-stream" in (response.getheader("Content-Type") or ""):
                self._relay_stream(handler, response, exchange)
            else:
                data = response.read()
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                exchange.tokens = _usage_tokens(data)
                exchange.first_token = time.monotonic()
                handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            exchange.client_left = True
        finally:
            exchange.ended = time.monotonic()
            upstream.close()  # a client that left: the server sees its connection close too

    @staticmethod
    def _answer_or_client_gone(client: socket.socket, upstream: http.client.HTTPConnection) -> bool:
        """Wait for the server's answer to begin; False if the client hung up first."""
        watching = [client]
        while True:
            ready, _, _ = select.select([upstream.sock, *watching], [], [], 1.0)
            if upstream.sock in ready:
                return True
            if client in ready:
                if client.recv(1, socket.MSG_PEEK) == b"":
                    return False
                watching = []  # the client sent more (not a hang-up): just wait for the server

    @staticmethod
    def _relay_stream(handler: BaseHTTPRequestHandler, response: http.client.HTTPResponse, exchange: Exchange) -> None:
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        usage = None
        chunks = 0
        while line := response.readline():
            if line.startswith(b"data: {"):
                event = json.loads(line[6:])
                delta = (event.get("choices") or [{}])[0].get("delta") or {}
                if delta.get("content") or delta.get("reasoning_content"):
                    chunks += 1
                    exchange.first_token = exchange.first_token or time.monotonic()
                if event.get("usage"):
                    usage = event["usage"].get("completion_tokens")
            exchange.tokens = usage if usage is not None else chunks
            handler.wfile.write(line)
            handler.wfile.flush()


def _usage_tokens(data: bytes) -> int:
    try:
        return int(json.loads(data).get("usage", {}).get("completion_tokens") or 0)
    except (ValueError, AttributeError):
        return 0
