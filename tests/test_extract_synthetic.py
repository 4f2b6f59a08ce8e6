"""Generated PDFs (tests/pdfgen.py) -> extraction of each tricky case from issue 3."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import require_shared
from drafter import extract
from drafter.extract import extract_paper, load_paper
from drafter.ingest import read_pdf
from pdfgen import Doc, Text, make_paper, make_pdf, wrap

BODY = ("This paragraph is ordinary body text that explains the method in some detail and keeps going "
        "for a while so that the page looks like a real paper. ") * 6
REFS = [f"[{i}] A. Author and B. Writer. Paper number {i}. In Proceedings of Things, 2019." for i in range(1, 13)]
SECTIONS = [("1 Introduction", BODY), ("2 Method", BODY), ("3 Conclusion", BODY)]


def paper_of(path: Path, **kwargs):
    kwargs.setdefault("sections", SECTIONS)
    kwargs.setdefault("references", REFS)
    make_paper(path, **kwargs)
    return extract_paper(read_pdf(path))


def top(paper):
    return [s.title for s in paper.sections if s.level == 1 and not s.appendix]


# -- title ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("above", [
    ["Provided proper attribution is provided, Google hereby grants permission to",
     "reproduce the tables and figures in this paper solely for use in scholarly works."],
    ["Journal of Machine Learning Research 15 (2014) 1929-1958      Submitted 11/13; Published 6/14"],
    ["Published as a conference paper at ICLR 2018"],
])
def test_title_skips_notices_and_headers_above_it(tmp_path, above):
    paper = paper_of(tmp_path / "p.pdf", title="Learning to Learn Quickly", above_title=above)
    assert paper.title == "Learning to Learn Quickly"


def test_title_wrapped_over_two_lines_is_joined(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", title=["Dropout: A Simple Way to Prevent Neural Networks from",
                                               "Overfitting"])
    assert paper.title == "Dropout: A Simple Way to Prevent Neural Networks from Overfitting"


def test_title_after_cover_page(tmp_path):
    cover = ["This paper is included in the Proceedings of the",
             "11th USENIX Symposium on Operating Systems Design and Implementation.",
             "Open access to the Proceedings is sponsored by USENIX", "A Cover Title In Big Letters"]
    paper = paper_of(tmp_path / "p.pdf", title="Scaling Things with a Server", cover_page=cover)
    assert paper.title == "Scaling Things with a Server"
    assert top(paper) == ["Introduction", "Method", "Conclusion"]


def test_cover_sheet_that_repeats_the_title_is_skipped(tmp_path):
    # a download site's cover sheet in words no notice list knows: it is told by the title it repeats
    cover = ["See more of this publication and its authors at our site", "Learning Quickly from Few Examples",
             "Conference Paper \u00b7 July 2016", "CITATIONS 12    READS 345", "2 authors, including:",
             "Ada Lovelace    Alan Turing", "University of Somewhere    Other University"]
    paper = paper_of(tmp_path / "p.pdf", title="Learning Quickly from Few Examples", cover_page=cover)
    assert paper.title == "Learning Quickly from Few Examples"
    assert paper.authors == ["Ada Lovelace", "Alan Turing"]
    assert paper.abstract.startswith("We study things.")
    assert top(paper) == ["Introduction", "Method", "Conclusion"]


def test_year_on_the_first_page_wins_over_a_cover_sheets_upload_date(tmp_path):
    cover = ["See more of this publication and its authors at our site", "Learning Quickly from Few Examples",
             "All content following this page was uploaded on 29 August 2019."]
    paper = paper_of(tmp_path / "p.pdf", title="Learning Quickly from Few Examples", cover_page=cover,
                     footnotes=["Copyright 2016 by the author(s)."],
                     references=[f"[{i}] A. Author. Paper number {i}. Journal of Things." for i in range(1, 4)])
    assert paper.title == "Learning Quickly from Few Examples"
    assert paper.year == 2016


@pytest.mark.parametrize(("subject", "want"), [
    ("2017 IEEE Conference on Computer Vision and Pattern Recognition", 2017),  # the publisher's venue record
    ("Proceedings of the International Conference on Machine Learning 2018", 2018),
    ("Notes on 2017 experiments", 2016),  # a topic, not a venue: the newest reference decides
])
def test_year_from_the_venue_in_the_pdf_subject(tmp_path, subject, want):
    refs = [f"[{i}] A. Author. Paper number {i}. Journal of Things, 2015." for i in range(1, 4)]
    long_sections = [(heading, "\n\n".join([text] * 3)) for heading, text in SECTIONS]  # references on page 2
    paper = paper_of(tmp_path / "p.pdf", doc=Doc(subject=subject), references=refs, sections=long_sections)
    assert paper.year == want


def test_all_caps_title_gets_mixed_case(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", title="A STUDY OF SMALL CAPS TITLES IN PAPERS")
    assert paper.title == "A Study of Small Caps Titles in Papers"


def test_title_ligatures_expanded(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", title="Eﬃcient Fine-Tuning of ﬂows", font="Vera")
    assert "ﬁ" not in paper.title and "ﬂ" not in paper.title
    assert paper.title.endswith("flows")


def test_title_falls_back_to_metadata(tmp_path):
    pages = [[Text("lowercase words only here " * 3, 72, 700 - 14 * i, 10) for i in range(40)]]
    make_pdf(tmp_path / "p.pdf", pages, Doc(title="Metadata Title Of The Paper"))
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.title == "Metadata Title Of The Paper"
    assert paper.provenance["title"] == "pdf-metadata"


# -- authors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("printed", "want"), [
    ("Chelsea Finn 1  Pieter Abbeel 1 2  Sergey Levine 1", ["Chelsea Finn", "Pieter Abbeel", "Sergey Levine"]),
    ("Kaiming He      Xiangyu Zhang      Shaoqing Ren      Jian Sun",
     ["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"]),
    ("Mu Li*, David G. Andersen†, Jun Woo Park‡, and Amr Ahmed§",
     ["Mu Li", "David G. Andersen", "Jun Woo Park", "Amr Ahmed"]),
    ("Ada Lovelace and Alan Turing", ["Ada Lovelace", "Alan Turing"]),
    ("John Smith, Member, IEEE, and Jane Doe, Senior Member, IEEE", ["John Smith", "Jane Doe"]),
    ("Jean-Franc¸ois Crespo, Ga¨etan Hadjeres", ["Jean-François Crespo", "Gaëtan Hadjeres"]),
])
def test_author_lists(tmp_path, printed, want):
    paper = paper_of(tmp_path / "p.pdf", authors=printed)
    assert paper.authors == want


def test_author_superscript_marks_are_separators(tmp_path):
    items = [Text("A Paper About Grids", 72, 700, 17, True),
             Text("Chelsea Finn", 150, 660, 10, True), Text("1", 210, 664, 6),
             Text("Pieter Abbeel", 216, 660, 10, True), Text("1 2", 280, 664, 6),
             Text("Abstract", 72, 620, 12, True), Text("We do things. " * 8, 72, 600, 10),
             Text("1 Introduction", 72, 560, 12, True), Text(BODY[:90], 72, 540, 10)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.authors == ["Chelsea Finn", "Pieter Abbeel"]


def test_author_grid_drops_affiliations_and_emails(tmp_path):
    items = [Text("Attention Is Something", 150, 700, 17, True)]
    grid = [("Ashish Vaswani", "Google Brain", "avaswani@google.com"),
            ("Noam Shazeer", "Google Research", "noam@google.com"),
            ("Aidan N. Gomez", "University of Toronto", "aidan@cs.toronto.edu")]
    for i, (name, aff, mail) in enumerate(grid):
        x = 100 + 150 * i
        items += [Text(name, x, 650, 10, True), Text(aff, x, 638, 10), Text(mail, x, 626, 9, font="Courier")]
    items += [Text("Abstract", 280, 590, 12, True), Text("We do things. " * 8, 72, 570, 10),
              Text("1 Introduction", 72, 540, 12, True), Text(BODY[:90], 72, 520, 10)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.authors == ["Ashish Vaswani", "Noam Shazeer", "Aidan N. Gomez"]


# -- abstract, body text normalisation -----------------------------------------------------------------


def test_abstract_between_heading_and_first_section(tmp_path):
    abstract = "We propose a new method. It is fast. We show that it works on many tasks."
    paper = paper_of(tmp_path / "p.pdf", abstract=abstract)
    assert paper.abstract == abstract


def test_abstract_and_sections_normalised(tmp_path):
    body = "We ﬁnd that the eﬀect is ﬂat. The D´epartement helped Franc¸ois a lot."
    paper = paper_of(tmp_path / "p.pdf", font="Times", abstract="Conﬁguration matters.",
                     sections=[("1 Introduction", body), ("2 Method", BODY)])
    intro = paper.sections[0].text
    assert "Département" in intro and "François" in intro
    paper2 = paper_of(tmp_path / "q.pdf", font="Vera", abstract="Conﬁguration ﬁles matter.",
                      sections=[("1 Introduction", "We ﬁnd ﬂat eﬀects."), ("2 Method", BODY)])
    assert paper2.abstract == "Configuration files matter."
    assert "find flat" in paper2.sections[0].text


def test_line_end_hyphenation_joined(tmp_path):
    items = [Text("Hyphen Paper Title", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True),
             Text("Our method is com-", 72, 620), Text("patible with everything we tried.", 72, 608),
             Text("1 Introduction", 72, 570, 12, True), Text(BODY[:80], 72, 550)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.abstract == "Our method is compatible with everything we tried."


def test_unlabelled_abstract_alone_on_a_title_page(tmp_path):
    # a report's title page: title, byline, a date and one paragraph in the body's own font and size, no
    # "Abstract" heading; the body opens on the next page. The paragraph is the abstract.
    abstract = ("We define the relevant information in a signal as the information that this signal provides "
                "about another signal, and we squeeze it through a bottleneck formed by a limited set of "
                "codewords, which gives an exact set of self consistent equations for the coding rules.")
    first = [Text("The Bottleneck of Things", 72, 700, 17, True), Text("Ada Lovelace and Alan Turing", 72, 670, 14),
             Text("University of Somewhere", 72, 650, 12), Text("30 September 1999", 72, 620, 12)]
    lines = wrap(abstract, 400, 12)
    head, tail = lines[1].rsplit(" ", 1)  # one line drawn in two pieces on one baseline (an accent between)
    first += [Text(lines[0], 72, 560, 12), Text(head, 72, 544, 12),
              Text(tail, stringWidth(head, "Times-Roman", 12) + 66, 544, 12)]  # drawn back over it
    first += [Text(line, 72, 560 - 16 * i, 12) for i, line in enumerate(lines) if i > 1]
    body = [Text("1 Introduction", 72, 700, 17, True)]
    body += [Text(line, 72, 670 - 16 * i, 12) for i, line in enumerate(wrap(BODY, 400, 12))]
    body += [Text("2 Method", 72, 670 - 16 * 12, 17, True)]
    body += [Text(line, 72, 640 - 16 * (12 + i), 12) for i, line in enumerate(wrap(BODY[:300], 400, 12))]
    make_pdf(tmp_path / "p.pdf", [first, body])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.title == "The Bottleneck of Things"
    assert paper.abstract == abstract
    assert top(paper) == ["Introduction", "Method"]


# -- sections ---------------------------------------------------------------------------------------


def test_sections_levels_numbers_pages(tmp_path):
    sections = [("1 Introduction", BODY), ("2 Method", BODY), ("2.1 Details", BODY), ("2.1.1 More", BODY),
                ("3. Results", BODY * 3), ("4 Conclusion", BODY)]
    paper = paper_of(tmp_path / "p.pdf", sections=sections)
    assert [(s.title, s.level) for s in paper.sections] == [
        ("Introduction", 1), ("Method", 1), ("Details", 2), ("More", 3), ("Results", 1), ("Conclusion", 1)]
    assert all(s.text for s in paper.sections)
    assert paper.sections[0].page == 1
    assert paper.sections[-1].page >= 2


def test_numbered_list_items_and_captions_are_not_headings(tmp_path):
    body = BODY + "\n\n1. We first collect the data from many places.\n\n2. Then we train the model.\n\n" \
                  "Figure 2: The architecture of the model."
    paper = paper_of(tmp_path / "p.pdf", sections=[("1 Introduction", body), ("2 Method", BODY)])
    assert top(paper) == ["Introduction", "Method"]
    assert "Then we train the model" in paper.sections[0].text


def test_bold_numbered_list_with_wrong_sequence_is_not_a_heading(tmp_path):
    sections = [("1 Introduction", BODY), ("7 Billion Parameters", BODY), ("2 Method", BODY)]
    paper = paper_of(tmp_path / "p.pdf", sections=sections)
    assert top(paper) == ["Introduction", "Method"]


def test_appendix_after_references_kept_apart(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", appendix=[("A Proofs", BODY), ("A.1 Lemma", BODY), ("B Extra", BODY)])
    assert top(paper) == ["Introduction", "Method", "Conclusion"]
    assert [(s.title, s.level) for s in paper.sections if s.appendix] == [("Proofs", 1), ("Lemma", 2),
                                                                            ("Extra", 1)]


def test_acknowledgments_not_a_section(tmp_path):
    sections = [*SECTIONS, ("Acknowledgments", "We thank everyone.")]
    paper = paper_of(tmp_path / "p.pdf", sections=sections)
    assert top(paper) == ["Introduction", "Method", "Conclusion"]


def test_two_columns(tmp_path):
    sections = [("1 Introduction", BODY * 2), ("2 Related Work", BODY), ("3 Method", BODY * 2),
                ("4 Experiments", BODY * 2), ("5 Conclusion", BODY)]
    paper = paper_of(tmp_path / "p.pdf", sections=sections, columns=2)
    assert top(paper) == ["Introduction", "Related Work", "Method", "Experiments", "Conclusion"]
    assert len(paper.references) == len(REFS)


def test_running_headers_and_footers_are_skipped(tmp_path):
    doc = Doc(header="Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov", footer="Page {page}",
              header_from_page=1)
    paper = paper_of(tmp_path / "p.pdf", sections=[("1 Introduction", BODY * 6), ("2 Method", BODY * 6)],
                     doc=doc)
    text = " ".join(s.text for s in paper.sections)
    assert "Srivastava, Hinton" not in text and "Page 2" not in text
    assert paper.title == "A Study of Things"


def test_numbered_heading_opening_with_a_lower_case_term(tmp_path):
    # "3 t-Distributed ..." (t-SNE), "4 k-means ...", "5 iCaRL ...": a term that is written in lower case is
    # no reason to drop the heading, and with it the numbering of every heading after it
    sections = [("1 Introduction", BODY), ("2 Background", BODY), ("3 t-Distributed Embeddings", BODY),
                ("4 k-means Clustering", BODY), ("5 iCaRL in Practice", BODY), ("6 Conclusion", BODY)]
    paper = paper_of(tmp_path / "p.pdf", sections=sections)
    assert top(paper) == ["Introduction", "Background", "t-Distributed Embeddings", "k-means Clustering",
                          "iCaRL in Practice", "Conclusion"]


# -- references -------------------------------------------------------------------------------------


def test_numbered_references(tmp_path):
    paper = paper_of(tmp_path / "p.pdf")
    assert len(paper.references) == 12
    assert paper.references[0].startswith("[1] A. Author")


@pytest.mark.parametrize("heading", ["REFERENCE", "Reference", "Reference List", "Bibliography"])
def test_reference_list_under_other_names(tmp_path, heading):
    paper = paper_of(tmp_path / "p.pdf", references_heading=heading)
    assert top(paper) == ["Introduction", "Method", "Conclusion"]
    assert len(paper.references) == 12
    assert "Paper number" not in paper.sections[-1].text  # the list is not read as the conclusion's text


def test_a_table_column_headed_reference_is_not_the_reference_list(tmp_path):
    items = [Text("Reference Columns Paper", 72, 720, 17, True), Text("Ada Lovelace", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We compare methods.", 72, 648),
             Text("1 Introduction", 72, 620, 12, True), Text(BODY[:90], 72, 600),
             Text("METHOD", 100, 560, 7), Text("REFERENCE", 300, 560, 7), Text("YEAR", 420, 560, 7),
             Text("Ours", 100, 550, 7), Text("This paper", 300, 550, 7), Text("2016", 420, 550, 7),
             Text("2 Results", 72, 520, 12, True)]
    items += [Text(BODY[i:i + 90], 72, 500 - 12 * k) for k, i in enumerate(range(0, 900, 90))]
    make_pdf(tmp_path / "p.pdf", [items])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert top(paper) == ["Introduction", "Results"]


def test_author_year_references_split_by_hanging_indent(tmp_path):
    refs = [f"Author{chr(65 + i)}, A. and Writer, B. A rather long paper title that wraps onto the next line "
            f"of the list. In Proceedings of Things, pages 1-10, 201{i}." for i in range(9)]
    paper = paper_of(tmp_path / "p.pdf", references=refs)
    assert len(paper.references) == 9
    assert paper.references[3].startswith("AuthorD")


# -- URLs, arXiv, venue, year ------------------------------------------------------------------------


def test_url_broken_across_lines_is_rejoined(tmp_path):
    items = [Text("URL Paper Title", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
             Text("1 Introduction", 72, 590, 12, True),
             Text("Our code is at https://github.com/", 72, 570),
             Text("tensorflow/tensor2tensor. It is free.", 72, 558),
             Text("See also github.com/cbfinn/maml for more.", 72, 546)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert "https://github.com/tensorflow/tensor2tensor" in paper.urls
    assert "github.com/cbfinn/maml" in paper.urls


def test_link_annotations_give_urls_but_not_from_references(tmp_path):
    items = [Text("Link Paper Title", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
             Text("1 Introduction", 72, 590, 12, True), Text("Our project page.", 72, 570,
                                                           link="https://example.org/project")]
    refs = [Text("References", 72, 700, 12, True),
            Text("[1] A. Author. A paper. 2019.", 72, 680, link="https://arxiv.org/abs/1234.5678"),
            Text("[2] B. Author. Another paper. 2018.", 72, 668),
            Text("[3] C. Author. A third paper. 2017.", 72, 656)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)], refs])
    doc = read_pdf(tmp_path / "p.pdf")
    assert doc.pages[0].links == ["https://example.org/project"]
    paper = extract_paper(doc)
    assert "https://example.org/project" in paper.urls
    assert "https://arxiv.org/abs/1234.5678" not in paper.urls


def test_arxiv_stamp_gives_id_and_year(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", stamp="arXiv:1810.04805v2 [cs.CL] 24 May 2019")
    assert paper.arxiv_id == "1810.04805"
    assert paper.year == 2019
    assert paper.venue is None


@pytest.mark.parametrize(("footnote", "venue", "year"), [
    ("31st Conference on Neural Information Processing Systems (NIPS 2017), Long Beach, CA, USA.", "NIPS 2017", 2017),
    ("Proceedings of the 34th International Conference on Machine Learning, Sydney, Australia, PMLR 70, 2017.",
     "ICML 2017", 2017),
])
def test_venue_from_first_page_footnote(tmp_path, footnote, venue, year):
    paper = paper_of(tmp_path / "p.pdf", footnotes=[footnote],
                     stamp="arXiv:1706.03762v7 [cs.CL] 2 Aug 2023")
    assert (paper.venue, paper.year) == (venue, year)


def test_venue_in_header_above_title(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", above_title=["Published as a conference paper at ICLR 2018"])
    assert (paper.venue, paper.year) == ("ICLR 2018", 2018)


def test_outline_present_is_read(tmp_path):
    make_paper(tmp_path / "p.pdf", sections=SECTIONS, references=REFS,
               doc=Doc(outline=[("Introduction", 1, 1), ("Method", 1, 1), ("Details", 2, 2)]))
    doc = read_pdf(tmp_path / "p.pdf")
    assert [(o.title, o.level, o.page) for o in doc.outline] == [("Introduction", 1, 1), ("Method", 1, 1),
                                                                  ("Details", 2, 2)]


# -- cache ------------------------------------------------------------------------------------------


def test_load_paper_caches_and_skips_parsing(tmp_path, monkeypatch):
    pdf = tmp_path / "p.pdf"
    make_paper(pdf, sections=SECTIONS, references=REFS)
    cache = tmp_path / "cache"
    first = load_paper(pdf, cache)
    files = list((cache / "papers").glob("*.json"))
    assert len(files) == 1 and first.sha256 in files[0].name
    assert not [p for p in (cache / "papers").iterdir() if p.name.startswith(".tmp")]

    def boom(*_a, **_k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(extract, "read_pdf", boom)
    second = load_paper(pdf, cache)
    assert second.to_dict() == first.to_dict()


def test_cache_invalidated_by_extractor_version(tmp_path, monkeypatch):
    pdf = tmp_path / "p.pdf"
    make_paper(pdf, sections=SECTIONS, references=REFS)
    cache = tmp_path / "cache"
    load_paper(pdf, cache)
    monkeypatch.setattr(extract, "EXTRACTOR_VERSION", "test-next")
    calls = []
    real = extract.read_pdf
    monkeypatch.setattr(extract, "read_pdf", lambda p: calls.append(p) or real(p))
    load_paper(pdf, cache)
    assert calls


def test_corrupt_cache_entry_is_ignored(tmp_path):
    pdf = tmp_path / "p.pdf"
    make_paper(pdf, sections=SECTIONS, references=REFS)
    cache = tmp_path / "cache"
    paper = load_paper(pdf, cache)
    entry = next((cache / "papers").glob("*.json"))
    entry.write_text("{not json", encoding="utf-8")
    assert load_paper(pdf, cache).title == paper.title
    assert json.loads(entry.read_text(encoding="utf-8"))["title"] == paper.title


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="permissions are not enforced")
def test_unwritable_cache_dir_still_returns_paper(tmp_path):
    pdf = tmp_path / "p.pdf"
    make_paper(pdf, sections=SECTIONS, references=REFS)
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        assert load_paper(pdf, cache).title == "A Study of Things"
    finally:
        cache.chmod(0o700)


def test_ieee_style_run_in_abstract_roman_caps_headings(tmp_path):
    items = [Text("Deep Learning on Graphs: A Survey", 72, 700, 20),
             Text("Ziwei Zhang, Peng Cui, Member, IEEE, and Wenwu Zhu, Fellow, IEEE", 72, 670, 11),
             Text("Abstract", 72, 640, 9, True),
             Text("—Deep learning has been shown to be successful. We", 112, 640, 9),
             Text("survey it. This is the end.", 72, 629, 9),
             Text("I. INTRODUCTION", 72, 600, 10), Text(BODY[:90], 72, 585),
             Text("© 2020 IEEE. Personal use of this material is permitted.", 72, 60, 8)]
    body_pages = [[Text(BODY[:90], 72, 700 - 14 * i) for i in range(40)] for _ in range(2)]
    body_pages[0][10] = Text("II. RELATED WORK", 72, 700 - 140, 10)
    body_pages[1][5] = Text("III. CONCLUSION", 72, 700 - 70, 10)
    make_pdf(tmp_path / "p.pdf", [items, *body_pages])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.title == "Deep Learning on Graphs: A Survey"
    assert paper.authors == ["Ziwei Zhang", "Peng Cui", "Wenwu Zhu"]
    assert paper.abstract == "Deep learning has been shown to be successful. We survey it. This is the end."
    assert top(paper) == ["Introduction", "Related Work", "Conclusion"]


def test_outline_confirms_heading_the_layout_does_not_show(tmp_path):
    # "Method" is drawn in the body font and size: only the outline says it is a heading
    items = [Text("Outline Paper Title", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
             Text("1 Introduction", 72, 590, 12, True), Text(BODY[:90], 72, 570), Text("Method", 72, 540),
             Text(BODY[:90], 72, 520)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]],
             Doc(outline=[("Introduction", 1, 1), ("Method", 1, 1)]))
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert top(paper) == ["Introduction", "Method"]


def test_scanner_failure_falls_back_to_pypdf_text(tmp_path, monkeypatch):
    from drafter import ingest

    make_paper(tmp_path / "p.pdf", sections=SECTIONS, references=REFS)

    def broken(*_a, **_k):
        raise KeyError("/Font")

    monkeypatch.setattr(ingest, "_scan_page", broken)
    doc = read_pdf(tmp_path / "p.pdf")
    assert "Introduction" in doc.pages[0].text
    assert doc.pages[0].spans  # first pages keep positioned spans through pypdf's visitor
    assert extract_paper(doc).title == "A Study of Things"


def test_fast_scanner_matches_pypdf_words(tmp_path):
    import pypdf

    make_paper(tmp_path / "p.pdf", sections=SECTIONS, references=REFS, columns=2, font="Vera")
    ours = " ".join(p.text for p in read_pdf(tmp_path / "p.pdf").pages).split()
    theirs = " ".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "p.pdf").pages).split()
    assert sorted(ours) == sorted(theirs)


@pytest.mark.parametrize(("printed", "want"), [
    ("Chelsea Finn cbfinn@berkeley.edu", ["Chelsea Finn"]),
    ("Jane Roe1[0000-0002-1825-0097] and John Doe2[0000-0001-5109-3700]", ["Jane Roe", "John Doe"]),
    ("KAIMING HE, XIANGYU ZHANG", ["Kaiming He", "Xiangyu Zhang"]),
    ("Mu Li, Carnegie Mellon University and Baidu; David G. Andersen, Carnegie Mellon University",
     ["Mu Li", "David G. Andersen"]),
])
def test_author_lists_with_mails_orcid_caps_inline_affiliations(tmp_path, printed, want):
    paper = paper_of(tmp_path / "p.pdf", authors=printed)
    assert paper.authors == want


@pytest.mark.parametrize(("footnote", "venue"), [
    ("Proceedings of NAACL-HLT 2019, pages 4171-4186, Minneapolis, Minnesota, June 2 - June 7, 2019. "
     "c 2019 Association for Computational Linguistics", "NAACL 2019"),
    ("Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing, pages 1-9, "
     "November 16-20, 2020. c 2020 Association for Computational Linguistics", "EMNLP 2020"),
    ("Under review as a conference paper at ICLR 2019", None),
])
def test_venue_rules(tmp_path, footnote, venue):
    paper = paper_of(tmp_path / "p.pdf", footnotes=[footnote])
    assert paper.venue == venue


def test_repository_cover_page_skipped(tmp_path):
    cover = ["University Research Portal", "Citation for published version (APA):",
             "Some Other Huge Cover Heading", "General rights", "Take down policy"]
    paper = paper_of(tmp_path / "p.pdf", title="The Real Title of the Paper", cover_page=cover)
    assert paper.title == "The Real Title of the Paper"


def test_plain_references_heading_without_emphasis(tmp_path):
    items = [Text("Plain Heading Paper", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
             Text("1 Introduction", 72, 590, 12, True), Text(BODY[:90], 72, 570)]
    refs = [Text("References", 72, 700)] + [
        Text(f"[{i}] A. Author. Paper {i}. 2019.", 72, 688 - 12 * i) for i in range(1, 6)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)], refs])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert len(paper.references) == 5
    assert "[3] A. Author" not in paper.sections[-1].text


def test_unnumbered_bold_headings_at_body_size(tmp_path):
    sections = [("Introduction", BODY), ("Methods", BODY), ("Results", BODY), ("Discussion", BODY)]
    paper = paper_of(tmp_path / "p.pdf", sections=sections, body_size=10, heading_size=10)
    assert top(paper) == ["Introduction", "Methods", "Results", "Discussion"]


def test_abstract_without_following_heading_stops_at_its_page(tmp_path):
    items = [Text("No Headings Paper", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True)] + [Text("Abstract text goes here.", 72, 620 - 12 * i)
                                                    for i in range(5)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(40)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.abstract == " ".join(["Abstract text goes here."] * 5)


def test_small_caps_title_drawn_with_two_sizes(tmp_path):
    from reportlab.pdfbase.pdfmetrics import stringWidth

    items, x = [], 72.0
    for word in ["DEEP", "RESIDUAL", "LEARNING", "FOR", "IMAGES"]:
        for part, size in ((word[0], 17.0), (word[1:], 13.0)):
            items.append(Text(part, x, 700, size, True))
            x += stringWidth(part, "Times-Bold", size)
        x += 5
    items += [Text("Ada Lovelace", 72, 670, 11), Text("Abstract", 72, 640, 12, True),
              Text("We do things.", 72, 620), Text("1 Introduction", 72, 590, 12, True), Text(BODY[:90], 72, 570)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.title == "Deep Residual Learning for Images"
    assert paper.authors == ["Ada Lovelace"]


def test_figure_labels_are_not_title_heading_or_text(tmp_path):
    items = [Text("Big Plot Label", 300, 720, 30, True, in_figure=True),
             Text("Figure Words Paper", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
             Text("1 Introduction", 72, 590, 12, True), Text(BODY[:90], 72, 570),
             Text("2 Accuracy Over Time", 300, 520, 12, True, in_figure=True),
             Text("epoch loss accuracy", 300, 500, 8, in_figure=True),
             Text("Figure 1: Accuracy per epoch.", 72, 480)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    doc = read_pdf(tmp_path / "p.pdf")
    assert any(s.figure for s in doc.pages[0].spans)
    paper = extract_paper(doc)
    assert paper.title == "Figure Words Paper"
    assert top(paper) == ["Introduction"]
    assert "epoch loss" not in paper.sections[0].text
    assert "Accuracy per epoch" not in paper.sections[0].text  # captions are kept apart, not in the prose
    assert [(f.label, f.caption, f.page) for f in paper.figures] == [("Figure 1", "Accuracy per epoch.", 1)]


def test_author_name_cut_at_separately_drawn_accents(tmp_path):
    # TeX draws "J\u00b4erˆome" as "J" + acute, "er" + circumflex, "ome ...", each piece set back over the last
    pieces = ["Ada Lovelace, J\u00b4", "er\u02c6", "ome Louradour"]
    items = [Text("Accented Names Paper", 72, 700, 17, True)]
    x = 72.0
    for piece in pieces:
        items.append(Text(piece, x, 670, 11))
        x += stringWidth(piece, "Times-Roman", 11) - 5.5  # the next piece is drawn back over the accent
    items += [Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
              Text("1 Introduction", 72, 590, 12, True), Text(BODY[:90], 72, 570)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.authors == ["Ada Lovelace", "J\u00e9r\u00f4me Louradour"]


def test_affiliation_line_in_author_font_is_dropped(tmp_path):
    items = [Text("Word Vectors Paper", 72, 700, 17, True),
             Text("Tomas Mikolov", 72, 670, 11), Text("Google Inc., Mountain View, CA", 72, 656, 11),
             Text("Kai Chen", 300, 670, 11), Text("Google Inc., Mountain View, CA", 300, 656, 11),
             Text("Abstract", 72, 620, 12, True), Text("We do things.", 72, 600),
             Text("1 Introduction", 72, 570, 12, True), Text(BODY[:90], 72, 550)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    assert extract_paper(read_pdf(tmp_path / "p.pdf")).authors == ["Tomas Mikolov", "Kai Chen"]


def test_cited_arxiv_id_on_first_page_is_not_the_papers_id(tmp_path):
    paper = paper_of(tmp_path / "p.pdf", footnotes=["1 We build on Smith et al., arXiv:1701.00001, 2017."])
    assert paper.arxiv_id is None


def test_text_only_pages_still_give_sections_and_references():
    from drafter.ingest import RawDocument, RawPage

    body = "\n".join(["Some text line here that goes on."] * 30)
    doc = RawDocument("x.pdf", [
        RawPage(1, "A Title\nJohn Smith\nAbstract\nWe do it.\n1 Introduction\n" + body),
        RawPage(2, body + "\n2 Method\n" + body + "\nReferences\n[1] A. B. Paper. 2019.\n[2] C. D. Paper two. 2020.\n"
                "[3] E. F. Paper three. 2020.")])
    paper = extract_paper(doc)
    assert (paper.title, paper.authors, paper.abstract) == ("A Title", ["John Smith"], "We do it.")
    assert top(paper) == ["Introduction", "Method"]
    assert len(paper.references) == 3


def test_acm_front_matter_is_not_sections(tmp_path):
    def h(text, x, y, size=10, bold=True):
        return Text(text, x, y, size, bold, font="Helvetica")

    col = "This paragraph is ordinary body text that explains the"
    items = [h("Graph Neural Networks at Scale", 72, 720, 18),
             h("Alice Smith", 100, 690, 12, False), h("Stanford University", 100, 676, 10, False),
             h("Stanford, CA, USA", 100, 664, 10, False), h("alice@stanford.edu", 100, 652, 10, False),
             h("Bob Jones", 350, 690, 12, False), h("Google Research", 350, 676, 10, False),
             h("Mountain View, CA, USA", 350, 664, 10, False), h("bob@google.com", 350, 652, 10, False),
             h("ABSTRACT", 72, 620), Text("We scale graph networks to billions of nodes.", 72, 606, 9),
             Text("Our system is fast and simple.", 72, 595, 9),
             h("CCS CONCEPTS", 72, 570), Text("• Computing methodologies → Neural networks.", 72, 556, 9),
             h("KEYWORDS", 72, 535), Text("graph neural networks, scale", 72, 521, 9),
             h("1 INTRODUCTION", 320, 620)] + [Text(col, 320, 605 - 11 * i, 9) for i in range(20)] + [
             Text("Permission to make digital or hard copies of all or part of this work for personal use", 72, 150, 7),
             Text("KDD '20, August 23-27, 2020, Virtual Event, USA", 72, 130, 7)]
    page2 = [h("2 RELATED WORK", 72, 720)] + [Text(col, 72, 705 - 11 * i, 9) for i in range(40)]
    page3 = ([h("3 CONCLUSION", 72, 720)] + [Text(col, 72, 705 - 11 * i, 9) for i in range(10)]
             + [h("REFERENCES", 72, 560)]
             + [Text(f"[{i}] A. Author. 2019. Paper {i}. In KDD.", 72, 545 - 10 * i, 7) for i in range(1, 9)])
    make_pdf(tmp_path / "p.pdf", [items, page2, page3])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.authors == ["Alice Smith", "Bob Jones"]
    assert paper.abstract == "We scale graph networks to billions of nodes. Our system is fast and simple."
    assert top(paper) == ["Introduction", "Related Work", "Conclusion"]
    assert (paper.venue, paper.year) == ("KDD 2020", 2020)
    assert len(paper.references) == 8


@pytest.mark.parametrize(("header", "venue"), [
    ("IEEE TRANSACTIONS ON PATTERN ANALYSIS AND MACHINE INTELLIGENCE, VOL. 39, NO. 6, JUNE 2017", "TPAMI 2017"),
    ("This CVPR 2020 paper is the Open Access version, provided by the Computer Vision Foundation.", "CVPR 2020"),
    ("Published in Transactions on Machine Learning Research (05/2023)", "TMLR 2023"),
])
def test_venue_from_running_header(tmp_path, header, venue):
    paper = paper_of(tmp_path / "p.pdf", sections=[("1 Introduction", BODY * 5), ("2 Method", BODY * 5)],
                     doc=Doc(header=header))
    assert paper.venue == venue


def test_small_caps_subsection_headings_without_bold(tmp_path):
    items = [Text("Small Caps Headings", 72, 700, 17, True), Text("Ada Lovelace", 72, 670, 11),
             Text("Abstract", 72, 640, 12, True), Text("We do things.", 72, 620),
             Text("1 INTRODUCTION", 72, 590, 12), Text(BODY[:90], 72, 570),
             Text("1.1 OUR CONTRIBUTIONS", 72, 540, 10), Text(BODY[:90], 72, 520),
             Text("2 METHOD", 72, 490, 12), Text(BODY[:90], 72, 470)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert [(s.title, s.level) for s in paper.sections] == [("Introduction", 1), ("Our Contributions", 2),
                                                            ("Method", 1)]


def test_venue_from_cover_page(tmp_path):
    cover = ["This paper is included in the Proceedings of USENIX ATC '14:",
             "2014 USENIX Annual Technical Conference.", "June 19-20, 2014, Philadelphia, PA",
             "Open access to the Proceedings is sponsored by USENIX."]
    paper = paper_of(tmp_path / "p.pdf", title="In Search of a Simple Algorithm", cover_page=cover)
    assert paper.title == "In Search of a Simple Algorithm"
    assert (paper.venue, paper.year) == ("USENIX ATC 2014", 2014)


def test_short_affiliations_without_keywords_in_author_font(tmp_path):
    items = [Text("Grid Of Names", 72, 700, 17, True),
             Text("Ross Girshick", 72, 670, 11), Text("UC Berkeley", 72, 656, 11),
             Text("Jeff Donahue", 300, 670, 11), Text("ETH Zurich", 300, 656, 11),
             Text("Abstract", 72, 620, 12, True), Text("We do things.", 72, 600),
             Text("1 Introduction", 72, 570, 12, True), Text(BODY[:90], 72, 550)]
    make_pdf(tmp_path / "p.pdf", [items, [Text(BODY[:90], 72, 700 - 14 * i) for i in range(30)]])
    assert extract_paper(read_pdf(tmp_path / "p.pdf")).authors == ["Ross Girshick", "Jeff Donahue"]


def _links_both_ways(pdf: Path):
    import pypdf

    from drafter import ingest

    slow = [ingest._page_links(p) for p in pypdf.PdfReader(pdf).pages]
    reader = pypdf.PdfReader(pdf)
    fast = [ingest._page_links(p, ingest._RawObjects(reader)) for p in reader.pages]
    return slow, fast


def test_raw_link_reading_matches_pypdf(tmp_path):
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "links.pdf"
    c = canvas.Canvas(str(pdf))
    c.bookmarkPage("top")
    c.drawString(72, 700, "Internal link and two URLs")
    c.linkAbsolute("to top", "top", (72, 690, 200, 710))  # GoTo link: not a URI
    c.linkURL("https://example.org/a(b)", (72, 600, 200, 620), relative=0)
    c.linkURL("http://example.com/x?y=1&z=2", (72, 500, 200, 520), relative=0)
    c.showPage()
    c.save()
    slow, fast = _links_both_ways(pdf)
    assert fast == slow
    assert [u for u, *_ in fast[0]] == ["https://example.org/a(b)", "http://example.com/x?y=1&z=2"]


@pytest.mark.parametrize("slug", ["bert", "attention-is-all-you-need", "resnet"])
def test_raw_link_reading_matches_pypdf_on_shared_papers(slug):
    pdf = require_shared(Path(__file__).resolve().parents[2] / "shared" / "papers" / f"{slug}.pdf",
                         f"shared paper {slug}.pdf")
    slow, fast = _links_both_ways(pdf)
    assert fast == slow
