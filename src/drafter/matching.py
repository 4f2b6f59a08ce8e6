"""Titles, DOIs and links: which Semantic Scholar record is our paper, the link of a referenced work, the
most-cited citing papers. Pure functions, no I/O."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from drafter.paper import CitingPaper, Paper

TOP_CITING = 5


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


__all__ = ["external_link", "find_doi", "norm_title", "rank_citing", "reference_link", "same_title"]
