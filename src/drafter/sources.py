"""Source string (PDF path, arXiv id or abs/pdf URL, any PDF URL) -> Paper, arXiv metadata over the PDF's own.

Network steps (`fetch`) and CPU steps (`extract_pdf`, `finish_paper`) are separate so a batch can download in
threads and extract in worker processes; `load_source` does both for one paper.

arXiv: metadata comes from the arXiv API (env DRAFTER_ARXIV_API, default export.arxiv.org), the PDF from
the link the feed gives; every request to arXiv waits until `arxiv_delay()` seconds (env DRAFTER_ARXIV_DELAY,
default 3.0) have passed since the previous one, one request at a time. Every network call takes an optional
`cancel` event: set (a batch sets it on Ctrl-C), downloads and arXiv waits stop early.
Downloads are cached by URL under `<cache_dir>/downloads`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from drafter import web
from drafter.config import Settings
from drafter.errors import InputError, NetworkError
from drafter.extract import load_paper
from drafter.extract.diagnose import NO_ABSTRACT
from drafter.files import atomic_write
from drafter.ingest import check_pdf_path
from drafter.paper import Paper

DEFAULT_ARXIV_API = "https://export.arxiv.org/api/query"
DEFAULT_ARXIV_DELAY = 3.0
TIMEOUT = 60.0  # seconds to wait for a server to answer
DEADLINE = 600.0  # seconds one whole download may take: a server trickling a byte a second never finishes
MAX_DOWNLOAD = 200 * 1024 * 1024
UNVERSIONED_MAX_AGE = 24 * 3600  # cached metadata of an id without version is refreshed after a day
ARXIV_BATCH = 20  # ids per API request


_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?P<version>v\d+)?"
_ARXIV_ID = re.compile(rf"^(?:arxiv:\s*)?{_ID}$", re.I)
_ARXIV_URL = re.compile(rf"^https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/{_ID}(?:\.pdf)?/?(?:[?#].*)?$",
                        re.I)
_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV_NS = "{http://arxiv.org/schemas/atom}"


@dataclass(frozen=True)
class Source:
    """What a source string names: kind is "path", "arxiv" (value = id, version apart) or "url"."""

    kind: str
    value: str
    raw: str
    version: str = ""

    @property
    def arxiv_key(self) -> str:
        return f"{self.value}{self.version}"


@dataclass
class ArxivMeta:
    """One arXiv API feed entry."""

    id: str
    version: str
    title: str
    authors: list[str]
    published: str
    updated: str
    categories: list[str]
    abstract: str
    pdf_url: str


@dataclass
class Fetched:
    """A source made local: the PDF on disk, and the arXiv metadata when the source is an arXiv paper."""

    source: Source
    pdf: Path
    meta: ArxivMeta | None = None
    label: str = ""


_GATE = web.Gate(lambda: arxiv_delay())  # one request to arXiv at a time, spaced


def arxiv_api() -> str:
    return os.environ.get("DRAFTER_ARXIV_API") or DEFAULT_ARXIV_API


def arxiv_delay() -> float:
    """Seconds between two requests to arXiv (env DRAFTER_ARXIV_DELAY, else 3)."""
    raw = os.environ.get("DRAFTER_ARXIV_DELAY")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_ARXIV_DELAY
    except ValueError:
        return DEFAULT_ARXIV_DELAY


# -- classifying a source string ---------------------------------------------------------------------


def parse_source(text: str, base: Path | None = None) -> Source:
    """Classify a source: an existing file wins, then an arXiv id or URL, then any http(s) URL, else a path.

    Relative paths are taken relative to `base` (the folder of a reading list) when given.
    """
    raw = text.strip()
    if not raw:
        raise InputError("empty source", "Pass a PDF path, an arXiv id (1706.03762) or a URL.")
    path = Path(raw).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.exists():
        return Source("path", str(path), raw)
    match = _ARXIV_ID.match(raw) or _ARXIV_URL.match(raw)
    if match:
        return Source("arxiv", match.group("id"), raw, match.group("version") or "")
    if re.match(r"^https?://", raw, re.I):
        return Source("url", raw, raw)
    return Source("path", str(path), raw)


# -- HTTP --------------------------------------------------------------------------------------------


def _get(url: str, accept: str, what: str, *, timeout: float | None = None,
         limit: int = MAX_DOWNLOAD, deadline: float | None = None,
         cancel: threading.Event | None = None) -> tuple[bytes, str]:
    """GET a URL (drafter.web.get): (body, content type). Failures are bad input for this entry (InputError), or
    a failed network (NetworkError). The whole transfer ends after `deadline` seconds and at once when `cancel` is
    set."""
    try:
        return web.get(url, accept, timeout=timeout or TIMEOUT, limit=limit, deadline=deadline or DEADLINE,
                       cancel=cancel)
    except web.Cancelled as exc:
        raise InputError(f"download of {url} was cancelled") from exc
    except web.Overtime as exc:
        raise NetworkError(f"{url} {exc}", "Try again later, or download the PDF yourself and pass its path.") from exc
    except web.TooLarge as exc:
        raise InputError(f"{url} is {exc}", "Download the PDF yourself and pass its path.") from exc
    except web.BadURL as exc:
        raise _invalid_url(url, exc) from exc
    except urllib.error.HTTPError as exc:
        exc.close()
        hint = ("Check the arXiv id (https://arxiv.org/abs/ID should open)." if what == "arXiv"
                else "Check the URL, or download the PDF and pass its path.")
        if exc.code >= 500:
            raise NetworkError(f"{url}: the server failed ({exc.code} {exc.reason})",
                               "Try again later, or download the PDF and pass its path.") from exc
        raise InputError(f"{url}: the server answered {exc.code} {exc.reason}", hint) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NetworkError(f"cannot download {url} ({reason})",
                           "Check the URL and your connection, or download the PDF and pass its path.") from exc
    except http.client.IncompleteRead as exc:
        raise NetworkError(f"the download of {url} broke off ({len(exc.partial)} bytes arrived)",
                           "Try again; if it keeps failing, download the PDF yourself and pass its path.") from exc
    except http.client.HTTPException as exc:  # a reply that is not HTTP (BadStatusLine, LineTooLong, ...)
        raise NetworkError(f"{url} did not answer as an HTTP server ({type(exc).__name__})",
                           "Check the URL, or download the PDF and pass its path.") from exc


def _invalid_url(url: str, exc: Exception) -> InputError:
    return InputError(f"{url} is not a valid URL ({exc})",
                      "Check the URL: http(s)://host[:port]/path, with a port from 1 to 65535.")


def arxiv_get(url: str, accept: str, *, timeout: float | None = None, limit: int = MAX_DOWNLOAD,
              deadline: float | None = None, cancel: threading.Event | None = None) -> tuple[bytes, str]:
    """GET from arXiv: each request starts at least `arxiv_delay()` seconds after the previous one started. The
    gate is held for the spacing only, not the transfer: one stalled e-print does not block every later request."""
    if not _GATE.wait(cancel):
        raise InputError("arXiv request cancelled")
    return _get(url, accept, "arXiv", timeout=timeout, limit=limit, deadline=deadline, cancel=cancel)


def downloads_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "downloads"


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]


def _check_pdf_bytes(url: str, data: bytes, ctype: str) -> None:
    if b"%PDF-" in data[:1024]:
        return
    head = data[:512].lstrip().lower()
    if "html" in ctype.lower() or head.startswith((b"<!doctype html", b"<html", b"<")):
        raise InputError(f"{url} returned an HTML page, not a PDF",
                         "Pass the direct link to the PDF file (for arXiv, just the id or the /pdf/ link).")
    raise InputError(f"{url} did not return a PDF (Content-Type: {ctype or 'none'})",
                     "Pass the direct link to the PDF file, or download it and pass its path.")


def download_pdf(url: str, cache_dir: Path, *, arxiv: bool = False, cancel: threading.Event | None = None) -> Path:
    """The PDF at `url` as a local file, cached by URL; HTML or other non-PDF answers are refused."""
    target = downloads_dir(cache_dir) / f"{_url_key(url)}.pdf"
    try:
        with target.open("rb") as fh:
            if b"%PDF-" in fh.read(1024):
                return target
    except FileNotFoundError:
        pass
    data, ctype = (arxiv_get(url, "application/pdf", cancel=cancel) if arxiv
                   else _get(url, "application/pdf,*/*", "url", cancel=cancel))
    _check_pdf_bytes(url, data, ctype)
    atomic_write(target, data)
    return target


# -- arXiv API ---------------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def parse_feed(xml: bytes) -> list[ArxivMeta]:
    """The entries of an arXiv API Atom feed (error entries are left out)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InputError(f"the arXiv API answered with something that is not an Atom feed ({exc})",
                         "Check DRAFTER_ARXIV_API, or try again later.") from exc
    out: list[ArxivMeta] = []
    for entry in root.iter(f"{_ATOM}entry"):
        entry_id = _clean(entry.findtext(f"{_ATOM}id"))
        title = _clean(entry.findtext(f"{_ATOM}title"))
        if "/api/errors" in entry_id or not entry_id or title.lower() == "error":
            continue
        match = re.search(rf"/abs/{_ID}$", entry_id)
        if not match:
            continue
        pdf_url = ""
        for link in entry.iter(f"{_ATOM}link"):
            if link.get("title") == "pdf" or link.get("type") == "application/pdf":
                pdf_url = link.get("href", "")
                break
        version = match.group("version") or ""
        if not pdf_url:
            pdf_url = f"https://arxiv.org/pdf/{match.group('id')}{version}"
        categories = [c.get("term", "") for c in entry.iter(f"{_ATOM}category") if c.get("term")]
        primary = entry.find(f"{_ARXIV_NS}primary_category")
        if primary is not None and primary.get("term"):
            categories = [primary.get("term", ""), *categories]
        out.append(ArxivMeta(
            id=match.group("id"), version=version, title=title,
            authors=[_clean(a.findtext(f"{_ATOM}name")) for a in entry.iter(f"{_ATOM}author")
                     if _clean(a.findtext(f"{_ATOM}name"))],
            published=_clean(entry.findtext(f"{_ATOM}published")),
            updated=_clean(entry.findtext(f"{_ATOM}updated")),
            categories=list(dict.fromkeys(categories)),
            abstract=_clean(entry.findtext(f"{_ATOM}summary")),
            pdf_url=pdf_url,
        ))
    return out


