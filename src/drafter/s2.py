"""Semantic Scholar Graph API -> JSON: the few calls drafter makes (a paper, its citing and referenced papers),
spaced, retried and cached on disk.

Base URL from DRAFTER_S2_API (default the public Graph API v1), an optional key from DRAFTER_S2_API_KEY or
S2_API_KEY sent as `x-api-key` (never printed, never part of a cache key). Requests are spaced `s2_delay()`
seconds apart (DRAFTER_S2_DELAY, default 1), retried on 429 (honouring Retry-After), 5xx and dropped
connections, and their answers cached under `<cache_dir>/enrich` for `max_age` seconds (Settings.lookup_age).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from drafter import web
from drafter.errors import EnrichError
from drafter.files import atomic_write
from drafter.llm import parse_retry_after
from drafter.matching import same_title

log = logging.getLogger(__name__)

DEFAULT_S2_API = "https://api.semanticscholar.org/graph/v1"
PAPER_FIELDS = "title,year,venue,citationCount,influentialCitationCount,externalIds,url"
CITING_FIELDS = "title,year,citationCount,externalIds,url"
REFERENCE_FIELDS = "title,externalIds"
PAGE = 1000  # the Graph API's largest page for citations and references
MAX_CITING = 2000  # citing papers ranked at most (two pages); the count itself is always the full one
REQUEST_TIMEOUT = 10.0  # seconds for one request
ATTEMPTS = 3
RETRY_WAIT = 0.5  # first backoff in seconds when the server gives no Retry-After; doubles each time
MAX_RETRY_AFTER = 15.0  # a longer Retry-After is not waited for: the draft goes on without the data
MAX_BODY = 20 * 1024 * 1024
DEFAULT_DELAY = 1.0
DEFAULT_AGE = 24 * 3600  # seconds a cached answer is reused (Settings.lookup_age)


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


_GATE = web.Gate(lambda: s2_delay())  # requests to Semantic Scholar, spaced


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
        _GATE.wait()
        self.requests += 1
        try:
            body, _ = web.get(url, "application/json", headers={"x-api-key": self._key} if self._key else None,
                              timeout=REQUEST_TIMEOUT, limit=MAX_BODY, deadline=REQUEST_TIMEOUT * ATTEMPTS)
        except web.TooLarge as exc:
            raise EnrichError("answer too large") from exc
        except web.TransferError as exc:
            raise EnrichError(str(exc)) from exc
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
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                raise EnrichError(f"cannot connect to {self.base} ({reason})") from exc  # retrying will not help
            raise _Retryable(f"no answer ({reason})") from exc
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




__all__ = ["S2Client", "S2Result", "lookup_s2", "s2_api", "s2_delay", "s2_key"]
