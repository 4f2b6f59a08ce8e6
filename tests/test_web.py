"""drafter.web: the one HTTP GET (size limit, cancel, bad URLs) and the request gate."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import pytest

from drafter import web
from localhttp import start_server, stop_server


class _Big(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        body = b"x" * (3 << 20)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def big_url():
    server, thread = start_server(_Big, "big")
    yield f"http://127.0.0.1:{server.server_address[1]}/f"
    stop_server(server, thread)


def test_a_body_over_the_limit_is_refused_and_one_within_is_read_whole(big_url: str) -> None:
    with pytest.raises(web.TooLarge, match="larger than 1 MB"):
        web.get(big_url, "*/*", timeout=10, limit=1 << 20, deadline=30)
    body, ctype = web.get(big_url, "*/*", timeout=10, limit=4 << 20, deadline=30)
    assert len(body) == 3 << 20 and ctype == "application/octet-stream"


def test_a_set_cancel_event_stops_the_transfer(big_url: str) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(web.Cancelled):
        web.get(big_url, "*/*", timeout=10, limit=4 << 20, deadline=30, cancel=cancel)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x", "http://[::1/x", "http://127.0.0.1:port/x"])
def test_urls_urllib_cannot_request_are_bad_urls(url: str) -> None:
    with pytest.raises(web.BadURL):
        web.get(url, "*/*", timeout=1, limit=1, deadline=1)


def test_the_gate_spaces_requests_and_a_cancel_lets_none_through() -> None:
    gate = web.Gate(lambda: 3600.0)
    assert gate.wait()  # the first request goes at once
    cancel = threading.Event()
    cancel.set()
    assert gate.wait(cancel) is False  # the second would wait an hour: cancelled, it does not go
    assert web.Gate(lambda: 0.0).wait() and web.Gate(lambda: 0.0).wait()
