"""The front of a paper -> title, authors, abstract, year; first-page furniture kept out of every section."""

from __future__ import annotations

from pathlib import Path

from drafter.extract import load_paper
from pdfgen import make_paper

INTRO = ("Things matter more than anyone thought, and we show why in this paper with care. " * 12).strip()


def _intro(paper) -> str:
    return next(s.text for s in paper.sections if s.title == "Introduction")


def test_first_page_small_print_below_the_text_stays_out_of_the_introduction(tmp_path: Path) -> None:
    notes = ("Proceedings of the 40th Conference on Things, Somewhere, 2020.", "Copyright 2020 by the authors.",
             "E-mail: ada@example.org, alan@example.org")
    sections = [("1 Introduction", INTRO), ("2 Method", "\n\n".join([INTRO] * 5)), ("3 Results", INTRO)]
    pdf = make_paper(tmp_path / "p.pdf", sections=sections, columns=2, footnotes=notes)
    paper = load_paper(pdf)
    text = " ".join(s.text for s in paper.sections)
    assert "Things matter more" in _intro(paper)
    for note in notes:
        assert note[:30] not in text, note