def _meta_cache(cache_dir: Path, key: str) -> Path:
    return downloads_dir(cache_dir) / f"arxiv-{_url_key(key)}.json"


def _cached_meta(cache_dir: Path, source: Source) -> ArxivMeta | None:
    path = _meta_cache(cache_dir, source.arxiv_key)
    try:
        if not source.version and time.time() - path.stat().st_mtime > UNVERSIONED_MAX_AGE:
            return None
        return ArxivMeta(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None  # a damaged cache entry is a miss


def _unknown(source: Source) -> InputError:
    return InputError(f"arXiv has no paper {source.arxiv_key}",
                      "Check the id (https://arxiv.org/abs/ID should open); new ids look like 1706.03762, "
                      "old ones like hep-th/9901001.")


def arxiv_metadata(sources: list[Source], cache_dir: Path,
                   cancel: threading.Event | None = None) -> dict[str, ArxivMeta | InputError]:
    """Metadata for arXiv sources, keyed by `Source.arxiv_key`: cached, else asked in batches of ids."""
    out: dict[str, ArxivMeta | InputError] = {}
    missing: list[Source] = []
    for source in dict.fromkeys(sources):
        meta = _cached_meta(cache_dir, source)
        if meta is not None:
            out[source.arxiv_key] = meta
        elif source.arxiv_key not in out:
            missing.append(source)
    for start in range(0, len(missing), ARXIV_BATCH):
        chunk = missing[start:start + ARXIV_BATCH]
        _ask_arxiv(chunk, cache_dir, out, cancel)
        unanswered = [s for s in chunk if s.arxiv_key not in out]
        if len(chunk) > 1:  # one bad id must not sink the others: ask the rest one by one
            for source in unanswered:
                _ask_arxiv([source], cache_dir, out, cancel)
        for source in chunk:
            out.setdefault(source.arxiv_key, _unknown(source))
    return out


def _ask_arxiv(chunk: list[Source], cache_dir: Path, out: dict[str, ArxivMeta | InputError],
               cancel: threading.Event | None = None) -> None:
    query = urllib.parse.urlencode({"id_list": ",".join(s.arxiv_key for s in chunk),
                                    "max_results": str(len(chunk))})
    body, _ = arxiv_get(f"{arxiv_api()}?{query}", "application/atom+xml", cancel=cancel)
    entries = parse_feed(body)
    for source in chunk:
        for meta in entries:
            if meta.id == source.value and (not source.version or meta.version == source.version):
                out[source.arxiv_key] = meta
                blob = json.dumps(asdict(meta), ensure_ascii=False).encode("utf-8")
                # Also under the versioned id the draft records, so `redo` asks arXiv nothing.
                for key in dict.fromkeys([source.arxiv_key, f"{meta.id}{meta.version}"]):
                    atomic_write(_meta_cache(cache_dir, key), blob)
                break


# -- fetch, extract, merge ---------------------------------------------------------------------------


def fetch(source: Source, cache_dir: Path, metas: dict[str, ArxivMeta | InputError] | None = None,
          cancel: threading.Event | None = None) -> Fetched:
    """Make a source local (network): a checked path, a downloaded URL, or an arXiv paper's metadata + PDF.
    Setting `cancel` stops the download early."""
    if source.kind == "path":
        path = Path(source.value)
        check_pdf_path(path)
        return Fetched(source, path, label=str(path))
    if source.kind == "url":
        return Fetched(source, download_pdf(source.value, cache_dir, cancel=cancel), label=source.value)
    found = (metas or {}).get(source.arxiv_key)
    if found is None:
        found = arxiv_metadata([source], cache_dir, cancel)[source.arxiv_key]
    if isinstance(found, InputError):
        raise found
    return Fetched(source, download_pdf(found.pdf_url, cache_dir, arxiv=True, cancel=cancel), found,
                   label=f"arXiv:{found.id}{found.version}")


def extract_pdf(path: str, cache_dir: str | None) -> Paper:
    """CPU-bound extraction of one local PDF (a top-level function, so worker processes can run it)."""
    return load_paper(Path(path), Path(cache_dir) if cache_dir else None)


_PDF_FIELDS = ("title", "authors", "year", "abstract", "arxiv_id", "venue")


def finish_paper(paper: Paper, fetched: Fetched) -> Paper:
    """Record where the paper came from; for arXiv, the feed's metadata takes precedence over the PDF's."""
    for name in _PDF_FIELDS:
        if getattr(paper, name) and name not in paper.provenance:
            paper.provenance[name] = "pdf"
    if fetched.source.kind == "url":
        paper.source = fetched.source.value
    meta = fetched.meta
    if meta is None:
        return paper
    paper.source = fetched.label
    year = int(meta.published[:4]) if re.match(r"\d{4}", meta.published) else None
    overrides = {"title": meta.title, "authors": meta.authors, "year": year, "abstract": meta.abstract,
                 "arxiv_id": meta.id, "categories": meta.categories}
    for name, value in overrides.items():
        if not value:
            continue
        own = getattr(paper, name)
        if own and name != "categories":
            paper.pdf_fields[name] = own
        setattr(paper, name, value)
        paper.provenance[name] = "arxiv-api"
    if meta.abstract:  # the feed's abstract stands in for one the PDF did not yield
        paper.warnings = [w for w in paper.warnings if not w.startswith(NO_ABSTRACT)]
    if meta.published:
        paper.provenance["published"] = "arxiv-api"
    return paper


def load_source(source: str, settings: Settings) -> Paper:
    """Read a paper from a PDF path, an arXiv id / abs or pdf URL, or any PDF URL (extraction cached)."""
    return load_source_pdf(source, settings)[0]


def load_source_pdf(source: str, settings: Settings) -> tuple[Paper, Path]:
    """`load_source`, and the local PDF it read (a download's cached copy): figure export renders from it."""
    fetched = fetch(parse_source(source), settings.cache_dir)
    return finish_paper(extract_pdf(str(fetched.pdf), str(settings.cache_dir)), fetched), fetched.pdf


__all__ = ["ArxivMeta", "Fetched", "Source", "arxiv_get", "arxiv_metadata", "download_pdf", "extract_pdf", "fetch",
           "finish_paper", "load_source", "load_source_pdf", "parse_feed", "parse_source"]
