"""The front of a paper -> title, authors, abstract, year; first-page furniture kept out of every section."""

from __future__ import annotations

from pathlib import Path

from drafter.extract import load_paper
from drafter.extract.header import _find_authors
from drafter.extract.layout import Line, join_spans
from drafter.ingest import Span
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


def _year(texts: list[str], created: str, references: list[str]) -> tuple[int | None, str]:
    from types import SimpleNamespace

    from drafter.extract.header import pick_year
    from drafter.paper import Paper

    paper = Paper(title="T", references=references)
    pick_year(SimpleNamespace(metadata={"creationdate": created}), paper, texts, None, None)  # type: ignore[arg-type]
    return paper.year, paper.provenance.get("year", "")


def test_a_page_number_that_looks_like_a_year_is_not_the_year() -> None:
    refs = ["[1] A. Author. A paper. In Proc. of Things, 2016."]
    assert _year(["2001"], "D:20170601", refs) == (2017, "pdf-metadata")  # proceedings paged 2001-2010
    assert _year(["Proc. of Things 2017, Somewhere"], "", refs) == (2017, "pdf-layout")


def test_a_file_made_years_after_its_newest_reference_dates_the_paper_by_the_references() -> None:
    refs = ["[1] A. Author. A paper. 2015.", "[2] B. Author. Another. 2017.", "[3] C. Typo. 2030."]
    assert _year([], "D:20190301", refs) == (2018, "references-latest")  # an open-access copy made in 2019
    assert _year([], "D:20180301", refs) == (2018, "pdf-metadata")



def _line(y: float, *runs: tuple[str, float], x: float = 72.0) -> Line:
    """A byline line from (text, size) runs laid out left to right, marks raised small."""
    spans = []
    for text, size in runs:
        width = 0.5 * size * len(text)
        spans.append(Span(text, x, y, size, "Times-Roman", x + width))
        x += width + 0.3 * size
    return Line(join_spans(spans), 1, spans[0].x, spans[-1].x1, y, max(s for _, s in runs), 0.0, "Times-Roman",
                spans)


def test_authors_with_raised_affiliation_marks_and_the_affiliation_rows_under_them() -> None:
    names = _line(600, ("Flood Sung", 12), ("1", 8), ("Yongxin Yang", 12), ("3", 8), ("Li Zhang", 12), ("2", 8))
    affiliations = _line(588, ("1", 8), ("Queen Mary University of London", 12), ("2", 8), ("Oxford", 12))
    beside = _line(588, ("IST Austria", 12), x=400)  # its own line, on the affiliations' row
    assert _find_authors([names, affiliations, beside], None, None) == ["Flood Sung", "Yongxin Yang", "Li Zhang"]


def test_a_name_set_apart_by_marks_keeps_all_its_words() -> None:
    line = _line(600, ("Qiming Yuan", 10), ("* 1", 7), ("Henrique Ponde de Oliveira Pinto", 10), ("* 1", 7),
                 ("Jared Kaplan", 10), ("2", 7))
    assert _find_authors([line], None, None) == ["Qiming Yuan", "Henrique Ponde de Oliveira Pinto", "Jared Kaplan"]


def test_a_name_cut_at_a_spacing_accent_is_joined_and_the_accent_restored() -> None:
    head = _line(600, ("Tadas Baltru\u02c7", 11))
    rest = _line(600, ("saitis, Chaitanya Ahuja, and Louis-Philippe Morency", 11), x=head.x1 - 1)
    assert _find_authors([head, rest], None, None) == ["Tadas Baltru\u0161aitis", "Chaitanya Ahuja",
                                                       "Louis-Philippe Morency"]


def test_spaces_drawn_small_between_names_are_spaces_not_marks() -> None:
    line = _line(600, ("Yanghao", 10.6), (" ", 6.4), ("Li", 10.6), (" ", 6.4), ("a", 7.4), (",", 10.6), (" ", 6.4),
                 ("Naiyan", 10.6), (" ", 6.4), ("Wang", 10.6), (" ", 6.4), ("b", 7.4))
    assert _find_authors([line], None, None) == ["Yanghao Li", "Naiyan Wang"]


