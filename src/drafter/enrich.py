"""Paper -> Enrichment: citation count and most-cited citing papers (Semantic Scholar), links for referenced
works, and the exact display equations of the arXiv LaTeX source; looked up beside extraction, never at the
draft's expense.

    job = start_enrichment("1706.03762", settings)   # lookups start now when the arXiv id is known
    paper = load_source("1706.03762", settings)      # meanwhile: download and extraction
    job.finish(paper)                                # paper.enrichment is set; job.warning() says what failed

Semantic Scholar: base URL from DRAFTER_S2_API (default the public Graph API v1), an optional key from
DRAFTER_S2_API_KEY or S2_API_KEY sent as `x-api-key` (never printed, never part of a cache key). Requests are
spaced `s2_delay()` seconds apart (DRAFTER_S2_DELAY, default 1), retried on 429 (honouring Retry-After), 5xx
and dropped connections, and their answers cached under `<cache_dir>/enrich` for a day.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from drafter import __version__
from drafter.arxiv_source import source_equations
from drafter.config import Settings
from drafter.errors import EnrichError, InputError
from drafter.files import atomic_write
from drafter.llm import parse_retry_after
from drafter.paper import CitingPaper, Enrichment, Equation, Paper
from drafter.sources import Source, parse_source

log = logging.getLogger(__name__)

DEFAULT_S2_API = "https://api.semanticscholar.org/graph/v1"
PAPER_FIELDS = "title,year,venue,citationCount,influentialCitationCount,externalIds,url"
CITING_FIELDS = "title,year,citationCount,externalIds,url"
REFERENCE_FIELDS = "title,externalIds"
PAGE = 1000  # the Graph API's largest page for citations and references
MAX_CITING = 2000  # citing papers ranked at most (two pages); the count itself is always the full one
TOP_CITING = 5
REQUEST_TIMEOUT = 10.0  # seconds for one request
DEFAULT_DEADLINE = 20.0  # seconds all lookups of one paper may take (DRAFTER_ENRICH_TIMEOUT)
ATTEMPTS = 3
RETRY_WAIT = 0.5  # first backoff in seconds when the server gives no Retry-After; doubles each time
MAX_RETRY_AFTER = 15.0  # a longer Retry-After is not waited for: the draft goes on without the data
MAX_BODY = 20 * 1024 * 1024
DEFAULT_DELAY = 1.0
DEFAULT_AGE = 24 * 3600  # seconds a cached answer is reused (Settings.lookup_age)

ENRICHED_SECTIONS = ("impact", "further-reading", "math")


class _Retryable(EnrichError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def s2_api() -> str:
    return (os.environ.get("DRAFTER_S2_API") or DEFAULT_S2_API).rstrip("/")


def s2_key() -> str | None:
    return os.environ.get("DRAFTER_S2_API_KEY") or os.environ.get("S2_API_KEY") or None


def s2_delay() -> float:
    """Seconds between two requests to Semantic Scholar (env DRAFTER_S2_DELAY, default 1)."""
    try:
        return max(0.0, float(os.environ.get("DRAFTER_S2_DELAY") or DEFAULT_DELAY))
    except ValueError:
        return DEFAULT_DELAY


def deadline() -> float:
    try:
        return max(0.1, float(os.environ.get("DRAFTER_ENRICH_TIMEOUT") or DEFAULT_DEADLINE))
    except ValueError:
        return DEFAULT_DEADLINE


@dataclass
class _Gate:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")


_GATE = _Gate()


class S2Client:
    """The few Semantic Scholar Graph API calls drafter makes, cached on disk for a day."""

    def __init__(self, cache_dir: Path, base: str | None = None, key: str | None = None, *,
                 cached_only: bool = False, max_age: float = DEFAULT_AGE) -> None:
        self.base = (base or s2_api()).rstrip("/")
        self.max_age = max_age  # seconds a cached answer is reused
        self.cached_only = cached_only  # answer from the cache or not at all (dry runs promise no network)
        self._key = key if key is not None else s2_key()
        self.cache_root = Path(cache_dir) / "enrich"
        self.requests = 0  # requests that went out (cache hits excluded)

    # -- transport ----------------------------------------------------------------------------------

    def _cache_path(self, url: str) -> Path:
        return self.cache_root / f"s2-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:40]}.json"

    def _cached(self, url: str) -> tuple[float, dict[str, Any] | None] | None:
        try:
            entry = json.loads(self._cache_path(url).read_text(encoding="utf-8"))
            if time.time() - float(entry["time"]) <= self.max_age:
                return float(entry["time"]), entry["body"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: a miss
        return None

    def _once(self, url: str) -> dict[str, Any] | None:
        headers = {"User-Agent": f"drafter/{__version__}", "Accept": "application/json"}
        if self._key:
            headers["x-api-key"] = self._key
        with _GATE.lock:
            wait = _GATE.last + s2_delay() - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            _GATE.last = time.monotonic()
        self.requests += 1
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=REQUEST_TIMEOUT) as response:
                body = response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            detail = _error_text(exc)
            retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            if exc.code == 404:
                return None
            if exc.code == 429:
                if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                    raise EnrichError(f"rate limited for {retry_after:.0f}s") from exc
                raise _Retryable("rate limited (429)", retry_after) from exc
            if exc.code >= 500:
                raise _Retryable(f"server error {exc.code}", retry_after) from exc
            if exc.code in (401, 403):
                raise EnrichError(f"refused the request ({exc.code}{detail}); check DRAFTER_S2_API_KEY "
                                   "or unset it") from exc
            raise EnrichError(f"answered {exc.code}{detail}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                raise EnrichError(f"cannot connect to {self.base} ({reason})") from exc  # retrying will not help
            raise _Retryable(f"no answer ({reason})") from exc
        if len(body) > MAX_BODY:
            raise EnrichError("answer too large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EnrichError("answered with something that is not JSON") from exc
        if not isinstance(data, dict):
            raise EnrichError("answered with an unexpected JSON shape")
        return data

    def get(self, path: str, params: dict[str, str | int]) -> tuple[float, dict[str, Any] | None]:
        """(time of the answer, its JSON body or None for 404); cached answers younger than a day count."""
        url = f"{self.base}/{path.lstrip('/')}?{urllib.parse.urlencode(params)}"
        hit = self._cached(url)
        if hit is not None:
            return hit
        if self.cached_only:
            raise EnrichError("not in the cache")

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = exc.retry_after if isinstance(exc, _Retryable) else None
            return after if after is not None else RETRY_WAIT * 2 ** (state.attempt_number - 1)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info("Semantic Scholar: %s; retrying in %.1fs", exc, state.next_action.sleep if state.next_action
                     else 0.0)

        body = Retrying(retry=retry_if_exception_type(_Retryable), stop=stop_after_attempt(ATTEMPTS), wait=wait,
                        before_sleep=before_sleep, reraise=True)(self._once, url)
        now = time.time()
        atomic_write(self._cache_path(url), json.dumps({"time": now, "body": body}, ensure_ascii=False))
        return now, body

    # -- calls --------------------------------------------------------------------------------------

    def paper(self, paper_id: str) -> tuple[float, dict[str, Any] | None]:
        """`/paper/{id}` (ids like ARXIV:1706.03762 or DOI:10.1145/...); None when S2 does not know it."""
        return self.get(f"paper/{urllib.parse.quote(paper_id, safe=':/')}", {"fields": PAPER_FIELDS})

    def match_title(self, title: str) -> tuple[float, dict[str, Any] | None]:
        """`/paper/search/match`: the best title match, accepted only when its title is ours."""
        when, body = self.get("paper/search/match", {"query": title[:300], "fields": PAPER_FIELDS})
        found = (body or {}).get("data") or []
        best = found[0] if isinstance(found, list) and found and isinstance(found[0], dict) else None
        if best is None or not same_title(str(best.get("title") or ""), title):
            return when, None
        return when, best

    def _pages(self, path: str, fields: str, limit: int, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while offset < limit:
            _, body = self.get(path, {"fields": fields, "offset": offset, "limit": min(PAGE, limit - offset)})
            rows = (body or {}).get("data")
            if not isinstance(rows, list):
                break
            out += [r[key] for r in rows if isinstance(r, dict) and isinstance(r.get(key), dict)]
            nxt = (body or {}).get("next")
            if not isinstance(nxt, int) or nxt <= offset or not rows:
                break
            offset = nxt
        return out

    def citations(self, paper_id: str, limit: int = MAX_CITING) -> list[dict[str, Any]]:
        """The citing papers (`citingPaper` objects) of `/paper/{id}/citations`, paged up to `limit`."""
        return self._pages(f"paper/{paper_id}/citations", CITING_FIELDS, limit, "citingPaper")

    def references(self, paper_id: str) -> list[dict[str, Any]]:
        """The referenced papers (`citedPaper` objects) of `/paper/{id}/references` (first page)."""
        return self._pages(f"paper/{paper_id}/references", REFERENCE_FIELDS, PAGE, "citedPaper")


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read(4096) or b"{}")
    except (ValueError, OSError):
        return ""
    message = data.get("error") or data.get("message") if isinstance(data, dict) else None
    return f": {str(message)[:120]}" if message else ""


# -- matching -----------------------------------------------------------------------------------------


def norm_title(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def same_title(a: str, b: str) -> bool:
    """Titles equal up to case, punctuation and spacing (a subtitle after a colon may be missing on one side)."""
    na, nb = norm_title(a), norm_title(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    short, long_ = sorted((na, nb), key=len)
    return len(short) >= 20 and long_.startswith(short) and len(short) >= 0.6 * len(long_)


_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}|\\^`\[\]]+)", re.I)


def find_doi(paper: Paper) -> str | None:
    """The paper's own DOI, when its front matter or links print one (references are not looked at)."""
    for url in paper.urls:
        match = re.match(r"https?://(?:dx\.)?doi\.org/(10\.\S+)", url, re.I)
        if match:
            return _trim_doi(urllib.parse.unquote(match.group(1)))
    head = "\n".join([paper.abstract, *paper.footnotes[:5], *(s.text[:3000] for s in paper.sections[:1])])
    match = re.search(r"(?:doi\s*:?\s*|doi\.org/)" + _DOI.pattern, head, re.I)
    return _trim_doi(match.group(1)) if match else None


