"""Batch: reading lists, failure isolation, resume with only the missing requests, one global limit, CLI."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cliutil import interruptible
from drafter.batch import Entry, LogReporter, parse_bib, read_list, run_batch
from drafter.cli import app
from drafter.config import load_settings
from drafter.errors import InputError
from drafter.plan import LLM_SECTIONS
from fakearxiv import FakeArxiv, make_pdf
from fakeserver import FakeOpenAI, Fault
from localhttp import start_server, stop_server

N_SECTIONS = len(LLM_SECTIONS)
TITLES = ["Gated Widgets for Fast Parsing", "Sparse Lanterns in Deep Forests", "A Theory of Small Boats"]


@pytest.fixture
def papers(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "papers"
    folder.mkdir()
    out = []
    for i, title in enumerate(TITLES):
        path = folder / f"p{i}.pdf"
        path.write_bytes(make_pdf(title, seed=title.lower()))
        out.append(path)
    return out


def _settings(tmp_path: Path, server, **flags):
    flags.setdefault("enrich", False)  # these tests are about drafting; test_enrich.py covers the lookups
    return load_settings({"base_url": server.url, "model": "fake-model", "cache_dir": tmp_path / "cache",
                          "retries": 0, **flags}, env={}, file=tmp_path / "none.toml")


def _run(entries, settings, out, **kwargs):
    return asyncio.run(run_batch(entries, settings, out, workers=kwargs.pop("workers", 0), **kwargs))


# -- reading lists ------------------------------------------------------------------------------------


def test_text_list_comments_blank_lines_and_relative_paths(tmp_path: Path):
    listing = tmp_path / "list.txt"
    listing.write_text("# my reading list\n\npapers/a.pdf\n1706.03762  # transformers\n"
                       "https://example.org/x.pdf#page=2\n", encoding="utf-8")
    entries = read_list(str(listing))
    assert [e.source for e in entries] == ["papers/a.pdf", "1706.03762", "https://example.org/x.pdf#page=2"]
    assert entries[0].where == "list.txt:3" and entries[0].base == tmp_path


def test_folder_and_stdin(papers: list[Path]):
    entries = read_list(str(papers[0].parent))
    assert [Path(e.source).name for e in entries] == ["p0.pdf", "p1.pdf", "p2.pdf"]
    assert [e.source for e in read_list("-", io.StringIO("a.pdf\n# x\nb.pdf\n"))] == ["a.pdf", "b.pdf"]
    with pytest.raises(InputError, match="no such file"):
        read_list(str(papers[0].parent / "nope.txt"))


def test_bib_fields(tmp_path: Path):
    (tmp_path / "files").mkdir()
    bib = r"""
@comment{jabref-meta: x}
@article{vaswani2017,
  title = {Attention Is {All} You Need},
  eprint = {1706.03762}, archivePrefix = {arXiv},
  file = {Full Text:files/attention.pdf:application/pdf},
}
@inproceedings{he2016, title = "Deep Residual Learning",
  file = {Snapshot:files/he.html:text/html;Full Text PDF:files/he.pdf:application/pdf}}
