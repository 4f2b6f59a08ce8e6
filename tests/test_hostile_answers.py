"""Hostile model answers (adversarial.md): broken UTF-8, lone surrogates, control characters. The draft is written,
the answer cached, nothing crashes as an internal error."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cliutil import cli, model_flags
from conftest import SAMPLE_PDF
from drafter.assemble import parse_draft
from localhttp import start_server, stop_server


def _math_reply(text: str):
    return lambda body: text if "Section id: math" in body["messages"][-1]["content"] else "ok, a plain section"


def test_a_lone_surrogate_in_an_answer_is_replaced_and_the_answer_cached(tmp_path: Path, fake_server_factory) -> None:
    server = fake_server_factory(reply=_math_reply("Equation \ud800 here"))
    out = tmp_path / "d.md"
    run = cli("new", SAMPLE_PDF, "-o", out, *model_flags(server.url), "--no-enrich", "--no-figures")
    assert run.code == 0, run.stderr
    blocks = parse_draft(out.read_text(encoding="utf-8")).blocks
    assert "Equation \ufffd here" in blocks["math"].content
    sent = len(server.completions())
    again = cli("new", SAMPLE_PDF, "-o", tmp_path / "e.md", *model_flags(server.url), "--no-enrich", "--no-figures")
    assert again.code == 0, again.stderr
    assert len(server.completions()) == sent  # every answer came from the cache, the repaired one too


def test_control_characters_in_an_answer_never_reach_the_draft(tmp_path: Path, fake_server_factory) -> None:
    server = fake_server_factory(reply=_math_reply("NUL\x00 and \x1b]0;pwned\x07 title"))
    out = tmp_path / "d.md"
    run = cli("new", SAMPLE_PDF, "-o", out, *model_flags(server.url), "--no-enrich", "--no-figures")
    assert run.code == 0, run.stderr
    text = out.read_text(encoding="utf-8")
    assert "\x00" not in text and "\x1b" not in text and "\x07" not in text
    assert "NUL and ]0;pwned title" in text


class _RawBytes(BaseHTTPRequestHandler):
    """A chat endpoint whose answer carries raw bytes that are not UTF-8 inside the JSON string."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (b'{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
                b'"message":{"role":"assistant","content":"bad \xff\xfe\xc3\x28 \xe2\x82"},"finish_reason":"stop"}],'
                b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_answer_with_bytes_that_are_not_utf8_drafts_with_replacement_characters(tmp_path: Path) -> None:
    server, thread = start_server(_RawBytes, "raw-bytes")
    try:
        out = tmp_path / "d.md"
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        run = cli("new", SAMPLE_PDF, "-o", out, "--base-url", url, "--model", "m", "--no-enrich", "--no-figures")
    finally:
        stop_server(server, thread)
    assert run.code == 0, run.stderr
    assert "bad \ufffd\ufffd\ufffd( \ufffd" in parse_draft(out.read_text(encoding="utf-8")).blocks["math"].content