def _trim_doi(doi: str) -> str:
    return doi.rstrip(".,;:)]}'\"")


def external_link(ids: dict[str, Any] | None, fallback: str = "") -> str:
    """The best public link for a paper: arXiv abs page, else doi.org, else `fallback` (its S2 page)."""
    ids = ids if isinstance(ids, dict) else {}
    if ids.get("ArXiv"):
        return f"https://arxiv.org/abs/{ids['ArXiv']}"
    if ids.get("DOI"):
        return f"https://doi.org/{ids['DOI']}"
    return fallback


_REF_ARXIV = re.compile(r"(?:arxiv\s*[:.]?\s*(?:abs/)?|arxiv\.org/(?:abs|pdf)/)"
                        r"(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.I)


def reference_link(reference: str) -> str:
    """A link printed in a reference's own text (an arXiv id or a DOI), or ""."""
    match = _REF_ARXIV.search(reference)
    if match:
        return f"https://arxiv.org/abs/{match.group(1)}"
    match = _DOI.search(reference)
    return f"https://doi.org/{_trim_doi(match.group(1))}" if match else ""


def rank_citing(rows: list[dict[str, Any]], top: int = TOP_CITING) -> list[CitingPaper]:
    """The `top` most-cited citing papers, highest first (ties: newer first, then by title)."""
    papers = []
    for row in rows:
        title = re.sub(r"\s+", " ", str(row.get("title") or "")).strip()
        if not title:
            continue
        count = row.get("citationCount")
        year = row.get("year")
        papers.append(CitingPaper(title, year if isinstance(year, int) else None,
                                  count if isinstance(count, int) else 0,
                                  external_link(row.get("externalIds"), str(row.get("url") or ""))))
    papers.sort(key=lambda c: (-c.citations, -(c.year or 0), c.title.lower()))
    unique: dict[str, CitingPaper] = {}
    for citing in papers:  # S2 sometimes lists one paper twice (preprint and proceedings): keep the first
        unique.setdefault(norm_title(citing.title), citing)
    return list(unique.values())[:top]


# -- orchestration ------------------------------------------------------------------------------------

T = TypeVar("T")


class _Task(Generic[T]):
    """A function running on a daemon thread (a lookup that outlives its deadline never holds up the exit)."""

    def __init__(self, name: str, fn: Callable[[], T]) -> None:
        self.started = time.monotonic()
        self._done = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller of result()
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name=f"enrich-{name}", daemon=True).start()

    def result(self, limit: float) -> T:
        """The function's result; raises its exception, or TimeoutError past `limit` seconds since the start."""
        if not self._done.wait(max(0.0, self.started + limit - time.monotonic())):
            raise TimeoutError
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