def test_the_title_the_metadata_names_wins_over_a_larger_journal_masthead(tmp_path: Path) -> None:
    from pdfgen import Doc, Text, make_pdf

    title = "Adaptive Things for Practical Study"
    page = [Text("Pattern Journal", 200, 700, 14), Text(title, 72, 640, 13.4, True),
            Text("Ada Lovelace, Alan Turing", 72, 615, 10.6), Text("1. Introduction", 72, 560, 10, True),
            *(Text(INTRO[i * 90:(i + 1) * 90], 72, 540 - 12 * i, 10) for i in range(12))]
    pdf = make_pdf(tmp_path / "p.pdf", [page, page[3:]], Doc(title=title))
    assert load_paper(pdf).title == title
    # without metadata: the masthead's name is also in the small print of the page, so it is not the title
    page.insert(0, Text("Pattern Journal 80 (2018) 109-117", 240, 740, 6.4))
    assert load_paper(make_pdf(tmp_path / "q.pdf", [page, page[4:]])).title == title


def test_a_letter_spaced_abstract_heading_and_the_copyright_line_that_ends_the_abstract(tmp_path: Path) -> None:
    from pdfgen import Text, make_pdf

    abstract = ["We study things with care and we find them good.", "Our results hold on every run we made."]
    page = [Text("A Study of Many Things", 72, 700, 17, True), Text("Ada Lovelace, Alan Turing", 72, 670, 11),
            Text("a b s t r a c t", 72, 640, 9), *(Text(t, 72, 625 - 10 * i, 7.2) for i, t in enumerate(abstract)),
            Text("\u00a9 2018 Elsevier Ltd. All rights reserved.", 300, 600, 7.2),
            Text("1. Introduction", 72, 570, 8, True),
            *(Text(INTRO[i * 90:(i + 1) * 90], 72, 555 - 10 * i, 8) for i in range(12))]
    paper = load_paper(make_pdf(tmp_path / "p.pdf", [page, page[6:]]))
    assert paper.abstract == " ".join(abstract)


def _nature_like(path: Path, abstract_size: float) -> Path:
    from pdfgen import Text, make_pdf

    summary = ["The practice of study involves finding patterns and using them to state results, and we show",
               "how a machine can help with this work in two areas of the field, with results that are new and",
               "that experts in both areas found useful; our work may serve as a model for such joint study."]
    lead = [INTRO[i * 80:(i + 1) * 80] for i in range(8)]
    page = [Text("Guiding Study with Machines", 72, 700, 20, True), Text("Ada Lovelace, Alan Turing", 72, 670, 8),
            *(Text(t, 72, 645 - 13 * i, abstract_size) for i, t in enumerate(summary)),
            *(Text(t, 72, 590 - 11 * i, 8.2) for i, t in enumerate(lead)),
            Text("Guiding intuition with machines", 72, 480, 9.8, True),
            *(Text(t, 72, 465 - 11 * i, 8.2) for i, t in enumerate(lead))]
    later = [Text("Topology", 72, 700, 9.8, True), *(Text(t, 72, 685 - 11 * i, 8.2) for i, t in enumerate(lead * 3))]
    return make_pdf(path, [page, later, later])


def test_an_unlabelled_abstract_under_the_byline_and_the_introduction_without_a_heading(tmp_path: Path) -> None:
    paper = load_paper(_nature_like(tmp_path / "p.pdf", 9.0))
    assert paper.abstract.startswith("The practice of study") and paper.abstract.endswith("such joint study.")
    first = paper.sections[0]
    assert first.title == "Guiding intuition with machines" and first.text.startswith("Things matter more")
    assert paper.authors == ["Ada Lovelace", "Alan Turing"]
    assert not [w for w in paper.warnings if "abstract" in w]


def test_prose_under_the_byline_set_like_the_body_is_not_taken_for_an_abstract(tmp_path: Path) -> None:
    paper = load_paper(_nature_like(tmp_path / "p.pdf", 8.2))
    assert paper.abstract == ""
    assert [w for w in paper.warnings if w.startswith("no abstract found")]


