"""Local servers at their own speed (issue 17), against the one-slot stand-in (tests/fakellama.py) over real HTTP:
streamed answers, --timeout as time without progress, the server's slots learned and remembered, nothing paid
twice, one-slot requests in prompt-prefix order. No wall-clock assertions: counters and orders only."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from cliutil import cli
from drafter.assemble import parse_draft
from drafter.config import load_settings
from drafter.llm import Events, OpenAIBackend, Request
from drafter.llm.gate import Gate, shared_prefix
from drafter.plan import LLM_SECTIONS
from fakellama import FakeLlama
from fakeserver import FakeOpenAI, Fault
from localhttp import start_server, stop_server

N = len(LLM_SECTIONS)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DRAFTER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def llama() -> Iterator[list[FakeLlama]]:
    made: list[FakeLlama] = []
    yield made
    for server in made:
        server.stop()
    assert not [e for s in made for e in s.errors]


def _start(made: list[FakeLlama], *args: object, **kwargs: object) -> FakeLlama:
    server = FakeLlama(*args, **kwargs).start()  # type: ignore[arg-type]
    made.append(server)
    return server


def _draft(url: str, pdf: Path, out: Path, *extra: str) -> object:
    return cli("new", pdf, "-o", out, "--base-url", url, "--model", "local-model", "--no-figures", *extra)


def _complete(out: Path) -> None:
    blocks = parse_draft(out.read_text(encoding="utf-8")).blocks
    assert all(blocks[s].source == "llm" and blocks[s].content.strip() for s in LLM_SECTIONS)


def _section(body: dict) -> str:
    return re.findall(r"section id: ([a-z-]+)", body["messages"][-1]["content"], re.I)[-1].lower()


def _reread(prompts: list[str]) -> int:
    """Characters a one-slot server reads anew when it gets these prompts in this order (prefix reuse)."""
    return sum(len(p) - shared_prefix(p, before) for p, before in zip(prompts, ["", *prompts], strict=False))


def _slots(cache: Path) -> dict[str, int]:
    return json.loads((cache / "endpoints.json").read_text(encoding="utf-8"))["slots"]


def test_a_one_slot_server_with_props_gets_one_request_at_a_time(llama, cache, sample_pdf, tmp_path) -> None:
    server = _start(llama, 1, props=True)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    counts = server.counters()
    assert counts["started"] == N and counts["wasted"] == 0 and counts["dropped"] == 0
    assert counts["max_queued"] == 0  # held by drafter, never waiting in the server's queue
    assert list(_slots(cache).values()) == [1]
    assert all(b["stream"] is True and b["stream_options"] == {"include_usage": True} for b in server.bodies)
    # The order the server saw reuses more of the previous prompt than the template's order would have.
    prompts = {_section(b): "\n".join(m["content"] for m in b["messages"]) for b in server.bodies}
    assert set(prompts) == set(LLM_SECTIONS)
    assert _reread([prompts[s] for s in server.order]) < _reread([prompts[s] for s in LLM_SECTIONS])


def test_without_props_the_slots_are_learned_from_how_answers_arrive(llama, cache, sample_pdf, tmp_path) -> None:
    first = _start(llama, 1, props=False)
    run = _draft(first.url, sample_pdf, tmp_path / "a.md")
    assert run.code == 0, run.stderr
    counts = first.counters()
    # The first run queues at the server (nothing is known yet), but nothing times out, is dropped or is paid twice.
    assert counts["started"] == N and counts["wasted"] == 0 and counts["dropped"] == 0
    assert counts["max_queued"] > 1
    assert list(_slots(cache).values()) == [1]
    # The next run remembers: one request at a time, none queued at the server.
    again = FakeLlama(1, props=False)
    again.start()
    llama.append(again)
    remembered = json.loads((cache / "endpoints.json").read_text(encoding="utf-8"))
    remembered["slots"] = {again.url: 1}
    (cache / "endpoints.json").write_text(json.dumps(remembered), encoding="utf-8")
    run = _draft(again.url, sample_pdf, tmp_path / "b.md", "--no-cache")
    assert run.code == 0, run.stderr
    assert again.counters()["max_queued"] == 0 and again.counters()["started"] == N


def test_a_server_that_cuts_streams_short_for_newcomers_gets_one_at_a_time(llama, cache, sample_pdf,
                                                                              tmp_path) -> None:
    # llama-cpp-python's default: no /props, and a running stream ends ([DONE], no finish reason) as soon as
    # another request waits. The first stream cut short teaches one slot; the requests queued at the server but
    # the one it starts next are taken back, and wait in drafter for the slot.
    server = _start(llama, 1, props=False, interrupt=True, usage=False, prompt_rate=2000.0, token_rate=400.0)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    # No usage in its streams: the prompt tokens in the summary are drafter's estimate, marked so, never "0 prompt".
    prompt = re.search(r"(~?)([\d,]+) prompt \+ ", " ".join(run.stderr.split()))
    assert prompt and prompt.group(1) == "~" and int(prompt.group(2).replace(",", "")) > 1000, run.stderr
    counts = server.counters()
    # One cut teaches one slot. On a loaded machine a request drafter took back can reach the server's slot before
    # the server sees it closed (its queue's order is not quite drafter's send order), and is cut once more; what
    # must hold is that cuts stay few (each section would be cut without the lesson), cost no delivered token, and
    # each cut answer is read again exactly once.
    assert 1 <= counts["interrupted"] <= 3 and counts["wasted"] == 0, counts
    assert counts["started"] == N + counts["interrupted"], counts
    assert list(_slots(cache).values()) == [1]
    # The next run starts with one at a time: nothing cut short, nothing queued at the server.
    again = _start(llama, 1, props=False, interrupt=True)
    remembered = json.loads((cache / "endpoints.json").read_text(encoding="utf-8"))
    remembered["slots"] = {again.url: 1}
    (cache / "endpoints.json").write_text(json.dumps(remembered), encoding="utf-8")
    run = _draft(again.url, sample_pdf, tmp_path / "e.md", "--no-cache")
    assert run.code == 0, run.stderr
    assert again.counters()["interrupted"] == 0 and again.counters()["started"] == N
    assert again.counters()["max_queued"] == 0


def test_a_parallel_server_gets_every_section_at_once(fake_server_factory, cache, sample_pdf, tmp_path) -> None:
    server: FakeOpenAI = fake_server_factory(latency=1.5)  # longer than the first-contact wait
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    first_answer = min(r.finished for r in server.requests)
    assert len(server.requests) == N and all(r.started < first_answer for r in server.requests)
    assert not _slots(cache)  # nothing limits it next time either


def test_a_server_loading_its_model_is_asked_its_slots_again_once_it_answers(llama, cache, sample_pdf,
                                                                              tmp_path) -> None:
    """llama.cpp answers /props 503 while it loads, like everything else: its slots are asked again once it has
    loaded, not learned the slow way (or never) because the first question came too early."""
    server = _start(llama, 1, props=True, loading=3)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md", "--jobs", "1")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    counts = server.counters()
    assert counts["started"] == N and counts["wasted"] == 0
    assert server.props_asked >= 2
    assert list(_slots(cache).values()) == [1]


def test_a_stream_that_just_stops_is_a_failure_not_a_server_making_room(llama, cache, sample_pdf, tmp_path) -> None:
    """A stream that ends with no finish reason and no [DONE] (Ollama's runner failing mid-answer) is a broken
    answer, sent again; only one the server ends itself ([DONE], llama-cpp-python serving a newcomer) says that
    the server runs one request at a time. Learning one slot from a failure would hold every later run to one."""
    server = _start(llama, 16, props=False, token_rate=20, mode="cut", bad=1, after=3)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    assert server.counters()["started"] == N + 1
    assert list(_slots(cache).values()) == []


@pytest.mark.parametrize("props", [True, False])
def test_a_server_with_many_slots_gets_every_section_at_once(llama, cache, sample_pdf, tmp_path, props) -> None:
    # Answers of about two seconds, streamed token by token: every section is generating at the same time.
    server = _start(llama, 16, props=props, token_rate=20)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    counts = server.counters()
    assert counts["max_queued"] == 0 and counts["max_running"] == N and counts["started"] == N
    assert list(_slots(cache).values()) == ([16] if props else [])  # nothing learned that would hold it back


def test_timeout_is_time_without_progress_not_time_for_the_answer(llama, cache, sample_pdf, tmp_path) -> None:
    # Each answer streams for longer than --timeout; tokens keep arriving, so none is given up on, and the requests
    # queued behind it (no /props: sent at once) are waiting, not failing.
    server = _start(llama, 1, props=False, token_rate=40, answer_tokens=60)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md", "--timeout", "1")
    assert run.code == 0, run.stderr
    counts = server.counters()
    assert counts["started"] == N and counts["wasted"] == 0 and counts["dropped"] == 0


def test_a_stream_that_stalls_is_closed_and_sent_again(llama, cache, sample_pdf, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DRAFTER_RETRIES", "2")
    server = _start(llama, 1, props=True, mode="stall", bad=1, after=3)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md", "--timeout", "1")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    counts = server.counters()
    assert counts["started"] == N + 1  # the stalled one once more, nothing else twice
    assert counts["wasted"] == 3 and counts["dropped"] == 0


def test_a_dropped_stream_is_sent_again(llama, cache, sample_pdf, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DRAFTER_RETRIES", "2")
    server = _start(llama, 1, props=True, mode="drop", bad=2, after=5)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    assert server.counters()["started"] == N + 2


def test_a_server_that_never_answers_is_given_up_on_after_two_silent_tries(llama, cache, sample_pdf,
                                                                           tmp_path) -> None:
    # It accepts every connection and answers nothing, not even GET /props: with the default six retries each
    # section would wait out seven timeouts; two silent waits say it all.
    server = _start(llama, 1, mode="silent")
    run = _draft(server.url, sample_pdf, tmp_path / "d.md", "--timeout", "1")
    assert run.code == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "never answered" in errors[0] and "(2 tries)" in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "d.md").exists()
    tries = Counter(server.unanswered)
    assert tries and max(tries.values()) <= 2, tries


def test_a_server_that_answered_once_keeps_its_retries_when_it_goes_quiet(fake_server_factory, cache, sample_pdf,
                                                                         tmp_path, monkeypatch) -> None:
    # GET /props said 404: something is there. Chat requests that then get nothing use all their tries.
    monkeypatch.setenv("DRAFTER_RETRIES", "2")
    server: FakeOpenAI = fake_server_factory()
    server.enqueue(*[Fault.hang(30) for _ in range(3 * N)])
    # --timeout 2, not 1: GET /props gets min(timeout, 10) s, and its 404 must arrive on a loaded machine too
    run = _draft(server.url, sample_pdf, tmp_path / "d.md", "--timeout", "2")
    assert run.code == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "sent nothing" in errors[0] and "(3 tries)" in errors[0], run.stderr
    assert max(Counter(_section(r.body) for r in server.requests).values()) == 3


def test_a_server_that_rejects_streaming_gets_whole_answers(fake_server_factory, cache, sample_pdf,
                                                            tmp_path) -> None:
    server: FakeOpenAI = fake_server_factory(streaming=False)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    _complete(tmp_path / "d.md")
    assert len(server.completions()) == N and not any(r.body.get("stream") for r in server.completions())
    profiles = json.loads((cache / "endpoints.json").read_text(encoding="utf-8"))["profiles"]
    assert [p["stream"] for p in profiles.values()] == [False]


def test_a_server_that_rejects_stream_options_streams_without_them(fake_server_factory, cache, sample_pdf,
                                                                   tmp_path) -> None:
    server: FakeOpenAI = fake_server_factory(stream_options=False)
    run = _draft(server.url, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    answered = server.completions()
    assert len(answered) == N and all(r.body["stream"] and "stream_options" not in r.body for r in answered)
    assert "completion tokens" in run.stderr


def test_progress_events_report_tokens_as_they_arrive(llama, tmp_path) -> None:
    server = _start(llama, 1, props=True, answer_tokens=30)
    seen: list[tuple[str, int]] = []
    events = Events(on_stream=lambda section, label, tokens, seconds: seen.append((section, tokens)))
    settings = load_settings({"base_url": server.url, "model": "m", "cache_dir": tmp_path})

    async def go() -> None:
        backend = OpenAIBackend(settings, events)
        try:
            await backend.complete(Request("summary", [{"role": "user", "content": "Section id: summary"}], 50, "m"))
        finally:
            await backend.aclose()

    asyncio.run(go())
    counts = [t for s, t in seen if s == "summary"]
    assert counts[:3] == [1, 2, 3] and max(counts) == 30 and counts[-1] == -1  # then the end of the request


def test_waiting_requests_go_in_prompt_prefix_order() -> None:
    async def go() -> list[str]:
        gate = Gate(jobs=12, timeout=5, slots=1)
        order: list[str] = []

        async def one(prompt: str) -> None:
            async with gate.slot(prompt):
                order.append(prompt)
                await asyncio.sleep(0)

        await asyncio.gather(*(one(p) for p in ["A intro", "B other", "C third", "A intro more", "B other too"]))
        return order

    # After "A intro" the one sharing its prefix, then the first of the rest, then its own kin.
    assert asyncio.run(go()) == ["A intro", "A intro more", "B other", "B other too", "C third"]
    assert shared_prefix("abcdef", "abcxyz") == 3 and shared_prefix("", "a") == 0 and shared_prefix("ab", "ab") == 2


def test_the_live_display_shows_each_section_in_flight_with_tokens_per_second() -> None:
    import io

    from rich.console import Console

    from drafter.llm import Reply
    from drafter.progress import SectionProgress

    stream = io.StringIO()
    progress = SectionProgress(Console(file=stream, force_terminal=True, width=100, highlight=False,
                                       color_system=None), total=11)
    assert progress.live_on  # a terminal gets the live lines
    progress.streamed("summary", "", 40, 2.0)
    progress.streamed("math", "", 5, 0.1)
    assert progress.lines() == ["  … math                  5 tokens       … tok/s",
                                "  … summary              40 tokens   20.0 tok/s"]
    progress.streamed("math", "", -1, 0.0)  # its request ended
    progress.on_done("", "math", Reply("text", "m", 100, 50))
    assert [line.split()[1] for line in progress.lines()] == ["summary"]
    assert "math" in stream.getvalue() and "150 tokens" in stream.getvalue() and "[1/11]" in stream.getvalue()
    assert not SectionProgress(Console(file=io.StringIO()), total=11).live_on  # a pipe gets plain lines


class _RawStream(BaseHTTPRequestHandler):
    """A streaming chat endpoint whose chunks carry raw bytes that are not UTF-8 (a token split mid-character)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        head = b'{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        for delta, finish in ((b'"content":"bad \xff\xe2\x82"', b"null"), (b'"content":" end"', b'"stop"')):
            self.wfile.write(b"data: " + head + b'"delta":{' + delta + b'},"finish_reason":' + finish + b"}]}\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_streamed_answer_with_bytes_that_are_not_utf8_drafts(cache, sample_pdf, tmp_path) -> None:
    server, thread = start_server(_RawStream, "raw-stream")
    try:
        run = _draft(f"http://127.0.0.1:{server.server_address[1]}/v1", sample_pdf, tmp_path / "d.md")
    finally:
        stop_server(server, thread)
    assert run.code == 0, run.stderr
    assert "bad \ufffd\ufffd end" in parse_draft((tmp_path / "d.md").read_text(encoding="utf-8")).blocks["math"].content
