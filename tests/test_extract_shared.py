"""Shared real papers (PDF + hand-checked JSON) -> extraction checks per field, table-driven."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from drafter.extract import load_paper
from drafter.paper import Paper
from drafter.text import fold_name

PAPERS = Path(__file__).resolve().parents[2] / "shared" / "papers"
SLUGS = sorted(p.stem for p in PAPERS.glob("*.pdf") if p.with_suffix(".json").exists()) if PAPERS.is_dir() else []


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _sentence(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold_name(text))


def _url(url: str) -> str:
    return re.sub(r"^(?:https?|ftp)://", "", url.lower()).removeprefix("www.").rstrip("/.")


@pytest.fixture(scope="session")
def extracted(tmp_path_factory) -> dict[str, tuple[Paper, dict]]:
    if not SLUGS:
        pytest.skip(f"shared papers not found at {PAPERS}")
    cache = tmp_path_factory.mktemp("paper-cache")
    out = {}
    for slug in SLUGS:
        truth = json.loads((PAPERS / f"{slug}.json").read_text(encoding="utf-8"))
        out[slug] = (load_paper(PAPERS / f"{slug}.pdf", cache), truth)
    return out


@pytest.fixture(params=SLUGS or ["(none)"])
def case(request, extracted) -> tuple[Paper, dict]:
    return extracted[request.param]


def test_title(case):
    paper, truth = case
    assert _norm(paper.title) == _norm(truth["title"])


def test_authors(case):
    paper, truth = case
    assert [fold_name(a) for a in paper.authors] == [fold_name(a) for a in truth["authors"]]


def test_year_and_venue(case):
    paper, truth = case
    if truth.get("venue_as_printed") or truth.get("arxiv_stamp"):
        assert paper.year == truth["year"]
    assert paper.venue == truth["venue"]


def test_arxiv_id_from_stamp(case):
    paper, truth = case
    stamp = truth.get("arxiv_stamp")
    if stamp:
        assert paper.arxiv_id and paper.arxiv_id in stamp
    else:
        assert paper.arxiv_id is None


def test_abstract_first_and_last_sentence(case):
    paper, truth = case
    abstract = _sentence(paper.abstract)
    assert _sentence(truth["abstract_first_sentence"]) in abstract
    assert _sentence(truth["abstract_last_sentence"]) in abstract
    assert "\ufb01" not in paper.abstract and "\ufb02" not in paper.abstract


def test_top_level_sections_in_order(case):
    paper, truth = case
    body = [_norm(s.title) for s in paper.sections if s.level == 1 and not s.appendix]
    assert body == [_norm(s) for s in truth["sections"]]


def test_appendix_sections_kept_apart(case):
    paper, truth = case
    appendix = [_norm(s.title) for s in paper.sections if s.level == 1 and s.appendix]
    assert appendix == [_norm(s) for s in truth.get("appendix_sections", [])]


def test_sections_have_text_and_pages(case):
    paper, _ = case
    for sec in paper.sections:
        assert 1 <= sec.page <= paper.pages
        assert "\ufb01" not in sec.text
    assert sum(len(s.text) for s in paper.sections) > 10000


def test_reference_count_within_ten_percent(case):
    paper, truth = case
    want = truth["approx_reference_count"]
    assert abs(len(paper.references) - want) <= 0.1 * want


def test_urls_recalled(case):
    paper, truth = case
    found = {_url(u) for u in paper.urls}
    missing = [u for u in truth.get("urls", []) if _url(u) not in found]
    assert not missing
