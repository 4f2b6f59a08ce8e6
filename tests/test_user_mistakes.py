"""User mistakes and a hostile machine are bad input with one line saying what to do, never "a bug in drafter"
(issue 19 defect 2, adversarial D6, D8): drafts that are not UTF-8, file names that are not UTF-8, pipes and
devices passed as PDFs, URLs with a bad port, downloads that break off, a full disk."""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from cliutil import cli, cli_process
from conftest import SAMPLE_PDF
from drafter import files
from drafter.errors import InputError, NetworkError
from drafter.sources import _get
from localhttp import start_server, stop_server


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["check"], ["redo", "--offline"]])
def test_a_draft_that_is_not_utf8_is_bad_input(command: list[str], tmp_path: Path) -> None:
    pdf_by_mistake = tmp_path / "post.md"
    pdf_by_mistake.write_bytes(b"%PDF-1.4\n\xff\xfe\x00binary")
    args = [command[0], pdf_by_mistake, *(["summary"] if command[0] == "redo" else []), *command[1:]]
    run = cli(*args)
    assert run.code == 2
    assert "not a Markdown draft" in _one_error_line(run.stderr)


def test_a_file_name_that_is_not_utf8_drafts(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.pdf")
    (tmp_path / name).write_bytes(SAMPLE_PDF.read_bytes())
    run = cli("new", tmp_path / name, "--offline", "-o", tmp_path / "out.md", "--no-figures")
    assert run.code == 0, run.stderr
    assert 'caf\ufffd.pdf"' in (tmp_path / "out.md").read_text(encoding="utf-8")


def test_a_quoted_file_name_drafts(tmp_path: Path) -> None:
    odd = tmp_path / "it's \"the\" paper; rm -rf x.pdf"
    odd.write_bytes(SAMPLE_PDF.read_bytes())
    run = cli("new", odd, "--offline", "-o", tmp_path / "out.md", "--no-figures")
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([odd.name, "out.md"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_at_once_by_new_and_by_batch(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.pdf"
    os.mkfifo(fifo)
    run = cli_process("new", fifo, "--offline", "-o", tmp_path / "out.md", timeout=60)
    assert run.code == 2 and "not a regular file" in _one_error_line(run.stderr)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{fifo}\n/dev/zero\n", encoding="utf-8")
    batch = cli_process("batch", listing, "-o", tmp_path / "out", "--offline", timeout=60)
    assert batch.code == 2, batch.stderr
    assert batch.stderr.count("not a regular file") == 2, batch.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/p.pdf", "http://127.0.0.1:abc/p.pdf", "http://[::1/p.pdf"])
def test_a_url_that_cannot_be_a_url_is_bad_input(url: str, tmp_path: Path) -> None:
    run = cli("new", url, "--offline", "-o", tmp_path / "out.md")
    assert run.code == 2
    assert "is not a valid URL" in _one_error_line(run.stderr)


class _BreaksOff(BaseHTTPRequestHandler):
    """Promises 1 MB, sends 10 bytes, hangs up."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        self.wfile.write(b"%PDF-1.4\n%")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_download_that_breaks_off_is_a_network_failure(tmp_path: Path) -> None:
    server, thread = start_server(_BreaksOff, "breaks-off")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/p.pdf"
        run = cli("new", url, "--offline", "-o", tmp_path / "out.md")
    finally:
        stop_server(server, thread)
    assert run.code == 1
    assert "broke off" in _one_error_line(run.stderr)
    assert not (tmp_path / "out.md").exists()


class _Trickles(BaseHTTPRequestHandler):
    """Promises 1 MB, then sends one byte every 0.1 s until the client goes."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            return

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_trickling_download_ends_at_its_deadline_and_on_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    server, thread = start_server(_Trickles, "trickles")
    url = f"http://127.0.0.1:{server.server_address[1]}/p.pdf"
    try:
        with pytest.raises(NetworkError, match=r"did not finish sending within 0\.5s"):
            _get(url, "*/*", "url", deadline=0.5)  # the per-recv timeout alone never fires: bytes keep coming
        done: list[BaseException] = []
        cancel = threading.Event()

        def fetch() -> None:
            try:
                _get(url, "*/*", "url", cancel=cancel)
            except InputError as exc:
                done.append(exc)

        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        cancel.set()
        worker.join(30)
        assert done and "cancelled" in str(done[0])
    finally:
        stop_server(server, thread)


@pytest.mark.parametrize(("code", "says", "hint"), [
    (errno.ENOSPC, "no space left", "Free some disk space"),
    (errno.EDQUOT, "quota", "quota"),
    (errno.EROFS, "read-only", "writable"),
    (errno.EACCES, "permission denied", "permissions"),
])
def test_a_failed_write_says_what_failed(code: int, says: str, hint: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(path: Path, data: str | bytes) -> None:
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr("drafter.drafts.create_new", fail)  # a new draft is created without replacing anything
    run = cli("new", SAMPLE_PDF, "--offline", "-o", tmp_path / "out.md", "--no-figures")
    assert run.code == 2
    line = _one_error_line(run.stderr)
    assert says in line.lower() and hint in line and str(tmp_path / "out.md") in line
    if code != errno.EACCES:
        assert "permissions" not in line


def test_atomic_write_never_changes_the_process_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.umask is process-wide: setting it, even for a moment, races every other thread's file creation."""
    calls: list[int] = []
    real = os.umask

    def umask(mask: int) -> int:
        calls.append(mask)
        return real(mask)

    monkeypatch.setattr(os, "umask", umask)
    old = real(0o027)
    try:
        files.atomic_write(tmp_path / "new.md", "text")
    finally:
        real(old)
    assert calls == []
    assert (tmp_path / "new.md").stat().st_mode & 0o777 == 0o640  # still 0666 less the umask


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")
def test_atomic_write_syncs_the_folder_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files.atomic_write(tmp_path / ".drafter-batch.json", "{}")
    assert synced[-1] == str(tmp_path)  # the folder, after the file itself


def _aes_copy(path: Path, algorithm: str) -> Path:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=SAMPLE_PDF)
    writer.encrypt(user_password="", owner_password="owner", algorithm=algorithm)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_an_aes_pdf_drafts_and_without_cryptography_says_what_to_install(algorithm: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """cryptography is a runtime dependency (.ci/min_versions.py drafts these with only the runtime ones); an
    install that lost it gets a hint, not 'internal error' page by page."""
    pdf = _aes_copy(tmp_path / "aes.pdf", algorithm)
    run = cli("new", pdf, "--offline", "-o", tmp_path / "ok.md", "--no-figures")
    assert run.code == 0, run.stderr
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cryptography"
                        else real(name, *a))
    monkeypatch.setenv("DRAFTER_CACHE_DIR", str(tmp_path / "fresh-cache"))  # not the extraction cached above
    run = cli("new", pdf, "--offline", "-o", tmp_path / "no.md", "--no-figures")
    assert run.code == 2
    assert "pip install cryptography" in _one_error_line(run.stderr)


def test_an_unwritable_output_is_refused_before_any_model_call(tmp_path: Path, fake_server_factory,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    server = fake_server_factory()
    flags = ["--base-url", server.url, "--model", "m", "--no-enrich"]
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    run = cli("new", SAMPLE_PDF, "-o", blocker / "post" / "d.md", *flags)
    assert run.code == 2, run.stderr
    assert "is not a folder" in _one_error_line(run.stderr)
    # A folder the process may not write to (simulated: root writes anywhere).
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    run = cli("new", SAMPLE_PDF, "-o", locked / "d.md", *flags)
    assert run.code == 2, run.stderr
    assert "is not writable" in _one_error_line(run.stderr)
    assert server.requests == []  # refused before anything was sent
    assert not list(tmp_path.rglob("*.md"))
