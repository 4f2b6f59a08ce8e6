"""Hostile PDFs cost bounded work (adversarial D10): content streams are read within a per-page and a
per-document budget, a stream that blew pypdf's decoding limit is not decoded again for every page sharing it,
and a PDF whose every page was refused says so instead of "it looks like a scan". Small in-test PDFs; the full
sizes are in bench/hostile.py."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from cliutil import cli
from drafter import ingest
from drafter.ingest import read_pdf

TEXT = (b"BT /F1 11 Tf 72 700 Td 14 TL " + b" ".join(
    b"(Line %d of a page that carries real words about gated mixing and memory.) '" % i for i in range(40)) + b" ET")


def _pdf(path: Path, pages: list[list[int]], streams: dict[int, bytes]) -> Path:
    """A PDF whose pages list content streams by number (streams may be shared); stream bodies are Flate."""
    first_stream = 4 + len(pages)
    objects: dict[int, bytes] = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
                                 3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    kids = []
    for i, contents in enumerate(pages):
        number = 4 + i
        kids.append(b"%d 0 R" % number)
        refs = b" ".join(b"%d 0 R" % (first_stream + c) for c in contents)
        objects[number] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R"
                           b" >> >> /Contents [%s] >>" % refs)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(pages))
    for c, body in streams.items():
        packed = zlib.compress(body, 9)
        objects[first_stream + c] = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(packed),
                                                                                                      packed)
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
                    for n in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    path.write_bytes(bytes(out))
    return path


def test_a_page_over_its_content_budget_is_skipped_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "PAGE_CONTENT_BUDGET", 100_000)
    pdf = _pdf(tmp_path / "qq.pdf", [[0], [0, 1]], {0: TEXT, 1: b"q Q " * 50_000})  # page 2: 200 KB of q Q
    scanned: list[int] = []
    real = ingest._ContentScanner.scan

    def scan(self, data: bytes, *args, **kwargs) -> None:
        scanned.append(len(data))
        real(self, data, *args, **kwargs)

    monkeypatch.setattr(ingest._ContentScanner, "scan", scan)
    doc = read_pdf(pdf)
    assert "Line 3 of a page" in doc.pages[0].text and doc.pages[1].text == ""
    assert any(w.startswith("page 2 was skipped: its content is") for w in doc.warnings), doc.warnings
    assert max(scanned) < 100_000  # the 200 KB page never reached the scanner


def test_a_document_budget_bounds_the_pages_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "DOC_CONTENT_BUDGET", len(TEXT) * 3 + 10)
    pdf = _pdf(tmp_path / "many.pdf", [[0]] * 6, {0: TEXT})
    doc = read_pdf(pdf)
    assert [bool(p.text) for p in doc.pages] == [True, True, True, False, False, False]


def test_a_flate_bomb_shared_by_every_page_is_decoded_once_and_named(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """30 pages share an 80 MB stream of zeros (pypdf stops at 75 MB): one failed decode, not two per page, and the
    error says why nothing was read, not "it looks like a scan"."""
    import pypdf.filters

    pdf = _pdf(tmp_path / "bomb.pdf", [[0]] * 30, {0: bytes(80_000_000)})
    decodes: list[int] = []
    real = pypdf.filters.FlateDecode.decode

    def decode(*args, **kwargs):
        decodes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pypdf.filters.FlateDecode, "decode", staticmethod(decode))
    run = cli("new", pdf, "--offline", "-o", tmp_path / "out.md")
    assert run.code == 2, run.stderr
    line = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "every page with content was skipped" in line[0] and "scan" not in line[0]
    assert "Traceback" not in run.stderr
    assert len(decodes) == 1
