"""Test fixtures -> a local HTTP server playing the Semantic Scholar Graph API v1 (the calls drafter makes).

    with FakeS2() as s2:
        pid = s2.add_paper("Attention Is All You Need", arxiv="1706.03762", citation_count=120000)
        s2.add_citations(pid, [("BERT", 2019, 90000), ("GPT-3", 2020, 30000), ...])
        monkeypatch.setenv("DRAFTER_S2_API", s2.url)

Endpoints, answering like the real service: ``GET /paper/{id}`` (ids: a paperId, ``ARXIV:<id>``, ``DOI:<doi>``;
404 ``{"error": ...}`` when unknown), ``GET /paper/search/match?query=`` (the closest title by shared words,
``{"data": [{..., "matchScore"}]}``, 404 "Title match not found" when nothing shares a word),
``GET /paper/{id}/citations`` and ``/references`` (``{"offset", "next", "data": [{"citingPaper"|"citedPaper"}]}``,
pages of ``limit`` <= 1000, in the stored, shuffled order). Unknown ``fields`` get a 400 as the real API does.

Modes: ``fail_first`` requests answer 429 with ``Retry-After: retry_after``; ``always_500`` answers 500 to
everything; ``latency`` seconds before each answer. Every request is recorded in ``requests`` as
(path, query dict, x-api-key header or None).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from localhttp import start_server, stop_server

__all__ = ["FakeS2"]

PAPER_FIELDS = {"paperId", "title", "year", "venue", "citationCount", "influentialCitationCount", "externalIds", "url",
                "abstract", "authors", "referenceCount"}


def _pid(title: str) -> str:
    return hashlib.sha1(title.encode("utf-8")).hexdigest()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass
class FakeS2:
    """The stand-in Semantic Scholar on 127.0.0.1; use as a context manager."""

    papers: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # "ARXIV:1706.03762" / "DOI:10.x/y" -> paperId
    citations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    references: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # time.monotonic() when each answer was sent
    fail_first: int = 0
    retry_after: str = "1"
    always_500: bool = False
    latency: float = 0.0
    seed: int = 7
    errors: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- data ----------------------------------------------------------------------------------
    def add_paper(self, title: str, *, arxiv: str | None = None, doi: str | None = None, year: int = 2017,
                  citation_count: int = 0, influential: int = 0, venue: str = "") -> str:
        pid = _pid(title)
        ids: dict[str, Any] = {"CorpusId": int(pid[:6], 16)}
        if arxiv:
            ids["ArXiv"] = arxiv
            self.aliases[f"ARXIV:{arxiv}"] = pid
        if doi:
            ids["DOI"] = doi
            self.aliases[f"DOI:{doi.lower()}"] = pid
        self.papers[pid] = {"paperId": pid, "title": title, "year": year, "venue": venue,
                            "citationCount": citation_count, "influentialCitationCount": influential,
                            "externalIds": ids, "url": f"https://www.semanticscholar.org/paper/{pid}",
                            "abstract": None, "authors": [], "referenceCount": 0}
        return pid

    def add_citations(self, pid: str, rows: list[tuple[str, int | None, int | None]],
                      ids: dict[str, dict[str, str]] | None = None) -> None:
        """Citing papers as (title, year, citationCount), stored in a shuffled order as S2's is not by count."""
        out = []
        for title, year, count in rows:
            cpid = _pid(title)
            out.append({"paperId": cpid, "title": title, "year": year, "citationCount": count,
                        "externalIds": {"CorpusId": int(cpid[:6], 16), **(ids or {}).get(title, {})},
                        "url": f"https://www.semanticscholar.org/paper/{cpid}"})
        random.Random(self.seed).shuffle(out)
        self.citations[pid] = out

    def add_references(self, pid: str, rows: list[tuple[str, dict[str, str]]]) -> None:
        self.references[pid] = [{"paperId": _pid(t), "title": t, "externalIds": ids} for t, ids in rows]

    # -- inspection ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "FakeS2 is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/graph/v1"

    def paths(self) -> list[str]:
        with self._lock:
            return [p for p, _, _ in self.requests]

    # -- answers -------------------------------------------------------------------------------
    def _select(self, record: dict[str, Any], fields: str | None) -> dict[str, Any] | str:
        wanted = [f for f in (fields or "title").split(",") if f]
        unknown = [f for f in wanted if f not in PAPER_FIELDS]
        if unknown:
            return f"Unrecognized or unsupported fields: [{', '.join(unknown)}]"
        return {"paperId": record["paperId"], **{f: record.get(f) for f in wanted}}

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        match = re.match(r"^/graph/v1/paper/(.+?)(?:/(citations|references))?$", path)
        if not match:
            return 404, {"error": "Not found"}
        key, listing = unquote(match.group(1)), match.group(2)
        fields = query.get("fields")
        if key == "search/match" and listing is None:
            words = _words(query.get("query", ""))
            scored = sorted(((len(words & _words(p["title"])), p) for p in self.papers.values()),
                            key=lambda item: -item[0])
            if not scored or scored[0][0] == 0:
                return 404, {"error": "Title match not found"}
            chosen = self._select(scored[0][1], fields)
            if isinstance(chosen, str):
                return 400, {"error": chosen}
            return 200, {"data": [{**chosen, "matchScore": 100.0 + scored[0][0]}]}
        if ":" in key:
            prefix, _, rest = key.partition(":")
            key = self.aliases.get(f"{prefix.upper()}:{rest.lower() if prefix.upper() == 'DOI' else rest}", "")
        record = self.papers.get(key)
        if record is None:
            return 404, {"error": f"Paper with id {match.group(1)} not found"}
        if listing is None:
            chosen = self._select(record, fields)
            return (400, {"error": chosen}) if isinstance(chosen, str) else (200, chosen)
        try:
            offset, limit = int(query.get("offset", "0")), int(query.get("limit", "100"))
        except ValueError:
            return 400, {"error": "Unacceptable query params: offset/limit"}
        if limit > 1000 or limit < 1 or offset < 0:
            return 400, {"error": f"Unacceptable query params: [limit={limit}]"}
        rows = (self.citations if listing == "citations" else self.references).get(key, [])
        inner = "citingPaper" if listing == "citations" else "citedPaper"
        page = []
        for row in rows[offset:offset + limit]:
            chosen = self._select(row, fields)
            if isinstance(chosen, str):
                return 400, {"error": chosen}
            page.append({inner: chosen})
        body: dict[str, Any] = {"offset": offset, "data": page}
        if offset + limit < len(rows):
            body["next"] = offset + limit
        return 200, body

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FakeS2:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake._lock:
                    fake.requests.append((parts.path, query, self.headers.get("x-api-key")))
                    count = len(fake.requests)
                time.sleep(fake.latency)
                try:
                    if fake.always_500:
                        self._send(500, {"message": "Internal Server Error"})
                    elif count <= fake.fail_first:
                        self._send(429, {"message": "Too Many Requests. Please wait and try again or apply for a "
                                         "key for higher rate limits.", "code": "429"},
                                   {"Retry-After": fake.retry_after})
                    else:
                        self._send(*fake.answer(parts.path, query))
                    with fake._lock:
                        fake.answered.append(time.monotonic())
                except (BrokenPipeError, ConnectionResetError):
                    pass
                except Exception as exc:  # recorded so the test fails instead of hanging on a half answer
                    fake.errors.append(repr(exc))
                    raise

        self._server, self._thread = start_server(Handler, "fakes2")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._server is not None and self._thread is not None
        stop_server(self._server, self._thread)
        assert not self.errors, f"fake Semantic Scholar raised internally: {self.errors!r}"
