"""What extraction could not find -> one warning line each, kept on the Paper, printed by new and inspect."""

from __future__ import annotations

import json
from pathlib import Path

from cliutil import cli
from drafter.extract import load_paper
from drafter.extract.diagnose import NO_ABSTRACT, diagnose
from drafter.paper import Figure, Paper, Section
from drafter.sources import ArxivMeta, Fetched, Source, finish_paper
from pdfgen import make_paper

PROSE = "We measure the thing carefully and report what we saw on every run. " * 6


def _paper(**kwargs) -> Paper:
    base = {"title": "T", "abstract": "We study things.", "pages": 8,
            "sections": [Section("Introduction", 1, 1, PROSE), Section("Method", 1, 2, PROSE),
                         Section("Results", 1, 4, PROSE)]}
    return Paper(**{**base, **kwargs})


def test_a_complete_paper_draws_no_warning() -> None:
    assert diagnose(_paper()) == []


def test_missing_abstract_is_one_line() -> None:
    lines = diagnose(_paper(abstract=""))
    assert len(lines) == 1 and lines[0].startswith(NO_ABSTRACT)


def test_no_headings_and_a_single_heading_are_reported() -> None:
    assert "no section headings" in diagnose(_paper(sections=[]))[0]
    assert "only one top-level section" in diagnose(_paper(sections=[Section("Introduction", 1, 1, PROSE)]))[0]


def test_a_table_of_contents_taken_as_sections_is_reported() -> None:
    toc = [Section(name, 1, 2, "") for name in ("Introduction", "Background", "Method", "Experiments",
                                                 "Discussion", "Conclusion")]
    lines = diagnose(_paper(sections=toc))
    assert len(lines) == 1 and "table of contents" in lines[0] and "6 headings" in lines[0]


def test_a_last_section_swallowing_the_body_is_reported() -> None:
    sections = [Section("Introduction", 1, 1, PROSE), Section("Metrics", 1, 2, PROSE * 80)]
    assert "'Metrics' holds" in diagnose(_paper(sections=sections))[0]
    sections.reverse()  # a long first section (a long introduction) is not a sign of missed headings
    assert diagnose(_paper(sections=sections)) == []


def test_figures_cited_without_a_caption_are_named_once() -> None:
    text = "As Figure 2 and Fig. 3 show, and Table 1 lists; Figure 2 again; Extended Data Table 1 lists it."
    paper = _paper(sections=[*_paper().sections, Section("Analysis", 1, 5, text)],
                   figures=[Figure("Figure 3", "A plot.", 5)], tables=[Figure("Table 1", "Rows.", 9)])
    lines = diagnose(paper)
    assert lines == ["no caption found for Figure 2, Extended Data Table 1 (cited in the text): the draft cannot "
                     "show or describe them"]


def test_the_arxiv_abstract_clears_the_no_abstract_warning(tmp_path: Path) -> None:
    paper = _paper(abstract="")
    paper.warnings = diagnose(paper)
    meta = ArxivMeta("1234.5678", "v1", "T", ["A B"], "2020-01-01", "2020-01-01", [], "We study.", "")
    finished = finish_paper(paper, Fetched(Source("arxiv", "1234.5678", "1234.5678"), tmp_path / "x.pdf", meta))
    assert finished.abstract == "We study." and finished.warnings == []


def test_extraction_keeps_the_warning_and_inspect_and_new_print_it(tmp_path: Path) -> None:
    pdf = make_paper(tmp_path / "p.pdf", abstract="", sections=[("1 Introduction", PROSE), ("2 Method", PROSE)])
    paper = load_paper(pdf, tmp_path / "cache")
    assert [w for w in paper.warnings if w.startswith(NO_ABSTRACT)]
    assert load_paper(pdf, tmp_path / "cache").warnings == paper.warnings  # cached with the Paper
    run = cli("inspect", pdf, "--json", "--no-enrich")
    assert run.code == 0
    assert [w for w in json.loads(run.stdout)["warnings"] if w.startswith(NO_ABSTRACT)]
    human = cli("inspect", pdf, "--no-enrich")
    assert sum(NO_ABSTRACT in line for line in human.stderr.splitlines()) == 1
    new = cli("new", pdf, "--offline", "--no-figures", "-o", tmp_path / "d.md")
    assert new.code == 0 and sum(NO_ABSTRACT in line for line in new.stderr.splitlines()) == 1


def test_a_supplement_in_a_file_of_its_own_is_not_a_missing_caption() -> None:
    text = "See Supplementary Figure 4 and Supplementary Table 2 for the runs, and Figure 1 for the model."
    paper = _paper(sections=[*_paper().sections, Section("Analysis", 1, 5, text)],
                   figures=[Figure("Figure 1", "The model.", 2)])
    assert diagnose(paper) == []
    # a PDF that carries its supplement is held to it
    paper.figures.append(Figure("Supplementary Figure 1", "More runs.", 20))
    assert diagnose(paper) == ["no caption found for Supplementary Figure 4, Supplementary Table 2 (cited in the "
                               "text): the draft cannot show or describe them"]