@misc{site, url = {https://example.org/paper.pdf}, year = 2020}
@misc{abs, url = {https://arxiv.org/abs/hep-th/9901001v1}}
@book{nothing, title = {No Links}}
"""
    entries = parse_bib(bib, tmp_path, "refs.bib")
    assert [e.source for e in entries] == ["1706.03762", str(tmp_path / "files/he.pdf"),
                                           "https://example.org/paper.pdf",
                                           "https://arxiv.org/abs/hep-th/9901001v1", ""]
    assert entries[-1].error and "refs.bib:nothing" in entries[-1].error
    assert entries[1].where == "refs.bib:he2016"


# -- the batch core ----------------------------------------------------------------------------------


def test_mixed_list_isolates_failures(tmp_path: Path, fake_server, papers, monkeypatch: pytest.MonkeyPatch):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n" + b"garbage " * 100)
    with FakeArxiv() as arxiv:
        monkeypatch.setenv("DRAFTER_ARXIV_API", arxiv.api_url)
        monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0.01")
        arxiv.add("1706.03762", "Attention Is All You Need", ["Ashish Vaswani"], pdf=make_pdf("Attention"))
        entries = [Entry(str(papers[0])), Entry(str(tmp_path / "missing.pdf")), Entry(str(corrupt)),
                   Entry("2101.99999"), Entry("1706.03762"), Entry("", "refs.bib:x", error="no eprint")]
        lines: list[str] = []
        result = _run(entries, _settings(tmp_path, fake_server), tmp_path / "out", reporter=LogReporter(lines.append))
    status = [r.status for r in result.results]
    assert status == ["done", "failed", "failed", "failed", "done", "failed"]
    assert "no such file" in (result.results[1].error or "")
    assert "damaged" in (result.results[2].error or "") or "PDF" in (result.results[2].error or "")
    assert "arXiv has no paper 2101.99999" in (result.results[3].error or "")
    assert result.exit_code == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["attention-is-all-you-need.md",
                                                                    "gated-widgets-for-fast-parsing.md"]
    assert result.results[0].sections == N_SECTIONS and result.results[0].tokens > 0
    assert result.requests == 2 * N_SECTIONS == len(fake_server.requests)
    assert any("failed" in line for line in lines)


def test_resume_requests_only_what_is_missing(tmp_path: Path, fake_server, papers):
    settings = _settings(tmp_path, fake_server)
    entries = [Entry(str(p)) for p in papers]
    out = tmp_path / "out"
    fake_server.enqueue(Fault.server_error(500))  # one section of one paper fails (no retries)
    first = _run(entries, settings, out)
    assert sorted(r.status for r in first.results) == ["done", "done", "failed"]
    assert first.exit_code == 1
    assert len(list(out.glob("*.md"))) == 2 and not list(out.glob(".*tmp"))
    assert len(fake_server.requests) == 3 * N_SECTIONS
    second = _run(entries, settings, out)
    assert len(fake_server.requests) == 3 * N_SECTIONS + 1  # only the failed section is asked again
    assert sorted(r.status for r in second.results) == ["done", "skipped", "skipped"]
    assert second.exit_code == 0 and len(list(out.glob("*.md"))) == 3
    third = _run(entries, settings, out)
    assert len(fake_server.requests) == 3 * N_SECTIONS + 1
    assert [r.status for r in third.results] == ["skipped"] * 3


def test_force_redrafts_into_the_same_file_from_cache(tmp_path: Path, fake_server, papers):
    settings = _settings(tmp_path, fake_server)
    out = tmp_path / "out"
    _run([Entry(str(papers[0]))], settings, out)
    again = _run([Entry(str(papers[0]))], settings, out, force=True)
    assert again.results[0].status == "done" and again.results[0].cache_hits == N_SECTIONS
    assert [p.name for p in out.glob("*.md")] == ["gated-widgets-for-fast-parsing.md"]
    assert list((out / ".drafter-history").glob("*.md"))


def test_same_title_gets_distinct_names_and_duplicates_are_skipped(tmp_path: Path, fake_server):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    a.write_bytes(make_pdf("Same Title Here", seed="first"))
    b.write_bytes(make_pdf("Same Title Here", seed="second"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "same-title-here.md").write_text("my own notes\n", encoding="utf-8")
    result = _run([Entry(str(a)), Entry(str(b)), Entry(str(a))], _settings(tmp_path, fake_server),
                  tmp_path / "out")
    assert sorted(r.status for r in result.results) == ["done", "done", "skipped"]
    names = sorted(p.name for p in (tmp_path / "out").glob("*.md"))
    assert names == ["same-title-here-2.md", "same-title-here-3.md", "same-title-here.md"]
    assert (tmp_path / "out" / "same-title-here.md").read_text(encoding="utf-8") == "my own notes\n"


def test_one_global_limit_across_papers(tmp_path: Path, fake_server_factory, papers):
    server = fake_server_factory(latency=0.3)
    settings = _settings(tmp_path, server, jobs=16)
    result = _run([Entry(str(p)) for p in papers], settings, tmp_path / "out", workers=2)  # worker processes
    assert result.exit_code == 0
    assert N_SECTIONS < server.max_in_flight <= 16  # sections of different papers overlap, within --jobs
    limited = fake_server_factory(latency=0.5)  # long enough that a loaded machine still fills all four slots
    _run([Entry(str(p)) for p in papers], _settings(tmp_path / "b", limited, jobs=4), tmp_path / "out2")
    assert limited.max_in_flight == 4


def test_tokens_and_cost(tmp_path: Path, fake_server, papers, monkeypatch: pytest.MonkeyPatch):
    """The summary line reports the tokens the server counted and their price from the config file."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('[prices."fake-model"]\ninput = 1000.0\noutput = 2000.0\n',
                                        encoding="utf-8")
    monkeypatch.setenv("DRAFTER_CONFIG_DIR", str(config))
    _env(monkeypatch, fake_server)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{papers[0]}\n", encoding="utf-8")
    run = CliRunner().invoke(app, ["batch", str(listing), "-o", str(tmp_path / "out"), "--no-figures"])
    assert run.exit_code == 0, run.stderr
    served = [r for r in fake_server.requests if r.status == 200]
    prompt = sum(r.usage["prompt_tokens"] for r in served)
    completion = sum(r.usage["completion_tokens"] for r in served)
    assert prompt > 0 and completion > 0
    cost = (prompt * 1000.0 + completion * 2000.0) / 1_000_000
    assert f"{prompt:,} prompt + {completion:,} completion tokens (${cost:.4f})" in " ".join(run.stderr.split())


# -- the command -------------------------------------------------------------------------------------


def _env(monkeypatch: pytest.MonkeyPatch, server) -> None:
    monkeypatch.setenv("DRAFTER_BASE_URL", server.url)
    monkeypatch.setenv("DRAFTER_MODEL", "fake-model")
    monkeypatch.setenv("DRAFTER_RETRIES", "0")


def test_cli_batch_summary_exit_codes_and_rerun(tmp_path: Path, fake_server, papers, monkeypatch):
    _env(monkeypatch, fake_server)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# reading list\n{papers[0]}\n{papers[1]}\n{tmp_path / 'missing.pdf'}\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["batch", str(listing), "--out", str(tmp_path / "out"), "--jobs", "8"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "no such file" in result.stderr and "1 failed" in result.stderr and "2 done" in result.stderr
    listing.write_text(f"{papers[0]}\n{papers[1]}\n", encoding="utf-8")
    before = len(fake_server.requests)
    again = runner.invoke(app, ["batch", str(listing), "--out", str(tmp_path / "out")])
    assert again.exit_code == 0, again.output
    assert len(fake_server.requests) == before  # a second run of the same list makes no request
    assert "2 skipped" in again.stderr


def test_cli_batch_stdin_and_model_failure_exit_1(tmp_path: Path, fake_server, papers, monkeypatch):
    _env(monkeypatch, fake_server)
    fake_server.enqueue(Fault.server_error(503))
    result = CliRunner().invoke(app, ["batch", "-", "-o", str(tmp_path / "out")], input=f"{papers[2]}\n")
    assert result.exit_code == 1, result.output
    assert "failed" in result.stderr


def _batch_env(tmp_path: Path, server: FakeOpenAI | None = None) -> dict[str, str]:
    """A `drafter batch` subprocess's environment: none of this machine's DRAFTER_/OPENAI_ settings, a cache of its
    own, and the stand-in model (no retries) when there is one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))}
    env["DRAFTER_CACHE_DIR"] = str(tmp_path / "cache")
    if server is not None:
        env.update(DRAFTER_BASE_URL=server.url, DRAFTER_MODEL="fake-model", DRAFTER_RETRIES="0")
    return env


@contextmanager
def _batch(*args: str | Path, env: dict[str, str], quiet: bool = False) -> Iterator[subprocess.Popen[str]]:
    """`drafter batch ARGS` running in a subprocess a test can interrupt; killed on the way out if still running."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-m", "drafter", "batch", *map(str, args)], env=env, stdout=output,
                            stderr=output, text=True, preexec_fn=interruptible)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _until(ready: Callable[[], object], proc: subprocess.Popen[str], seconds: float) -> None:
    """Wait until `ready()` holds, the process ends, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)


def _interrupt(proc: subprocess.Popen[str], timeout: float) -> str:
    """Ctrl-C: SIGINT, then the process's stderr once it has exited (TimeoutExpired if it takes over `timeout`)."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=timeout)[1]


def test_ctrl_c_stops_promptly_and_leaves_no_half_draft(tmp_path: Path, fake_server_factory, papers):
    server = fake_server_factory(latency=5.0)
    out = tmp_path / "out"
    with _batch(papers[0].parent, "-o", out, env=_batch_env(tmp_path, server)) as proc:
        _until(lambda: server.requests, proc, 30)
        assert server.requests, "the batch never reached the model"
        stderr = _interrupt(proc, 15)
    assert proc.returncode == 130, stderr  # within communicate's 15 s although every answer takes 5 s
    assert "interrupted" in stderr
    # nothing half-made: no draft, no figures, no staging folder of one
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == [], sorted(out.rglob("*"))


def test_ctrl_c_after_figures_were_exported_leaves_no_figures(tmp_path: Path, fake_server_factory):
    # The figures of a draft in progress wait in a staging folder beside it; Ctrl-C before the draft is written
    # must take them away with it (no `<slug>-figures/`, no staging folder).
    from test_figures import make_figure_paper

    server = fake_server_factory(latency=30.0)
    (tmp_path / "papers").mkdir()
    make_figure_paper(tmp_path / "papers" / "figures.pdf")
    out = tmp_path / "out"
    with _batch(tmp_path / "papers", "-o", out, "--no-enrich", env=_batch_env(tmp_path, server)) as proc:
        _until(lambda: list(out.rglob("*.png")), proc, 60)
        staged = list(out.rglob("*.png"))
        assert staged and all(p.parent.parent.name.startswith(".") for p in staged), staged
        stderr = _interrupt(proc, 20)
    assert proc.returncode == 130, stderr
    assert sorted(out.rglob("*")) == []


def _state(pid: int | str) -> tuple[str, str] | None:
    """A process's state letter and parent pid, from /proc (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], fields[1]


def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        state = _state(stat.parent.name)
        if state is not None and state[1] == str(pid) and state[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    state = _state(pid)
    return state is not None and state[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_extraction_workers_go_when_the_batch_is_killed(tmp_path: Path, fake_server_factory, papers):
    # SIGKILL (or SIGTERM's default) gives the pool no shutdown: its workers, blocked on a queue whose write end
    # they hold themselves, used to wait forever as orphans.
    server = fake_server_factory(latency=30.0)
    with _batch(papers[0].parent, "-o", tmp_path / "out", "--no-enrich", env=_batch_env(tmp_path, server),
                quiet=True) as proc:
        _until(lambda: server.requests, proc, 30)
        workers = _children(proc.pid)
        assert server.requests and workers, "the batch never reached the model with its workers started"
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"{len(left)} of {len(workers)} extraction workers outlived the killed batch"


class _SilentAfterHeaders(BaseHTTPRequestHandler):
    """A PDF download that sends its headers and then nothing (the socket timeout is a minute away)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", "1048576")
        self.end_headers()
        self.wfile.write(b"%PDF-1.4\n")
        self.wfile.flush()
        time.sleep(90)

    def log_message(self, *args: object) -> None:
        pass


def test_ctrl_c_does_not_wait_for_a_download_that_hangs(tmp_path: Path, papers):
    server, thread = start_server(_SilentAfterHeaders, "silent-after-headers")
    listing = tmp_path / "list.txt"
    listing.write_text(f"http://127.0.0.1:{server.server_address[1]}/p.pdf\n{papers[0]}\n", encoding="utf-8")
    out = tmp_path / "out"
    try:
        with _batch(listing, "-o", out, "--offline", env=_batch_env(tmp_path)) as proc:
            _until(lambda: list(out.glob("*.md")), proc, 30)  # the local paper is drafted while the download hangs
            assert list(out.glob("*.md")), "the local paper was never drafted"
            stderr = _interrupt(proc, 20)  # the download thread's socket would hold it for a minute
    finally:
        stop_server(server, thread)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr


def test_rich_progress_display_runs(tmp_path: Path, fake_server, papers):
    from rich.console import Console

    from drafter.batch import RichReporter

    stream = io.StringIO()
    reporter = RichReporter(Console(file=stream, force_terminal=True, width=100))
    fake_server.enqueue(Fault.rate_limit(retry_after=0.01))
    result = _run([Entry(str(papers[0]))], _settings(tmp_path, fake_server, retries=2), tmp_path / "out",
                  reporter=reporter)
    assert result.exit_code == 0 and result.retries == 1
    assert reporter.tokens == result.tokens > 0
    assert reporter.streamed_tokens > 0 and not reporter.arriving  # answers were seen arriving, and all ended
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())  # what the terminal was shown
    assert "papers" in shown and "1/1" in shown
    assert f"{result.tokens:,} tokens" in shown