@dataclass
class S2Result:
    as_of: str
    record: dict[str, Any]
    citing: list[dict[str, Any]] = field(default_factory=list)
    references: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def lookup_s2(client: S2Client, arxiv_id: str | None, doi: str | None, title: str | None) -> S2Result | None:
    """Find the paper (arXiv id, else DOI, else exact title match), then its citing and referenced papers.

    None when Semantic Scholar does not know the paper; EnrichError when the lookup itself failed.
    """
    when, record = 0.0, None
    if arxiv_id:
        when, record = client.paper("ARXIV:" + re.sub(r"v\d+$", "", arxiv_id))
    if record is None and doi:
        when, record = client.paper(f"DOI:{doi}")
    if record is None and title:
        when, record = client.match_title(title)
    if record is None or not record.get("paperId"):
        return None
    result = S2Result(datetime.fromtimestamp(when, UTC).date().isoformat(), record)
    paper_id = str(record["paperId"])
    try:
        result.citing = client.citations(paper_id)
    except EnrichError as exc:
        result.problems.append(f"citing papers: {exc}")
    try:
        result.references = client.references(paper_id)
    except EnrichError as exc:
        result.problems.append(f"references: {exc}")
    return result


class EnrichJob:
    """The lookups for one paper: started as soon as an id is known, collected by `finish`."""

    def __init__(self, settings: Settings, source: Source | None = None, *, equations: bool = True,
                 cached_only: bool = False) -> None:
        self.settings = settings
        self.cached_only = cached_only
        self.client = S2Client(settings.cache_dir, cached_only=cached_only, max_age=settings.lookup_age)
        self.problems: list[str] = []
        self.want_equations = equations
        self._s2: _Task[S2Result | None] | None = None
        self._s2_by_id = False
        self._tex: _Task[tuple[list[Equation], list[str]]] | None = None
        # The e-print waits for finish(): it shares arXiv's request spacing with the metadata and the PDF, and
        # the draft needs the PDF first.
        self._tex_id: str | None = None
        if source is not None and source.kind == "arxiv":
            self._start_s2(source.value, None, None)
            self._s2_by_id = True
            self._tex_id = source.arxiv_key

    def _start_s2(self, arxiv_id: str | None, doi: str | None, title: str | None) -> None:
        client = self.client
        self._s2 = _Task("s2", lambda: lookup_s2(client, arxiv_id, doi, title))

    def _start_tex(self, arxiv_id: str) -> None:
        if self.want_equations:
            cache_dir, cached_only, age = self.settings.cache_dir, self.cached_only, self.settings.lookup_age
            self._tex = _Task("eprint", lambda: source_equations(arxiv_id, cache_dir, cached_only=cached_only,
                                                                 max_age=age))

    def finish(self, paper: Paper) -> Paper:
        """Wait (up to the deadline) for what was started, start what only the extracted paper made possible,
        and set `paper.enrichment`. Failures end up in `warning()`, never in an exception."""
        if self._s2 is None:
            self._start_s2(paper.arxiv_id, find_doi(paper), paper.title)
        if self._tex is None and (self._tex_id or paper.arxiv_id):
            self._start_tex(self._tex_id or str(paper.arxiv_id))
        enrichment = Enrichment()
        s2 = self._collect("Semantic Scholar", self._s2)
        if s2 is None and self._s2_by_id and not self.problems:
            # S2 does not know the arXiv id: try the DOI the PDF prints, then the title.
            self._start_s2(None, find_doi(paper), paper.title)
            s2 = self._collect("Semantic Scholar", self._s2)
        if s2 is not None:
            _apply_s2(enrichment, s2, paper)
            self.problems += [f"Semantic Scholar {p}" for p in s2.problems]
        elif not any(p.startswith("Semantic Scholar") for p in self.problems):
            self.problems.append("Semantic Scholar does not know this paper (no citation data)")
        self.add_reference_text_links(enrichment, paper)
        if self._tex is not None:
            tex = self._collect("arXiv source", self._tex)
            if tex is not None:
                enrichment.equations, enrichment.source_sections = tex
        paper.enrichment = enrichment
        return paper

    @staticmethod
    def add_reference_text_links(enrichment: Enrichment, paper: Paper) -> None:
        """Links printed in the references themselves (an arXiv id, a DOI), keyed by the whole reference."""
        for reference in paper.references:
            link = reference_link(reference)
            if link:
                enrichment.reference_links.setdefault(norm_title(reference), link)

    def _collect(self, what: str, task: _Task[T] | None) -> T | None:
        if task is None:
            return None
        try:
            return task.result(deadline())
        except TimeoutError:
            self.problems.append(f"{what} did not answer within {deadline():.0f}s")
        except EnrichError as exc:
            self.problems.append(f"{what}: {exc}")
        except Exception as exc:  # a bug or an odd answer: the draft goes on without this data
            log.debug("%s lookup failed", what, exc_info=True)
            self.problems.append(f"{what}: {type(exc).__name__}: {exc}")
        return None

    def warning(self) -> str | None:
        """One line for stderr when something could not be looked up, else None."""
        if not self.problems:
            return None
        return "enrichment incomplete: " + "; ".join(self.problems) + " (the draft goes on without it)"