def test_acm_bylines_name_in_capitals_then_its_affiliation() -> None:
    lines = [_line(600, ("JANE DOE, Acme Robotics, USA", 10)), _line(588, ("ANNA LEE, Stanford University, USA", 10))]
    assert _find_authors(lines, None, None) == ["Jane Doe", "Anna Lee"]


def test_a_name_broken_across_byline_lines_after_its_particle() -> None:
    lines = [_line(600, ("Tim Brown", 10), ("1", 7), ("Cyprien de", 10)),
             _line(588, ("Masson d'Autume", 10), ("2", 7), ("Sam Smith", 10), ("1", 7))]
    assert _find_authors(lines, None, None) == ["Tim Brown", "Cyprien de Masson d'Autume", "Sam Smith"]


def test_inline_affiliation_digits_after_commas_and_a_spaced_accent() -> None:
    lines = [_line(600, ("Naftali Tishby,1,2 Fernando Pereira,3 and Tadas Baltru\u02c7 saitis1", 12))]
    assert _find_authors(lines, None, None) == ["Naftali Tishby", "Fernando Pereira", "Tadas Baltru\u0161aitis"]


def test_a_cover_page_gives_neither_the_title_authors_nor_the_year(tmp_path: Path) -> None:
    cover = ["Accepted manuscript of the paper below.", "Downloaded on 14 March 2023 by a reader",
             "Personal use of this material is permitted."]
    pdf = make_paper(tmp_path / "p.pdf", sections=[("1 Introduction", INTRO), ("2 Method", INTRO)],
                     cover_page=cover, references=["[1] A. Author. A paper. In Proc. of Things, 2016."])
    paper = load_paper(pdf)
    assert paper.title == "A Study of Things" and paper.authors == ["Ada Lovelace", "Alan Turing"]
    assert paper.abstract.startswith("We study things")
    assert paper.year != 2023


def test_the_abstract_after_a_title_page_and_a_notice_page(tmp_path: Path) -> None:
    from pdfgen import Text, make_pdf

    title = [Text("A Long Report on Many Things", 72, 600, 20, True), Text("Ada Lovelace, Alan Turing", 72, 560, 12)]
    notice = [Text("This report was written for the people who fund it and for nobody else.", 72, 600, 10)]
    summary = [Text("Abstract", 72, 700, 12, True), Text("We study things and find that they are good.", 72, 680, 10),
               Text("1 Introduction", 72, 640, 12, True),
               *(Text(INTRO[i * 90:(i + 1) * 90], 72, 620 - 12 * i, 10) for i in range(12))]
    paper = load_paper(make_pdf(tmp_path / "p.pdf", [title, notice, summary, summary[2:]]))
    assert paper.abstract == "We study things and find that they are good."
    assert paper.sections[0].title == "Introduction"
    assert paper.authors == ["Ada Lovelace", "Alan Turing"]  # a byline larger than the body is no heading



def test_an_abstract_cut_mid_sentence_at_the_page_foot_goes_on_at_the_next_page(tmp_path: Path) -> None:
    from pdfgen import Text, make_pdf

    words = (INTRO + " " + INTRO).split()
    rows = [" ".join(words[i:i + 13]) for i in range(0, len(words), 13)]
    cut = next(k for k in range(len(rows) - 2, 0, -1) if not rows[k - 1].endswith("."))  # page 1 ends mid-sentence
    first = [Text("A Study of Long Abstracts", 72, 720, 17, True), Text("Ada Lovelace, Alan Turing", 72, 695, 11),
             Text("Abstract", 72, 670, 12, True), *(Text(r, 72, 650 - 12 * i, 10) for i, r in enumerate(rows[:cut]))]
    rest = [Text(r, 72, 720 - 12 * i, 10) for i, r in enumerate(rows[cut:])]
    body = [Text("1 Introduction", 72, 400, 12, True),
            *(Text(INTRO[i * 90:(i + 1) * 90], 72, 380 - 12 * i, 10) for i in range(12))]
    paper = load_paper(make_pdf(tmp_path / "p.pdf", [first, rest + body, body]))
    assert paper.abstract.endswith(rows[-1]) and len(paper.abstract.split()) == len(words)
