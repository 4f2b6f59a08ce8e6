"""Shared real papers (PDF + hand-checked JSON) -> extraction checks per field, table-driven.

The 8 papers of ../shared/papers are checked field by field below. All 32 (../shared/papers-wide too) are
scored by bench/extraction.py's own scorer (one definition of "found"), one test per paper and field; the
fields the bench reports as failing today are xfail (KNOWN_GAPS), so a fix shows as XPASS and a regression
on any field met today fails. Without ../shared the tests skip; with CI set they fail instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from drafter.extract import load_paper
from drafter.paper import Paper
from drafter.text import fold_name

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAPERS = SHARED / "papers"
WIDE = SHARED / "papers-wide"


def _slugs(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.pdf") if p.with_suffix(".json").exists()) if folder.is_dir() else []


SLUGS = _slugs(PAPERS)
ALL = {slug: PAPERS for slug in SLUGS} | {slug: WIDE for slug in _slugs(WIDE)}


def _missing(what: str) -> None:
    """Skip without the shared papers; under CI their absence is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} not found at {SHARED} (CI is set: the shared papers must be there)")
    pytest.skip(f"{what} not found at {SHARED}")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _sentence(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold_name(text))


def _url(url: str) -> str:
    return re.sub(r"^(?:https?|ftp)://", "", url.lower()).removeprefix("www.").rstrip("/.")


@pytest.fixture(scope="session")
def extracted(tmp_path_factory) -> dict[str, tuple[Paper, dict]]:
    if not ALL:
        _missing("shared papers (papers/, papers-wide/)")
    cache = tmp_path_factory.mktemp("paper-cache")
    out = {}
    for slug, folder in ALL.items():
        truth = json.loads((folder / f"{slug}.json").read_text(encoding="utf-8"))
        out[slug] = (load_paper(folder / f"{slug}.pdf", cache), truth)
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


# -- figures, tables, footnotes, paragraphs ------------------------------------------------------------

_LINE_LABEL = re.compile(r"^\f?\s*(Figure|Fig\.|Table)\s*(\d{1,2})\b", re.M)