def _apply_s2(enrichment: Enrichment, s2: S2Result, paper: Paper) -> None:
    record = s2.record
    count = record.get("citationCount")
    enrichment.citation_count = count if isinstance(count, int) else None
    influential = record.get("influentialCitationCount")
    enrichment.influential_citations = influential if isinstance(influential, int) else None
    enrichment.as_of = s2.as_of
    enrichment.s2_url = str(record.get("url") or "")
    enrichment.cited_by = rank_citing(s2.citing)
    enrichment.cited_by_scanned = len(s2.citing)
    for cited in s2.references:
        link = external_link(cited.get("externalIds"))
        title = norm_title(str(cited.get("title") or ""))
        if link and title:
            enrichment.reference_links[title] = link


def start_enrichment(source: str, settings: Settings, *, equations: bool = True,
                     cached_only: bool = False) -> EnrichJob:
    """Start the lookups that the source string alone allows (an arXiv id: all of them)."""
    try:
        parsed: Source | None = parse_source(source)
    except InputError:  # a bad source fails in load_source, with the proper message
        parsed = None
    return EnrichJob(settings, parsed, equations=equations, cached_only=cached_only)


def cached_enrichment(source: str, paper: Paper, settings: Settings) -> bool:
    """Set `paper.enrichment` from what earlier lookups left in the cache, making no request (a dry run shows the
    prompts a draft would send); True when the cache held any of it."""
    job = start_enrichment(source, settings, cached_only=True)
    job.finish(paper)
    found = paper.enrichment
    return found is not None and (found.citation_count is not None or bool(found.cited_by)
                                  or bool(found.equations))


