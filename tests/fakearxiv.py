"""Test fixtures -> a local HTTP server playing arXiv (Atom feed API + PDF downloads), and a paper PDF maker.

    with FakeArxiv() as arxiv:
        arxiv.add("1706.03762", "Attention Is All You Need", ["Ashish Vaswani"], pdf=make_pdf("..."))
        monkeypatch.setenv("DRAFTER_ARXIV_API", arxiv.api_url)

Endpoints: ``GET /api/query?id_list=a,b`` (an Atom feed with the known ids; an unknown but well-formed id is
left out, a malformed one gets arXiv's "Error" entry), ``GET /pdf/<id>[vN]`` (the PDF), ``GET /e-print/<id>[vN]``
(the LaTeX source put in ``eprints``: a gzipped tar from ``make_eprint_tar`` or one gzipped .tex from
``make_eprint_tex``; 404 for other ids), and any path put in ``files`` (``(content_type, bytes)``). Every request
is recorded in ``requests`` as (monotonic time, path).
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from localhttp import start_server, stop_server

__all__ = ["FakeArxiv", "make_eprint_tar", "make_eprint_tex", "make_pdf"]

_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?$")


def make_pdf(title: str, authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing"), paragraphs: int = 6,
             seed: str = "") -> bytes:
    """A small text-layer PDF that looks like a paper: big title, authors, abstract and numbered sections."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter, invariant=1)
    pdf.setTitle("")
    _, height = letter
    y = height - 90

    def line(text: str, size: float = 10, font: str = "Times-Roman", x: float = 72) -> None:
        nonlocal y
        if y < 72:
            pdf.showPage()
            y = height - 72
        pdf.setFont(font, size)
        pdf.drawString(x, y, text)
        y -= size * 1.4

    line(title, 17, "Times-Bold")
    y -= 6
    line(", ".join(authors), 11)
    line("Example University", 10)
    y -= 12
    line("Abstract", 11, "Times-Bold", 280)
    words = (f"We study {seed or title.lower()} and show that a simple gated method improves results on "
             "standard benchmarks while keeping the cost of training small and the implementation short.")
    for _ in range(3):
        line(words[:95], 10, x=90)
        line(words[95:], 10, x=90)
    for number, heading in enumerate(("Introduction", "Method", "Experiments", "Conclusion"), 1):
        y -= 10
        line(f"{number}  {heading}", 12, "Times-Bold")
        for i in range(paragraphs):
            line(f"The {heading.lower()} part of {seed or 'this paper'} explains step {i} of the approach in "
                 "plain words so that", 10)
            line("the reader can follow the argument, reproduce the numbers and judge the evidence.", 10)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_eprint_tar(files: dict[str, str | bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """An arXiv e-print as arXiv serves a multi-file submission: a gzipped tar. `symlinks` maps a member name to
    its target (members are stored as written, so names like "../evil.tex" are kept as they are)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_500_000_000
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return gzip.compress(buf.getvalue(), mtime=0)


def make_eprint_tex(text: str) -> bytes:
    """An arXiv e-print of a single-file submission: the .tex, gzipped."""
    return gzip.compress(text.encode("utf-8"), mtime=0)


@dataclass
class ArxivPaper:
    id: str
    version: str
    title: str
    authors: list[str]
    published: str
    categories: list[str]
    abstract: str
    pdf: bytes


@dataclass
class FakeArxiv:
    """The stand-in arXiv on 127.0.0.1; use as a context manager."""

    papers: dict[str, ArxivPaper] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    eprints: dict[str, bytes] = field(default_factory=dict)  # arXiv id (no version) -> e-print bytes
    requests: list[tuple[float, str]] = field(default_factory=list)
    pdf_delay: float = 0.0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, arxiv_id: str, title: str, authors: list[str], *, pdf: bytes, version: str = "v1",
            published: str = "2017-06-12T17:57:34Z", categories: tuple[str, ...] = ("cs.CL", "cs.LG"),
            abstract: str = "An abstract from the arXiv feed.") -> None:
        self.papers[arxiv_id] = ArxivPaper(arxiv_id, version, title, list(authors), published,
                                           list(categories), abstract, pdf)

    @property
    def base(self) -> str:
        assert self._server is not None, "FakeArxiv is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/query"

    def paths(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [p for _, p in self.requests if p.startswith(prefix)]

    # -- feed ----------------------------------------------------------------------------------
    def feed(self, ids: list[str]) -> bytes:
        entries = []
        for raw in ids:
            match = _ID.match(raw)
            if not match:
                entries.append(f"<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_{escape(raw)}</id>"
                               "<title>Error</title><summary>incorrect id format</summary></entry>")
                continue
            paper = self.papers.get(match.group(1))
            if paper is None or (match.group(2) and match.group(2) != paper.version):
                continue
            vid = f"{paper.id}{paper.version}"
            authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in paper.authors)
            cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
                           for c in paper.categories)
            entries.append(
                f"<entry><id>http://arxiv.org/abs/{vid}</id><updated>{paper.published}</updated>"
                f"<published>{paper.published}</published><title>{escape(paper.title)}\n  </title>"
                f"<summary>  {escape(paper.abstract)}\n</summary>{authors}"
                f'<link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>'
                f'<link title="pdf" href="{self.base}/pdf/{vid}" rel="related" type="application/pdf"/>'
                f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" '
                f'term="{paper.categories[0]}" scheme="http://arxiv.org/schemas/atom"/>{cats}</entry>')
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
                'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
                f"<title>arXiv Query</title><opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
                + "".join(entries) + "</feed>").encode("utf-8")

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FakeArxiv:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with fake._lock:
                    fake.requests.append((time.monotonic(), self.path))
                parts = urlsplit(self.path)
                if parts.path == "/api/query":
                    ids = [i for i in parse_qs(parts.query).get("id_list", [""])[0].split(",") if i]
                    self._send(200, "application/atom+xml; charset=utf-8", fake.feed(ids))
                    return
                if parts.path in fake.files:
                    ctype, data = fake.files[parts.path]
                    self._send(200, ctype, data)
                    return
                if parts.path.startswith("/e-print/"):
                    match = _ID.match(parts.path[len("/e-print/"):])
                    eprint = fake.eprints.get(match.group(1)) if match else None
                    if eprint is not None:
                        self._send(200, "application/gzip", eprint)
                        return
                if parts.path.startswith("/pdf/"):
                    match = _ID.match(parts.path[5:].removesuffix(".pdf"))
                    paper = fake.papers.get(match.group(1)) if match else None
                    if paper is not None:
                        time.sleep(fake.pdf_delay)
                        self._send(200, "application/pdf", paper.pdf)
                        return
                self._send(404, "text/html", b"<html><body>Not found</body></html>")

        self._server, self._thread = start_server(Handler, "fakearxiv")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._server is not None and self._thread is not None
        stop_server(self._server, self._thread)
