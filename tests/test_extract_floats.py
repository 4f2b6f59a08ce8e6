"""Generated PDFs (tests/pdfgen.py) -> captions, tables, figure text, footnotes and paragraphs kept apart."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reportlab.pdfbase.pdfmetrics import stringWidth

from drafter.extract import extract_paper
from drafter.ingest import read_pdf
from pdfgen import Doc, Text, make_pdf, wrap

WIDTH = 468.0  # one column from x=72 to x=540
PARA_1 = ("Residual mixing keeps a running memory of the past and mixes it into every token through a gate. "
          "This paragraph explains why that matters for small models that run on phones and browsers. ") * 2
PARA_2 = ("The second paragraph describes the training set-up in enough detail to reproduce it, including the "
          "optimiser, the schedule and the number of steps, and it runs over several lines as well. ") * 2
PARA_3 = ("After the table the method section goes on: the gate opens at the start of sentences and stays "
          "closed inside long words, which we read as the memory holding topics rather than tokens. ") * 2
PARA_4 = ("The last paragraph closes the section with the limitations of a single memory vector per chunk "
          "and what we would like to try next with several slots and learned boundaries. ") * 2
REFS = [f"[{i}] A. Author and B. Writer. Paper number {i}. In Proceedings of Things, 2019." for i in range(1, 9)]


class _Page:
    """Lays lines top-down on one page, keeping the y of each piece."""

    def __init__(self, items: list[Text], y: float) -> None:
        self.items, self.y = items, y

    def paragraph(self, text: str, size: float = 10.0, gap: float = 6.0, indent: float = 0.0) -> float:
        self.y -= gap
        first = self.y - size * 1.2
        for i, line in enumerate(wrap(text, WIDTH - indent, size)):
            self.y -= size * 1.2
            self.items.append(Text(line, 72 + (indent if i == 0 else 0), self.y, size))
        return first

    def line(self, text: str, x: float = 72.0, size: float = 10.0, gap: float = 0.0, bold: bool = False) -> float:
        self.y -= gap + size * 1.2
        self.items.append(Text(text, x, self.y, size, bold))
        return self.y

    def row(self, cells: list[str], size: float = 9.0, gap: float = 0.0) -> None:
        self.y -= gap + size * 1.3
        for cell, x in zip(cells, (120, 300, 420), strict=False):
            self.items.append(Text(cell, x, self.y, size))


def _make(path: Path, *, paragraph_style: str = "gap") -> tuple[Path, dict[str, float]]:
    """A two-page paper whose method section holds a table, a figure and a footnote between paragraphs."""
    at: dict[str, float] = {}
    items = [Text("Floats Kept Apart", 72, 720, 17, True), Text("Ada Lovelace, Alan Turing", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We keep captions, tables and footnotes apart.", 72, 648)]
    page = _Page(items, 640)
    page.line("1 Method", size=12, gap=10, bold=True)
    gap, indent = (8.0, 0.0) if paragraph_style == "gap" else (0.0, 15.0)
    page.paragraph(PARA_1 + "Our code is public.\u00b9", gap=gap, indent=indent)
    page.paragraph(PARA_2, gap=gap, indent=indent)
    at["table_caption"] = page.line("Table 1: Accuracy and size of the models on the test set.", size=9, gap=14)
    page.row(["Model", "Accuracy", "Params"], gap=6)
    page.row(["Baseline", "71.2", "10M"])
    page.row(["Ours (gated)", "75.9", "11M"])
    page.paragraph(PARA_3, gap=18, indent=indent)
    page.y -= 30
    page.line("loss", x=200, size=7)  # a figure's labels drawn as plain page text
    page.line("epoch", x=280, size=7, gap=40)
    at["figure_caption"] = page.line("Figure 1: Training loss falls faster with the gate.", size=9, gap=8)
    page.paragraph(PARA_4, gap=18, indent=indent)
    items.append(Text("1", 72, 70, 6))
    items.append(Text("Code at https://example.org/grm and a note that runs on.", 76, 66, 8))
    second = _Page([], 740)
    second.line("2 Conclusion", size=12, bold=True)
    second.paragraph(PARA_4)
    second.line("References", size=12, gap=10, bold=True)
    for ref in REFS:
        second.paragraph(ref, size=9, gap=2)
    make_pdf(path, [items, second.items])
    return path, at


def test_table_caption_and_cells_are_kept_apart(tmp_path):
    pdf, at = _make(tmp_path / "p.pdf")
    paper = extract_paper(read_pdf(pdf))
    assert [(t.label, t.caption, t.page) for t in paper.tables] == [
        ("Table 1", "Accuracy and size of the models on the test set.", 1)]
    table = paper.tables[0]
    assert table.content.splitlines() == ["Model  Accuracy  Params", "Baseline  71.2  10M", "Ours (gated)  75.9  11M"]
    x0, y0, x1, y1 = table.bbox or (0, 0, 0, 0)
    assert x0 == 72 and y0 < at["table_caption"] < y1 and 250 < x1 < 300  # the caption, not the table
    method = paper.sections[0].text
    for leaked in ("Accuracy and size", "71.2", "Ours (gated)", "Params"):
        assert leaked not in method


def test_figure_caption_and_its_labels_are_kept_apart(tmp_path):
    pdf, at = _make(tmp_path / "p.pdf")
    paper = extract_paper(read_pdf(pdf))
    assert [(f.label, f.caption, f.page) for f in paper.figures] == [
        ("Figure 1", "Training loss falls faster with the gate.", 1)]
    _, y0, _, y1 = paper.figures[0].bbox or (0, 0, 0, 0)
    assert y0 < at["figure_caption"] < y1
    method = paper.sections[0].text
    assert "Training loss" not in method and "epoch" not in method and "loss" not in method


def test_footnote_is_kept_apart_and_its_url_still_counts(tmp_path):
    pdf, _ = _make(tmp_path / "p.pdf")
    paper = extract_paper(read_pdf(pdf))
    assert paper.footnotes == ["Code at https://example.org/grm and a note that runs on."]
    assert "example.org" not in paper.sections[0].text
    assert "https://example.org/grm" in paper.urls
    assert "public." in paper.sections[0].text  # the mark after the sentence does not cost the sentence


def test_paragraphs_separated_by_space_survive(tmp_path):
    pdf, _ = _make(tmp_path / "p.pdf", paragraph_style="gap")
    paragraphs = extract_paper(read_pdf(pdf)).sections[0].text.split("\n\n")
    assert [p[:25] for p in paragraphs] == [PARA_1[:25], PARA_2[:25], PARA_3[:25], PARA_4[:25]]
    assert all("\n" not in p for p in paragraphs)


def test_paragraphs_marked_by_indent_survive(tmp_path):
    pdf, _ = _make(tmp_path / "p.pdf", paragraph_style="indent")
    paragraphs = extract_paper(read_pdf(pdf)).sections[0].text.split("\n\n")
    assert [p[:25] for p in paragraphs] == [PARA_1[:25], PARA_2[:25], PARA_3[:25], PARA_4[:25]]


def test_sentence_wrapped_onto_a_label_is_not_a_caption(tmp_path):
    items = [Text("Running Text Paper", 72, 720, 17, True), Text("Ada Lovelace", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We do things.", 72, 648),
             Text("1 Results", 72, 620, 12, True)]
    lines = [*wrap(PARA_1, WIDTH), "and the gain is largest on the retrieval task, as shown in",
             "Figure 2. The results also hold for Table 3: the larger models gain more",
             "Table 3. As before, the gap closes with more data.", *wrap(PARA_2, WIDTH)]
    items += [Text(line, 72, 600 - 12 * i) for i, line in enumerate(lines)]
    refs = [Text(r, 72, 700 - 14 * i, 9) for i, r in enumerate(["References", *REFS])]
    make_pdf(tmp_path / "p.pdf", [items, refs])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert paper.figures == [] and paper.tables == []
    assert "as shown in Figure 2. The results also hold" in paper.sections[0].text


def test_line_numbers_of_a_review_copy_are_not_text(tmp_path):
    lines = wrap(PARA_1 + PARA_2 + PARA_3, WIDTH)
    items = [Text("Numbered Lines Paper", 72, 720, 17, True), Text("Ada Lovelace", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We do things.", 72, 648),
             Text("1 Method", 72, 620, 12, True)]
    items += [Text(line, 72, 600 - 12 * i) for i, line in enumerate(lines)]
    items += [Text(str(100 + i), 40, 600 - 12 * i, 7) for i in range(len(lines))]  # the review copy's numbers
    refs = [Text(r, 72, 700 - 14 * i, 9) for i, r in enumerate(["References", *REFS])]
    make_pdf(tmp_path / "p.pdf", [items, refs])
    text = extract_paper(read_pdf(tmp_path / "p.pdf")).sections[0].text
    assert text.startswith(PARA_1[:40])
    assert "100" not in text and "105" not in text and " 1 " not in text


def test_caption_with_hanging_indent_ends_where_a_same_size_table_begins(tmp_path):
    items = [Text("Hanging Captions Paper", 72, 720, 17, True), Text("Ada Lovelace", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We do things.", 72, 648),
             Text("1 Results", 72, 620, 12, True)]
    items += [Text(line, 72, 600 - 12 * i) for i, line in enumerate(wrap(PARA_1, WIDTH))]
    items += [Text("Table 2: Parsing results on section 23 of the treebank, for models trained on the", 72, 520),
              Text("treebank only and with extra unlabelled data.", 116, 508),  # under the text, not the label
              Text("Parser", 160, 496), Text("Training", 300, 496), Text("F1", 430, 496),
              Text("Small parser (2014)", 160, 484), Text("treebank only", 300, 484), Text("88.3", 430, 484),
              Text("Our model", 160, 472), Text("semi-supervised", 300, 472), Text("92.7", 430, 472)]
    items += [Text(line, 72, 440 - 12 * i) for i, line in enumerate(wrap(PARA_2, WIDTH))]
    refs = [Text(r, 72, 700 - 14 * i, 9) for i, r in enumerate(["References", *REFS])]
    make_pdf(tmp_path / "p.pdf", [items, refs])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert [t.caption for t in paper.tables] == [
        "Parsing results on section 23 of the treebank, for models trained on the treebank only and with extra "
        "unlabelled data."]
    assert paper.tables[0].content.splitlines()[-1] == "Our model  semi-supervised  92.7"
    text = paper.sections[0].text
    assert "unlabelled" not in text and "92.7" not in text and "Small parser" not in text
    assert text.split("\n\n")[-1].startswith(PARA_2[:30])


def _caption_page(tmp_path: Path, floats: list[Text], header: str | None = None) -> Path:
    """A one-column paper: a paragraph, the given float lines at y 560..380, another paragraph."""
    pages = []
    for n in (1, 2, 3):
        items = [Text("Caption Forms Paper", 72, 720, 17, True), Text("Ada Lovelace", 72, 695, 11),
                 Text("Abstract", 72, 665, 12, True), Text("We do things.", 72, 648),
                 Text("1 Results", 72, 620, 12, True)] if n == 1 else []
        items += [Text(line, 72, 600 - 12 * i) for i, line in enumerate(wrap(PARA_1, WIDTH)[:3])]
        items += [Text(f.text, f.x, f.y, f.size, f.bold) for f in floats if f.leading == n]
        items += [Text(line, 72, 340 - 12 * i) for i, line in enumerate(wrap(PARA_2, WIDTH))]
        pages.append(items)
    pages.append([Text(r, 72, 700 - 14 * i, 9) for i, r in enumerate(["References", *REFS])])
    return make_pdf(tmp_path / "p.pdf", pages, Doc(header=header))


def test_ieee_table_label_alone_takes_the_caption_from_the_next_line(tmp_path):
    # IEEE: "TABLE III" (roman) or "TABLE 2" centred on its own line, the caption centred under it; the same
    # "TABLE N" at the top of several pages must not pass for a running header
    def centred(text: str, y: float, page: int, size: float = 9) -> Text:
        return Text(text, 306 - stringWidth(text, "Times-Roman", size) / 2, y, size, leading=page)

    floats = [centred("TABLE III", 560, 1),
              centred("Validation Degree and Its Corresponding Parameters Across the Runs", 549, 1),
              Text("Degree", 160, 530, 8, leading=1), Text("Time", 300, 530, 8, leading=1),
              Text("0.8", 160, 520, 8, leading=1), Text("38700.8", 300, 520, 8, leading=1),
              centred("TABLE 2", 560, 2), centred("Different Settings of Transfer Learning", 549, 2),
              Text("Setting", 160, 530, 8, leading=2), Text("Source", 300, 530, 8, leading=2),
              centred("TABLE 3", 560, 3),
              centred("Different Approaches to Transfer Learning, continued on a second", 549, 3),
              centred("line that is centred too", 538, 3),
              Text("Approach", 160, 520, 8, leading=3), Text("Kind", 300, 520, 8, leading=3)]
    paper = extract_paper(read_pdf(_caption_page(tmp_path, floats)))
    assert [(t.label, t.caption) for t in paper.tables] == [
        ("Table III", "Validation Degree and Its Corresponding Parameters Across the Runs"),
        ("Table 2", "Different Settings of Transfer Learning"),
        ("Table 3", "Different Approaches to Transfer Learning, continued on a second line that is centred too")]
    assert "Different Settings" not in paper.sections[0].text


def test_chapter_appendix_and_extended_data_labels(tmp_path):
    floats = [Text("Figure 1.1: A chapter-numbered figure whose caption runs on over", 72, 420, 9, leading=1),
              Text("two lines of the page.", 72, 409, 9, leading=1),
              Text("Appendix Figure A1 | The appendix figure with a bar after its label.", 72, 420, 9, leading=2),
              Text("Extended Data Fig. 2 | Empirical relationship between slope and signature.", 72, 420, 9,
                   leading=3),
              Text("Figure A.3. Ablation of the shuffled batch norm.", 72, 400, 9, leading=3)]
    paper = extract_paper(read_pdf(_caption_page(tmp_path, floats)))
    assert [(f.label, f.caption) for f in paper.figures] == [
        ("Figure 1.1", "A chapter-numbered figure whose caption runs on over two lines of the page."),
        ("Figure A1", "The appendix figure with a bar after its label."),
        ("Extended Data Figure 2", "Empirical relationship between slope and signature."),
        ("Figure A.3", "Ablation of the shuffled batch norm.")]
    assert paper.tables == []


def test_a_sentence_opening_with_the_label_yields_to_the_set_apart_caption(tmp_path):
    # "Fig. 9. compares ..." in the body text and the real, smaller "Fig. 9." caption on another page
    floats = [Text("Fig. 9. compares the average success rate for different numbers of virtual CPUs and", 72,
                   430, 10, leading=1),
              Text("shows that the rate grows with them.", 72, 418, 10, leading=1),
              Text("Fig. 9. Number of allocated vCPUs and the average success rate.", 72, 420, 8, leading=2)]
    paper = extract_paper(read_pdf(_caption_page(tmp_path, floats)))
    assert [(f.label, f.caption, f.page) for f in paper.figures] == [
        ("Figure 9", "Number of allocated vCPUs and the average success rate.", 2)]
    assert "compares the average success rate" in paper.sections[0].text


def test_a_table_cell_naming_a_figure_is_not_a_caption(tmp_path):
    floats = [Text("Table 4: Where each result is shown.", 72, 560, 9, leading=1),
              Text("Result", 120, 540, 9, leading=1), Text("Figure A9", 300, 540, 9, leading=1),
              Text("Ablation", 120, 528, 9, leading=1), Text("Figure A10", 300, 528, 9, leading=1)]
    paper = extract_paper(read_pdf(_caption_page(tmp_path, floats)))
    assert paper.figures == [] and [t.label for t in paper.tables] == ["Table 4"]


def test_small_ragged_right_caption_is_read_whole(tmp_path):
    # a journal's 7 pt caption on a 10 pt pitch (1.43 times its size), set ragged right with a short first
    # line: every line belongs to the caption, and the column beside it does not
    cap = ["Fig. 1 | Accuracy of the model on recent structures. The analysed",
           "structures are newer than any structure in the training set. Further filtering is",
           "applied to reduce redundancy (see Methods). a, Histogram of backbone",
           "errors for full chains. Error bars are 95% confidence intervals."]
    items = [Text("Ragged Captions Paper", 72, 720, 17, True), Text("Ada Lovelace, Alan Turing", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We read captions whole.", 72, 648),
             Text("1 Method", 72, 620, 12, True)]
    items += [Text(line, 72, 600 - 12 * i) for i, line in enumerate(wrap(PARA_1, 230))]
    items += [Text(line, 72, 420 - 10 * i, 7) for i, line in enumerate(cap)]
    items += [Text(line, 320, 430 - 12 * i) for i, line in enumerate(wrap(PARA_2 + PARA_3, 220))]
    pages = [items, [Text(line, 72, 700 - 12 * i) for i, line in enumerate(wrap(PARA_4 * 3, WIDTH))]]
    make_pdf(tmp_path / "p.pdf", pages)
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert [f.label for f in paper.figures] == ["Figure 1"]
    assert paper.figures[0].caption == " ".join(cap)[len("Fig. 1 | "):]


def test_caption_of_a_table_turned_on_its_side(tmp_path):
    # a landscape table on a portrait page: rows and caption drawn rotated by 90 degrees, the caption wrapping
    # onto a second rotated line; the caption is found, and the rotated rows are not read as prose
    first = [Text("Sideways Tables Paper", 72, 720, 17, True), Text("Ada Lovelace, Alan Turing", 72, 695, 11),
             Text("Abstract", 72, 665, 12, True), Text("We turn a table on its side.", 72, 648),
             Text("1 Method", 72, 620, 12, True)]
    first += [Text(line, 72, 600 - 12 * i) for i, line in enumerate(wrap(PARA_1 + PARA_2, WIDTH))]
    sideways = [Text(f"Method {i}   0.{i}1   0.{i}2   0.{i}3", 150 + 12 * i, 120, 8, rotate=90) for i in range(8)]
    sideways += [Text("Table 2: Results of the kernel experiments on the training set, for every", 270, 120, 10,
                      rotate=90),
                 Text("method and data set.", 282, 120, 10, rotate=90)]
    last = [Text(line, 72, 700 - 12 * i) for i, line in enumerate(wrap(PARA_3 + PARA_4, WIDTH))]
    make_pdf(tmp_path / "p.pdf", [first, sideways, last])
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert [(t.label, t.caption, t.page) for t in paper.tables] == [
        ("Table 2", "Results of the kernel experiments on the training set, for every method and data set.", 2)]
    assert "Method 3" not in " ".join(s.text for s in paper.sections)