def enrich_paper(paper: Paper, settings: Settings) -> str | None:
    """Look everything up for an already loaded paper (redo); returns the warning line, if any."""
    job = EnrichJob(settings)
    job.finish(paper)
    return job.warning()


# -- the data in the draft ---------------------------------------------------------------------------


_OFFLINE_IMPACT = re.compile(r"^- \*\(Offline mode cannot know later work[^\n]*\n?", re.M)


def cited_by_block(paper: Paper) -> str:
    """The most-cited citing papers as a list drafter adds to the impact section, marked as looked-up data."""
    e = paper.enrichment
    if e is None or not e.cited_by:
        return ""
    scope = (f" among the {e.cited_by_scanned:,} citing papers it returned" if e.citation_count
             and e.cited_by_scanned < e.citation_count else "")
    lines = [f"*Most-cited papers that cite this one, from Semantic Scholar ({e.as_of}){scope}; "
             "listed by drafter, not written by the model:*", ""]
    for c in e.cited_by:
        title = c.title.replace("[", "(").replace("]", ")")
        name = f"[{title}]({_md_url(c.url)})" if c.url else title
        lines.append(f"- {name} ({c.year or 'n.d.'}) - {c.citations:,} citations")
    return "\n".join(lines)


def _md_url(url: str) -> str:
    """A URL that cannot end a Markdown link early (DOIs may hold parentheses and spaces)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _link_for(text: str, paper: Paper) -> str:
    e = paper.enrichment
    if e is None:
        return ""
    wanted = norm_title(text)
    if len(wanted) < 12:
        return ""
    for title, link in e.reference_links.items():
        if len(title) >= 12 and (title in wanted or wanted in title):
            return link
    return ""


def _with_links(text: str, paper: Paper) -> str:
    """Further-reading bullets naming a referenced work get its arXiv or DOI link (when one is known)."""
    def bullet(match: re.Match[str]) -> str:
        line = match.group(0)
        if "](http" in line or "<http" in line:
            return line
        title = re.search(r"\*([^*]{8,300})\*", line)
        link = _link_for(title.group(1) if title else match.group(1), paper)
        if not link:
            return line
        label = link.removeprefix("https://").replace("arxiv.org/abs/", "arXiv:").replace("doi.org/", "doi:")
        if title:
            end = title.end()
            return f"{line[:end]} ([{label}]({_md_url(link)})){line[end:]}"
        return f"{line} ([{label}]({_md_url(link)}))"

    return re.sub(r"^\s*(?:[-*]|\d+\.)\s+(.+)$", bullet, text, flags=re.M)


OFFLINE_EQUATIONS = 6  # display equations an offline math section shows


def annotate_section(section_id: str, text: str, paper: Paper, source: str = "llm") -> str:
    """Add the looked-up data to a drafted section: the citing papers to `impact`, links to `further-reading`,
    and (offline, where no model read them) the source's first display equations to `math`."""
    if paper.enrichment is None:
        return text
    equations = paper.enrichment.equations
    if section_id == "math" and source != "llm" and equations:
        shown = "\n\n".join(f"$$\n{e.latex}\n$$" + (f"\n*({e.label})*" if e.label else "")
                             for e in equations[:OFFLINE_EQUATIONS])
        return (f"{text.rstrip()}\n\n*Display equations from the paper's arXiv LaTeX source (exact; "
                f"{min(len(equations), OFFLINE_EQUATIONS)} of {len(equations)}):*\n\n{shown}")
    if section_id == "impact":
        block = cited_by_block(paper)
        if block:
            text = _OFFLINE_IMPACT.sub("", text).rstrip()
            return f"{text}\n\n{block}"
    if section_id == "further-reading":
        return _with_links(text, paper)
    return text


__all__ = ["ENRICHED_SECTIONS", "EnrichError", "EnrichJob", "S2Client", "annotate_section", "cached_enrichment",
           "cited_by_block",
           "enrich_paper", "find_doi", "lookup_s2", "rank_citing", "reference_link", "same_title",
           "start_enrichment"]