def test_an_unexpected_error_in_one_entry_does_not_end_the_batch(tmp_path: Path, sample_pdf: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug hit by one entry is reported on its row; the other entries are still drafted."""
    import drafter.batch as batch_module

    (tmp_path / "papers").mkdir()
    good = tmp_path / "papers" / "good.pdf"
    good.write_bytes(sample_pdf.read_bytes())
    other = tmp_path / "papers" / "other.pdf"
    other.write_bytes(sample_pdf.read_bytes() + b"\n% a different file\n")
    real_finish = batch_module.sources.finish_paper

    def finish(paper, fetched):
        if str(fetched.pdf).endswith("other.pdf"):
            raise RuntimeError("boom")
        return real_finish(paper, fetched)

    monkeypatch.setattr(batch_module.sources, "finish_paper", finish)
    settings = load_settings({"offline": True, "cache_dir": str(tmp_path / "cache")}, env={})
    result = asyncio.run(run_batch(read_list(str(tmp_path / "papers")), settings, tmp_path / "out", workers=0))
    by_name = {Path(r.entry.label).name: r for r in result.results}
    assert by_name["good.pdf"].status == "done"
    assert by_name["other.pdf"].status == "failed"
    assert "internal error: RuntimeError: boom" in by_name["other.pdf"].error
    assert result.exit_code == 70  # a bug, not a model failure


def test_an_unclosed_bib_entry_is_reported_and_swallows_nothing(tmp_path: Path):
    bib = ("@article{a, title={Unclosed}\n@article{b, eprint={2401.00001}}\n@article{c, eprint={2401.00002}}\n"
           "@misc{d, title={Fine}, eprint={2401.00003}}\n")
    entries = parse_bib(bib, tmp_path, "x.bib")
    assert [(e.where, e.source) for e in entries] == [("x.bib:a", ""), ("x.bib:b", "2401.00001"),
                                                       ("x.bib:c", "2401.00002"), ("x.bib:d", "2401.00003")]
    assert "never closed" in (entries[0].error or "")


def test_repeated_entries_fetch_and_look_up_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """200 copies of one arXiv id: one download, one Semantic Scholar lookup, 199 skipped as repeats."""
    from fakes2 import FakeS2

    monkeypatch.setenv("DRAFTER_ENRICH", "1")
    monkeypatch.setenv("DRAFTER_S2_DELAY", "0")
    monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0")
    with FakeArxiv() as arxiv, FakeS2() as s2:
        arxiv.add("2401.00001", "Gated Widgets", ["Ada Lovelace"], pdf=make_pdf("Gated Widgets", seed="gw"))
        s2.add_paper("Gated Widgets", arxiv="2401.00001")
        monkeypatch.setenv("DRAFTER_ARXIV_API", arxiv.api_url)
        monkeypatch.setenv("DRAFTER_ARXIV_EPRINT", f"{arxiv.base}/e-print")
        monkeypatch.setenv("DRAFTER_S2_API", s2.url)
        settings = load_settings({"offline": True, "cache_dir": tmp_path / "cache"}, file=tmp_path / "none.toml")
        result = _run([Entry("2401.00001")] * 200, settings, tmp_path / "out")
        downloads, lookups = len(arxiv.paths("/pdf/")), len(s2.paths())
    assert sorted(r.status for r in result.results) == ["done"] + ["skipped"] * 199
    assert {r.error for r in result.results[1:]} == {"same source as 2401.00001"}
    assert downloads == 1
    assert 1 <= lookups <= 4  # the paper, its citations and references: once
    assert [p.name for p in (tmp_path / "out").glob("*.md")] == ["gated-widgets.md"]


def test_entry_labels_are_printed_as_written(tmp_path: Path):
    """'refs.bib:a:' is a label, not rich's :a: emoji code (it printed as 'refs.bib🅰')."""
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{a, title={No source here}}\n", encoding="utf-8")
    run = CliRunner().invoke(app, ["batch", str(bib), "-o", str(tmp_path / "out"), "--offline"])
    assert run.exit_code == 2
    assert "refs.bib:a: " in run.stderr and "\U0001f170" not in run.stderr
