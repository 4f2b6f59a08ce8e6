"""Paper -> Enrichment: citation count and most-cited citing papers (Semantic Scholar), links for referenced
works, and the exact display equations of the arXiv LaTeX source; looked up beside extraction, never at the
draft's expense.

    job = start_enrichment("1706.03762", settings)   # lookups start now when the arXiv id is known
    paper = load_source("1706.03762", settings)      # meanwhile: download and extraction
    job.finish(paper)                                # paper.enrichment is set; job.warning() says what failed

The lookups run here; the Semantic Scholar client is drafter.s2, the matching of titles and links
drafter.matching, the Markdown the data becomes in the draft drafter.annotate.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from drafter.annotate import annotate_section, cited_by_block
from drafter.arxiv_source import source_equations
from drafter.config import Settings
from drafter.errors import EnrichError, InputError
from drafter.matching import external_link, find_doi, norm_title, rank_citing, reference_link
from drafter.paper import Enrichment, Equation, Paper
from drafter.s2 import S2Client, S2Result, lookup_s2
from drafter.sources import Source, parse_source

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 20.0  # seconds all lookups of one paper may take (DRAFTER_ENRICH_TIMEOUT)
ENRICHED_SECTIONS = ("impact", "further-reading", "math")


def deadline() -> float:
    try:
        return max(0.1, float(os.environ.get("DRAFTER_ENRICH_TIMEOUT") or DEFAULT_DEADLINE))
    except ValueError:
        return DEFAULT_DEADLINE


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


__all__ = ["ENRICHED_SECTIONS", "EnrichError", "EnrichJob", "annotate_section", "cached_enrichment",
           "cited_by_block", "enrich_paper", "start_enrichment"]
