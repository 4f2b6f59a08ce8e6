"""LLM faults against the fake server: retried, shrunk and retried, or one line, in bounded time (issue 6.2)."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drafter.assemble import parse_draft
from drafter.cli import app
from drafter.plan import LLM_SECTIONS
from fakeserver import FakeOpenAI, Fault, unused_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import faults as bench

RETRIES = 2
MATRIX = {case.name: case for case in bench.fault_matrix(RETRIES)}
N = len(LLM_SECTIONS)


def test_bench_knows_the_number_of_sections() -> None:
    assert bench.N_SECTIONS == N


@pytest.fixture(autouse=True)
def _fast_retries(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = bench.write_config(tmp_path_factory.mktemp("config"), max_backoff=0.05)
    monkeypatch.setenv("DRAFTER_CONFIG_DIR", str(config))
    monkeypatch.setenv("DRAFTER_RETRIES", str(RETRIES))
    return config


class Run:
    def __init__(self, code: int, stderr: str, seconds: float) -> None:
        self.code, self.stderr, self.seconds = code, stderr, seconds


def cli(*args: str | Path) -> Run:
    started = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stderr, time.perf_counter() - started)


def one_error_line(run: Run) -> str:
    assert "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, run.stderr
    return lines[0]


def draft_ok(path: Path) -> None:
    blocks = parse_draft(path.read_text(encoding="utf-8")).blocks
    for section in LLM_SECTIONS:
        if section in ("tags", "difficulty"):  # rewritten into one fixed format whatever the model says
            assert blocks[section].content.startswith(("**Tags**: #", "**Difficulty**: ⭐")), section
            continue
        assert f"Fake draft for {section}" in blocks[section].content, section


def _requests_for(server: FakeOpenAI, section: str) -> list:
    return [r for r in server.requests if f"section id: {section}" in r.messages[-1]["content"].lower()]


@pytest.mark.parametrize("name", [n for n, c in MATRIX.items() if c.ok])
def test_transient_faults_are_retried_and_the_draft_is_complete(name: str, fake_server: FakeOpenAI,
                                                                 sample_pdf: Path, tmp_path: Path) -> None:
    case = MATRIX[name]
    fake_server.enqueue(*case.faults)
    draft = tmp_path / "draft.md"
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", draft, *case.args)
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert fake_server.pending_faults() == 0
    # Each fault cost exactly one extra request: nothing retried more than needed, nothing given up.
    assert len(fake_server.requests) == N + len(case.faults)
    draft_ok(draft)


@pytest.mark.parametrize("name", [n for n, c in MATRIX.items() if not c.ok])
def test_fatal_faults_are_one_line_in_bounded_time(name: str, fake_server: FakeOpenAI, sample_pdf: Path,
                                                   tmp_path: Path) -> None:
    case = MATRIX[name]
    fake_server.enqueue(*case.faults)
    url = f"http://127.0.0.1:{unused_port()}/v1" if case.refused else fake_server.url
    draft = tmp_path / "draft.md"
    run = cli("new", sample_pdf, "--base-url", url, "--model", "fake-model", "-o", draft, *case.args)
    assert run.code == 1, run.stderr
    line = one_error_line(run)
    assert re.search(case.mention, line, re.I), line
    assert not draft.exists()
    # Bounded: no section is tried more often than the retry budget allows (a context error: once more, shrunk).
    assert len(fake_server.requests) <= N * (RETRIES + 1) * 2
    if case.max_requests is not None:
        assert len(fake_server.requests) <= case.max_requests


@pytest.mark.parametrize(("fault", "attempts"), [
    (Fault.invalid_api_key(), 1), (Fault.model_not_found(), 1), (Fault.insufficient_quota(), 1),
    (Fault.server_error(503), RETRIES + 1), (Fault.empty(), RETRIES + 1), (Fault.drop(), RETRIES + 1),
    (Fault.context_length_exceeded(), 2),  # the first, then once shrunk
])
def test_how_often_each_fault_is_tried(fault: Fault, attempts: int, fake_server: FakeOpenAI, sample_pdf: Path,
                                       tmp_path: Path) -> None:
    fake_server.enqueue(*[fault] * (N * (RETRIES + 2)))
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md")
    assert run.code == 1
    one_error_line(run)
    assert len(fake_server.requests) == N * attempts


def test_quota_message_says_what_to_do(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    fake_server.enqueue(*[Fault.insufficient_quota()] * N)
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md")
    line = one_error_line(run)
    assert "quota" in line and "credit" in line


def test_retry_after_is_honoured(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path,
                                 _fast_retries: Path) -> None:
    bench.write_config(_fast_retries, max_backoff=5)
    fake_server.enqueue(Fault.rate_limit(retry_after=0.6))
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md",
              "--jobs", "1")
    assert run.code == 0, run.stderr
    first = fake_server.requests[0]
    # While the section waits to retry, its slot serves the next section: the retry is the next request with the
    # same messages.
    second = next(r for r in fake_server.requests[1:] if r.messages == first.messages)
    assert first.status == 429
    assert second.started - first.finished >= 0.55


def test_a_huge_retry_after_is_capped(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    fake_server.enqueue(Fault.rate_limit(retry_after=3600), Fault.rate_limit(retry_after=3600))
    run = cli("--debug", "new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o",
              tmp_path / "d.md")
    assert run.code == 0, run.stderr
    waits = [float(w) for w in re.findall(r"retrying in ([0-9.]+)s", caplog.text)]
    assert len(waits) == 2 and max(waits) <= 0.1  # max_backoff (0.05 s, shown as 0.1), not the 3600 s asked


@pytest.mark.parametrize("fault", [Fault.context_length_exceeded(), Fault.context_exceeded_llamacpp(),
                                   Fault.context_exceeded_vllm(), Fault.context_exceeded_vllm(flat=True)],
                         ids=["openai", "llamacpp", "vllm", "vllm-flat"])
def test_context_errors_shrink_the_paper_and_retry(fault: Fault, fake_server: FakeOpenAI, sample_pdf: Path,
                                                   tmp_path: Path) -> None:
    fake_server.enqueue(fault)
    draft = tmp_path / "d.md"
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", draft, "--jobs", "1")
    assert run.code == 0, run.stderr
    refused = fake_server.requests[0]
    assert refused.status == 400
    section = LLM_SECTIONS[0]
    tries = _requests_for(fake_server, section)
    assert len(tries) == 2
    assert len(tries[1].messages[1]["content"]) < len(tries[0].messages[1]["content"]) * 0.75
    assert tries[1].messages[2] == tries[0].messages[2]  # the instruction itself is untouched
    draft_ok(draft)
    assert "context shortened" in run.stderr


@pytest.mark.parametrize("shape", ["llamacpp-legacy", "vllm", "tgi", "lmstudio"])
def test_a_context_error_inside_the_stream_shrinks_the_paper_like_one_before_it(
        shape: str, fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    """llama.cpp, vLLM and TGI can only say "too long" inside the 200 stream they already began: drafter reads it
    as the context error it is (shrink once, send again), not as a broken connection retried to the end."""
    fake_server.enqueue(Fault.stream_context_error(shape))
    draft = tmp_path / "d.md"
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", draft, "--jobs", "1")
    assert run.code == 0, run.stderr
    tries = _requests_for(fake_server, LLM_SECTIONS[0])
    assert len(tries) == 2
    assert len(tries[1].messages[1]["content"]) < len(tries[0].messages[1]["content"]) * 0.75
    assert len(fake_server.requests) == N + 1
    draft_ok(draft)
    assert "context shortened" in run.stderr


@pytest.mark.parametrize("shape", ["llamacpp", "event"])
def test_a_server_failure_inside_the_stream_is_retried_once(shape: str, fake_server: FakeOpenAI, sample_pdf: Path,
                                                             tmp_path: Path) -> None:
    # llama.cpp's words when a batch fails to decode mid-answer (server_error, 500); TGI labels every error 422,
    # so its shape carries the 500 of a generation that failed.
    fake_server.enqueue(Fault.stream_error(shape, 500, "Compute error.", "server_error", after=3))
    draft = tmp_path / "d.md"
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", draft, "--jobs", "1")
    assert run.code == 0, run.stderr
    assert len(fake_server.requests) == N + 1
    draft_ok(draft)  # the three chunks before the error are not part of any section


@pytest.mark.parametrize("shape", ["llamacpp-legacy", "vllm-flat", "tgi"])
def test_a_refusal_inside_the_stream_is_one_line_with_the_servers_words(
        shape: str, fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    status = 422 if shape == "tgi" else 400
    fake_server.enqueue(*[Fault.stream_error(shape, status, "Grammar is not supported by this model",
                                             "invalid_request_error", after=0)] * (N * (RETRIES + 1)))
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md",
              "--jobs", "1")
    assert run.code == 1
    line = one_error_line(run)
    assert "Grammar is not supported by this model" in line and f"({status})" in line, line
    assert "malformed" not in line and "cannot connect" not in line
    assert len(fake_server.requests) == N  # refused: each section tried once, none retried


def test_an_error_object_sent_with_status_200_is_that_error(fake_server: FakeOpenAI, sample_pdf: Path,
                                                            tmp_path: Path) -> None:
    """A server that answers 200 with a JSON error object instead of a completion or a stream."""
    fake_server.enqueue(Fault(kind="http", status_code=200, raw_body=json.dumps(
        {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})))
    draft = tmp_path / "d.md"
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", draft)
    assert run.code == 0, run.stderr
    assert len(fake_server.requests) == N + 1  # a 503: retried once
    draft_ok(draft)


def test_a_server_loading_its_model_is_waited_for_beyond_the_retries(fake_server: FakeOpenAI, sample_pdf: Path,
                                                                     tmp_path: Path) -> None:
    """llama.cpp answers 503 "Loading model" until its model is in memory: that is a server starting, not failing;
    drafter asks again (quietly) for as long as --timeout allows, whatever its retry budget."""
    polls = 4 * (RETRIES + 1)
    fake_server.enqueue(*[Fault.loading_model()] * polls)
    draft = tmp_path / "d.md"
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", draft, "--jobs", "1")
    assert run.code == 0, run.stderr
    assert [r.status for r in fake_server.requests[:polls + 1]] == [503] * polls + [200]
    assert len(fake_server.requests) == N + polls
    assert run.stderr.count("Loading model") <= 1, run.stderr
    draft_ok(draft)


def test_a_model_that_never_loads_is_one_line_saying_so(fake_server: FakeOpenAI, sample_pdf: Path,
                                                        tmp_path: Path) -> None:
    fake_server.enqueue(*[Fault.loading_model()] * 5000)
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md",
              "--timeout", "1")
    assert run.code == 1
    line = one_error_line(run)
    assert "still loading its model" in line and "--timeout" in line, line
    assert fake_server.pending_faults() > 0


def test_a_server_that_reads_only_part_of_the_prompt_is_told_once(fake_server_factory, sample_pdf: Path,
                                                                  tmp_path: Path) -> None:
    """Ollama cuts a prompt longer than its num_ctx without an error; its usage says how much it read. The draft is
    written (the sections are answers, of part of the paper), with one warning saying what happened and the fix."""
    server = fake_server_factory(context_window=500)
    run = cli("new", sample_pdf, "--base-url", server.url, "--model", "fake-model", "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    warnings = [ln for ln in run.stderr.splitlines() if "prompt tokens" in ln]
    assert len(warnings) == 1, run.stderr
    assert "read only 500 of about" in warnings[0] and "--context-tokens below 500" in warnings[0]
    assert "context window" in warnings[0]


def test_a_server_that_reads_the_whole_prompt_gets_no_such_warning(fake_server: FakeOpenAI, sample_pdf: Path,
                                                                   tmp_path: Path) -> None:
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    assert "prompt tokens" not in run.stderr
    assert all(r.usage["prompt_tokens"] >= 1000 for r in fake_server.requests[:1])  # long enough to have told


@pytest.mark.parametrize(("max_tokens", "requests"), [(1100, N), (700, 2 * N)])
def test_an_answer_budget_the_window_cannot_hold_says_lower_max_tokens(
        max_tokens: int, requests: int, fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    # vLLM's words when the output budget does not fit beside the prompt (serving_engine.py, _validate_input).
    message = (f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum context "
               f"length is 1024 tokens and your request has 900 input tokens ({max_tokens} > 1024 - 900).")
    fake_server.enqueue(*[Fault.http_error(400, message, "BadRequestError", 400)] * (2 * N))
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md",
              "--max-tokens", str(max_tokens), "--jobs", "1")
    assert run.code == 1
    line = one_error_line(run)
    assert "1024 tokens" in line and "lower --max-tokens" in line, line
    assert len(fake_server.requests) == requests  # all of the window: no shorter paper is tried


def test_a_partial_response_then_a_good_one(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    fake_server.enqueue(Fault.drop(partial=True), Fault.empty(whitespace=True))
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md",
              "--jobs", "1")
    assert run.code == 0, run.stderr
    assert [r.status for r in fake_server.requests[:3]] == [0, 200, 200]
    # Two retries (the dropped one and the empty one), whichever sections met them: a section waiting to retry
    # leaves its slot to the next one.
    assert len(fake_server.requests) == len(LLM_SECTIONS) + 2
    draft_ok(tmp_path / "d.md")


def test_an_empty_answer_is_never_cached(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DRAFTER_CACHE_DIR", str(cache))
    fake_server.enqueue(*[Fault.empty()] * (RETRIES + 1) * len(LLM_SECTIONS))  # every try of every section
    run = cli("new", sample_pdf, "--base-url", fake_server.url, "--model", "fake-model", "-o", tmp_path / "d.md",
              "--jobs", "1")
    assert run.code == 1
    assert "empty answer" in one_error_line(run)
    for entry in cache.rglob("responses/*/*.json"):
        assert '"text": ""' not in entry.read_text(encoding="utf-8")


# -- local servers are honoured --------------------------------------------------------------------------


@pytest.fixture
def hosts_contacted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name drafter resolves; anything but 127.0.0.1 fails loudly instead of leaving the machine."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        seen.append(str(host))
        if str(host) not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(f"test: refusing to resolve {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return seen


def test_base_url_flag_beats_openai_base_url(fake_server_factory, sample_pdf: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, hosts_contacted: list[str]) -> None:
    decoy, local = fake_server_factory(), fake_server_factory()
    monkeypatch.setenv("OPENAI_BASE_URL", decoy.url)
    monkeypatch.setenv("OPENAI_API_KEY", bench.FAKE_KEY)
    run = cli("new", sample_pdf, "--base-url", local.url, "--model", "fake-model", "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    assert len(local.requests) == N and decoy.requests == []
    assert set(hosts_contacted) <= {"127.0.0.1"}


def test_drafter_base_url_beats_openai_settings(fake_server_factory, sample_pdf: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, hosts_contacted: list[str]) -> None:
    decoy, local = fake_server_factory(), fake_server_factory()
    monkeypatch.setenv("OPENAI_BASE_URL", decoy.url)
    monkeypatch.setenv("OPENAI_API_KEY", bench.FAKE_KEY)
    monkeypatch.setenv("DRAFTER_BASE_URL", local.url)
    monkeypatch.setenv("DRAFTER_MODEL", "llama3.1")
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    assert len(local.requests) == N and decoy.requests == []
    assert {r.body["model"] for r in local.requests} == {"llama3.1"}
    assert set(hosts_contacted) <= {"127.0.0.1"}


def test_a_keyless_local_server_is_used_not_replaced_by_offline_or_openai(
        fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        hosts_contacted: list[str]) -> None:
    monkeypatch.setenv("DRAFTER_BASE_URL", fake_server.url)
    run = cli("new", sample_pdf, "--model", "fake-model", "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    assert len(fake_server.requests) == N
    draft_ok(tmp_path / "d.md")
    assert set(hosts_contacted) <= {"127.0.0.1"}


def test_config_file_base_url_is_overridden_by_the_environment(fake_server_factory, sample_pdf: Path,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               _fast_retries: Path) -> None:
    decoy, local = fake_server_factory(), fake_server_factory()
    (_fast_retries / "config.toml").write_text(f'max_backoff = 0.05\nbase_url = "{decoy.url}"\n'
                                               'model = "fake-model"\n', encoding="utf-8")
    monkeypatch.setenv("DRAFTER_BASE_URL", local.url)
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    assert len(local.requests) == N and decoy.requests == []


def test_redo_talks_to_the_local_server_too(fake_server_factory, sample_pdf: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    decoy, local = fake_server_factory(), fake_server_factory()
    draft = tmp_path / "d.md"
    assert cli("new", sample_pdf, "--base-url", local.url, "--model", "fake-model", "-o", draft).code == 0
    monkeypatch.setenv("OPENAI_BASE_URL", decoy.url)
    local.enqueue(Fault.server_error(502))
    run = cli("redo", draft, "summary", "--base-url", local.url, "--model", "fake-model", "--hint", "shorter")
    assert run.code == 0, run.stderr
    assert decoy.requests == []
    assert len(local.requests) == N + 2


def test_a_refused_connection_fails_fast_but_timeouts_keep_the_full_budget(sample_pdf: Path, tmp_path: Path) -> None:
    """Nothing listening (local server not started): three tries, not a minute of backoff."""
    url = f"http://127.0.0.1:{unused_port()}/v1"
    run = cli("new", sample_pdf, "--base-url", url, "--model", "fake-model", "-o", tmp_path / "d.md")
    assert run.code == 1
    assert "(3 tries)" in one_error_line(run)  # not the full retry budget's minute of backoff


def test_is_refused_tells_refusals_from_timeouts() -> None:
    import openai

    from drafter.llm import is_refused

    refused = openai.APIConnectionError(request=None)  # type: ignore[arg-type]
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    timeout = openai.APITimeoutError(request=None)  # type: ignore[arg-type]
    timeout.__cause__ = ConnectionRefusedError(111, "Connection refused")
    dropped = openai.APIConnectionError(request=None)  # type: ignore[arg-type]
    dropped.__cause__ = ConnectionResetError(104, "Server disconnected without sending a response.")
    assert is_refused(refused)
    assert not is_refused(timeout)
    assert not is_refused(dropped)