def _pdftotext(slug: str) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run([exe, str(PAPERS / f"{slug}.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout


def _label(kind: str, number: str) -> str:
    return f"{'Table' if kind == 'Table' else 'Figure'} {number}"


def test_captions_found_against_pdftotext(extracted):
    """Recall >= 0.9 of the labels pdftotext shows at line starts, over all papers; none invented."""
    want = found = 0
    for slug in SLUGS:
        paper, _ = extracted[slug]
        text = _pdftotext(slug)
        labels = {_label(k, n) for k, n in _LINE_LABEL.findall(text)}
        printed = {_label(k, n) for k, n in re.findall(r"(Figure|Fig\.|Table)\s*(\d{1,2})\b", text)}
        ours = [f.label for f in (*paper.figures, *paper.tables)]
        assert len(ours) == len(set(ours)), slug
        assert not set(ours) - printed, (slug, set(ours) - printed)
        want += len(labels)
        found += len(labels & set(ours))
    assert found >= 0.9 * want


def test_no_caption_or_table_row_left_in_section_text(case):
    paper, _ = case
    prose = _sentence(" ".join(s.text for s in paper.sections))
    for f in (*paper.figures, *paper.tables):
        assert _sentence(f.caption[:60]) not in prose, f.label
        for row in f.content.splitlines():
            if row.count("  ") >= 2 and len(_sentence(row)) >= 20:
                assert _sentence(row) not in prose, (f.label, row)
    for note in paper.footnotes:
        if len(note.split()) >= 6:  # (a bare URL footnote may also be printed in the text)
            assert _sentence(note) not in prose, note


def test_figures_and_tables_in_document_order_with_captions_and_boxes(case):
    paper, _ = case
    for floats in (paper.figures, paper.tables):
        assert [f.page for f in floats] == sorted(f.page for f in floats)
        for f in floats:
            assert re.fullmatch(r"(Figure|Table) \d{1,2}", f.label)
            assert len(f.caption) > 5 and not re.match(r"(?i)(figure|fig\.|table)\s*\d", f.caption)
            assert f.bbox is not None and f.bbox[0] < f.bbox[2] and f.bbox[1] < f.bbox[3]
    assert paper.figures or paper.tables


def test_paragraphs_survive(case):
    paper, _ = case
    body = [s for s in paper.sections if s.text and not s.appendix]
    paragraphs = [p for s in body for p in s.text.split("\n\n") if p.strip()]
    assert len(paragraphs) >= 1.5 * len(body)  # sections of several paragraphs, not one block each
    assert all(not p.startswith(" ") and "\n" not in p for p in paragraphs)


def test_footnote_cut_at_a_page_foot_goes_on_at_the_next(extracted):
    if "bert" not in extracted:
        _missing("bert.pdf among the shared papers")
    paper, _ = extracted["bert"]
    note = next(n for n in paper.footnotes if n.startswith("We note that in the literature"))
    assert note.endswith("since it can be used for text generation.")
    assert "left-context-only version" not in " ".join(s.text for s in paper.sections)


# -- all 32 papers, scored as bench/extraction.py scores them ---------------------------------------------

def _bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "extraction.py"
    spec = importlib.util.spec_from_file_location("bench_extraction", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
# field -> the bench's failure names that count against it
FIELDS = {
    "title": ("title",), "authors": ("authors",), "year": ("year",), "abstract": ("abstract.first", "abstract.last"),
    "sections": ("sections",), "subsections": ("subsec",), "captions": ("captions", "invented"),
    "furniture": ("furniture",), "body-words": ("body.words",), "body-exact": ("body.words", "body.exact"),
}
SCHEMA2_ONLY = {"subsections", "captions", "furniture", "body-words", "body-exact"}
# What bench/extraction.py --fields text reports as failing today; remove a paper from here once it passes.
KNOWN_GAPS = {
    "title": set(),
    "authors": set(),
    "year": {"piggyback"},
    "abstract": set(),
    "sections": set(),
    "subsections": {"blockchain-access", "fast-pruning-1994"},
    "furniture": set(),
    "body-words": set(),
    "body-exact": set(),
}


def _cases() -> list:
    cases = []
    for slug, folder in ALL.items():
        schema = json.loads((folder / f"{slug}.json").read_text(encoding="utf-8")).get("schema") or 1
        for name in FIELDS:
            if name in SCHEMA2_ONLY and schema < 2:
                continue
            marks = [pytest.mark.xfail(reason="bench failure today", strict=False)] if slug in KNOWN_GAPS.get(
                name, ()) else []
            cases.append(pytest.param(slug, name, id=f"{slug}:{name}", marks=marks))
    return cases or [pytest.param("(none)", "title", id="(none)")]


@pytest.fixture(scope="session")
def scored(extracted) -> dict:
    out = {}
    for slug, (paper, truth) in extracted.items():
        res = BENCH.Result(slug, int(truth.get("schema") or 1))
        BENCH.score_header(paper, truth, res)
        BENCH.score_sections(paper, truth, res)
        BENCH.score_captions(paper, truth, res)
        BENCH.score_text(paper, truth, res)
        out[slug] = res
    return out


@pytest.mark.parametrize(("slug", "name"), _cases())
def test_ground_truth_field(scored, slug, name):
    if slug not in scored:
        _missing(slug)
    res = scored[slug]
    if name == "year" and not res.fields["year_printed"]:
        pytest.skip("the paper prints neither a venue nor an arXiv stamp")
    failures = [f"{kind}: {detail}" for kind, detail in res.failures if kind in FIELDS[name]]
    assert not failures, "\n".join(failures)


def test_bench_scorer_can_fail(extracted):
    """The scorer the field tests rely on reports a wrong title, a lost author and furniture in a section."""
    slug = next(s for s, (_, truth) in extracted.items() if truth.get("furniture"))
    paper, truth = extracted[slug]
    broken = Paper.from_dict(paper.to_dict())
    broken.title, broken.authors = "Something Else", broken.authors[1:]
    broken.sections[0].text += " " + truth["furniture"][0]
    res = BENCH.Result(slug, 2)
    BENCH.score_header(broken, truth, res)
    BENCH.score_text(broken, truth, res)
    kinds = {kind for kind, _ in res.failures}
    assert {"title", "authors", "furniture"} <= kinds


# Figures and offline drafts on the shared papers. Layouts that once failed: side (wrap) figures, a code
# listing set as text, a full-width figure over a column-wide caption, a figure a little wider than its column.
FIGURE_LAYOUTS = {"prototypical-networks": ["Figure 1", "Figure 2"], "codex": ["Figure 3"],
                  "math-intuition": ["Figure 1"], "gated-conv-lm": ["Figure 1"], "a-gem": ["Figure 9"]}


def test_figures_of_hard_layouts_are_exported_apart_and_not_thin(extracted, tmp_path):
    import hashlib

    from drafter.figures import export_figures
    if not all(slug in extracted for slug in FIGURE_LAYOUTS):
        _missing("the papers of FIGURE_LAYOUTS")
    for slug, labels in FIGURE_LAYOUTS.items():
        paper, truth = extracted[slug]
        result = export_figures(ALL[slug] / f"{slug}.pdf", paper.figures, tmp_path / slug)
        got = {im.figure.label: im for im in result.images}
        assert set(labels) <= set(got), (slug, result.warnings)
        assert set(got) <= {f["label"] for f in truth["figures"]}, slug  # never a table or an invented label
        digests = [hashlib.sha256(im.path.read_bytes()).hexdigest() for im in result.images]
        assert len(set(digests)) == len(digests), slug
        assert min(min(im.size) for im in result.images) >= 150, slug
    wide = export_figures(ALL["math-intuition"] / "math-intuition.pdf", extracted["math-intuition"][0].figures[:1],
                          tmp_path / "wide").images[0]
    assert wide.size[0] > 400 * 170 / 72  # both columns (each is 255 pt), not the caption's one


def test_offline_innovations_and_tags_of_the_shared_papers(extracted):
    from drafter.offline import draft_offline
    for slug, (paper, _) in extracted.items():
        innovations = draft_offline(paper, "innovations")
        assert "Key Contribution]" not in innovations and "#1: [" not in innovations, slug
        tags = draft_offline(paper, "tags")
        assert re.fullmatch(r"\*\*Tags\*\*: (#[A-Za-z0-9]{2,40} ?){4,10}", tags.strip()), (slug, tags)


def test_own_code_link_is_the_papers_not_a_library_it_uses(extracted):
    from drafter.assemble import own_code_links
    if "bert" not in extracted:
        _missing("bert")
    assert own_code_links(extracted["bert"][0]) == ["https://github.com/google-research/bert"]  # not tensor2tensor
    for slug, (paper, truth) in extracted.items():
        if truth.get("schema") == 2 and not truth.get("code_url"):
            assert own_code_links(paper) == [], slug  # packnet, piggyback: a dataset's repository is not theirs
