"""Generated PDFs -> the headings and body text rules of issue 16, one typographic case per test."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reportlab.pdfbase.pdfmetrics import stringWidth

from drafter.extract import extract_paper
from drafter.ingest import read_pdf
from pdfgen import Text, make_pdf

PROSE = ("This paragraph is ordinary body text that explains the method in some detail and keeps going "
         "for a while so that the page looks like a real paper with real sentences in it. ")


def small_caps(text: str, x: float, y: float, size: float = 12.0, font: str = "Times-Roman",
               full: tuple[str, ...] = ()) -> list[Text]:
    """Text drawn the way \\textsc and Word draw small caps: each word's first capital at `size`, the other
    capitals at 80 % of it (words in `full` wholly at `size`), every size change a separate string."""
    items: list[Text] = []
    small = 0.8 * size
    for word in text.split(" "):
        pieces = [(word, size)] if word in full or len(word) == 1 else [(word[0], size), (word[1:].upper(), small)]
        if word[:1].isdigit():
            pieces = [(word, size)]
        for piece, sz in pieces:
            items.append(Text(piece, x, y, sz, font=font))
            x += stringWidth(piece, font, sz) + 0.3  # a little kerning between the sizes
        x += stringWidth(" ", font, size) + 1.0
    return items


def page(blocks: list[list[Text] | str], top: float = 720.0) -> list[Text]:
    """Blocks top-down: a list of Text items drawn on one line (a heading), or a string of body lines."""
    out: list[Text] = []
    y = top
    for block in blocks:
        y -= 22
        if isinstance(block, str):
            for k, line in enumerate(block.split("\n")):
                out.append(Text(line, 72, y - 12 * k, 10))
            y -= 12 * block.count("\n") + 4
        else:
            for item in block:
                item.y = y
            out.extend(block)
    return out


def lines(n: int, words: str = PROSE) -> str:
    text = words * (n // 2 + 1)
    chunks = [text[i:i + 88] for i in range(0, 88 * n, 88)]
    return "\n".join(c.strip() for c in chunks)


def extract(tmp_path: Path, pages: list[list[Text]]):
    make_pdf(tmp_path / "p.pdf", pages)
    return extract_paper(read_pdf(tmp_path / "p.pdf"))


def heads(paper) -> list[tuple[str, int]]:
    return [(s.title, s.level) for s in paper.sections if not s.appendix]


def test_fake_small_caps_headings_are_whole_words_in_mixed_case(tmp_path):
    body = lines(6, "We compare A-GEM with GEM and with EWC on many tasks, and A-GEM is fast. ")
    first = page([[Text("Small Caps Everywhere", 72, 0, 17, True)], body,
                  small_caps("1 INTRODUCTION", 72, 0), body,
                  small_caps("2 AVERAGED GRADIENT EPISODIC MEMORY (A-GEM)", 72, 0), body,
                  small_caps("3 ROLE OF SE BLOCKS", 72, 0, full=("SE",)), body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert heads(paper) == [("Introduction", 1), ("Averaged Gradient Episodic Memory (A-GEM)", 1),
                            ("Role of SE Blocks", 1)]


def test_capitals_headings_keep_the_acronyms_the_body_writes(tmp_path):
    body = lines(6, "The vanilla LSTM and the SE blocks of the LSTM model are compared with SE nets. ")
    first = page([[Text("Acronyms in Headings", 72, 0, 17, True)], body,
                  [Text("1 INTRODUCTION", 72, 0, 12, True)], body,
                  [Text("2 VANILLA LSTM", 72, 0, 12, True)], body,
                  [Text("3 ROLE OF SE BLOCKS", 72, 0, 12, True)], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert [t for t, _ in heads(paper)] == ["Introduction", "Vanilla LSTM", "Role of SE Blocks"]


def test_ieee_roman_capitals_and_italic_lettered_subsections(tmp_path):
    body = lines(5)
    first = page([[Text("An IEEE Style Paper", 72, 0, 17, True)], body,
                  [Text("I. INTRODUCTION", 200, 0, 10)], body,
                  [Text("II. SYSTEM DESIGN", 200, 0, 10)], body,
                  [Text("A. Function Module", 72, 0, 10, font="Times-Italic")], body,
                  [Text("B. Business Process", 72, 0, 10, font="Times-Italic")], body])
    second = page([[Text("III. EXPERIMENTS AND RESULTS", 200, 0, 10)],
                   "In order to consider the tradeoff between security and performance, we set the\n"
                   + lines(4),
                   [Text("A. Results", 72, 0, 10, font="Times-Italic")], body,
                   [Text("IV. CONCLUSION", 200, 0, 10)], body])
    paper = extract(tmp_path, [first, second, page([lines(30)])])
    assert heads(paper) == [("Introduction", 1), ("System Design", 1), ("Function Module", 2),
                            ("Business Process", 2), ("Experiments and Results", 1), ("Results", 2),
                            ("Conclusion", 1)]


def test_numbered_lines_in_the_headings_face_are_subsections(tmp_path):
    body = lines(5)
    first = page([[Text("Headings in Their Own Face", 72, 0, 17, True)], body,
                  [Text("1 INTRODUCTION", 72, 0, 11, font="Helvetica")], body,
                  [Text("1.1 A Brief History of the Field", 72, 0, 10, font="Helvetica")], body,
                  [Text("2 OVERVIEW", 72, 0, 11, font="Helvetica")], body,
                  [Text("2.1 Notations and Definitions", 72, 0, 10, font="Helvetica")], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert heads(paper) == [("Introduction", 1), ("A Brief History of the Field", 2), ("Overview", 1),
                            ("Notations and Definitions", 2)]


def test_char_spacing_between_number_and_initial_is_a_space(tmp_path):
    """IEEE journals set "1 INTRODUCTION" as the string "1I" with wide character spacing, then the
    small capitals "NTRODUCTION": the number is a word of its own and the run ends at its last glyph."""
    body = lines(5)
    x = 72 + stringWidth("1", "Times-Roman", 12) + 8 + stringWidth("I", "Times-Roman", 12)
    first = page([[Text("Spaced Numbers", 72, 0, 17, True)], body,
                  [Text("1I", 72, 0, 12, char_space=8), Text("NTRODUCTION", x + 0.2, 0, 9)], body,
                  [Text("2M", 72, 0, 12, char_space=8),
                   Text("ETHOD", 72 + stringWidth("2", "Times-Roman", 12) + 8.2
                        + stringWidth("M", "Times-Roman", 12), 0, 9)], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert heads(paper) == [("Introduction", 1), ("Method", 1)]


def test_unnumbered_headings_take_their_level_from_size(tmp_path):
    body = lines(5)
    first = page([[Text("Sizes Make Levels", 72, 0, 17, True)], body,
                  [Text("Introduction", 72, 0, 12, True)], body,
                  [Text("Our Approach", 72, 0, 12, True)], body,
                  [Text("Actor Networks", 72, 0, 11, True)], body,
                  [Text("Experiments", 72, 0, 12, True)], body,
                  [Text("Image Datasets", 72, 0, 11, True)], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert heads(paper) == [("Introduction", 1), ("Our Approach", 1), ("Actor Networks", 2),
                            ("Experiments", 1), ("Image Datasets", 2)]


def test_journal_end_matter_is_not_a_section(tmp_path):
    body = lines(5)
    first = page([[Text("End Matter", 72, 0, 17, True)], body,
                  [Text("Introduction", 72, 0, 12, True)], body,
                  [Text("Conclusion", 72, 0, 12, True)], body,
                  [Text("Online content", 72, 0, 12, True)], lines(2, "Any methods are available online. "),
                  [Text("Code availability", 72, 0, 12, True)], lines(2, "The code is on the web. "),
                  [Text("Data availability", 72, 0, 12, True)], lines(2, "The data are on the web. ")])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert [t for t, _ in heads(paper)] == ["Introduction", "Conclusion"]
    assert "available online" not in paper.sections[-1].text


def test_drawn_soft_hyphen_in_a_heading_is_a_hyphen(tmp_path):
    body = lines(5)
    first = page([[Text("Soft Hyphens", 72, 0, 17, True)], body,
                  [Text("1 Introduction", 72, 0, 12, True)], body,
                  [Text("2 Few\u00adshot Recognition", 72, 0, 12, True)], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert [t for t, _ in heads(paper)] == ["Introduction", "Few-shot Recognition"]


def test_running_headers_in_wide_margins_alternating_left_and_right(tmp_path):
    """LNCS/Springer pages: the running header sits well inside the page, with the page number at its
    left on even pages and at its right on odd ones; a Nature footer likewise."""
    pages = []
    for n in range(1, 9):
        header = f"{n}  A. Mallya, D. Davis, and S. Lazebnik" if n % 2 == 0 else f"Piggyback: Masking Weights  {n}"
        footer = f"{60 + n} | Nature | Vol 600 | 2 December 2021" if n % 2 else f"Nature | Vol 600 | {60 + n}"
        items = [Text(header, 134, 650, 9), Text(footer, 72, 90, 8)]
        blocks: list = [lines(30)]
        if n == 1:
            blocks = [[Text("Wide Margins", 72, 0, 17, True)], [Text("1 Introduction", 72, 0, 12, True)],
                      lines(24)]
        if n == 5:
            blocks = [lines(10), [Text("2 Method", 72, 0, 12, True)], lines(16)]
        items += page(blocks, top=640)
        pages.append(items)
    paper = extract(tmp_path, pages)
    assert [t for t, _ in heads(paper)] == ["Introduction", "Method"]
    text = " ".join(s.text for s in paper.sections)
    assert "Mallya" not in text and "Piggyback" not in text and "Nature" not in text


def test_line_break_hyphens_decided_by_the_papers_own_words(tmp_path):
    body = ("We connect over the Wi-\nFi network and test on PAS-\nCAL VOC and on PASCAL VOC again with the\n"
            "Vector Quantised-\nVariational AutoEncoder, a model that is com-\npatible with few-\n"
            "shot learning, and few-shot learning is what we study here in some detail.\n" + lines(6))
    first = page([[Text("Hyphens", 72, 0, 17, True)], [Text("1 Introduction", 72, 0, 12, True)], body,
                  [Text("2 Vector Quantised-", 72, 0, 12, True)], [Text("Variational Models", 72, 0, 12, True)],
                  lines(6)])
    for item in first:  # the wrapped heading's second line sits one line below its first
        if item.text == "Variational Models":
            item.y = next(i.y for i in first if i.text == "2 Vector Quantised-") - 14
    paper = extract(tmp_path, [first, page([lines(30)])])
    text = paper.sections[0].text
    assert "Wi-Fi network" in text and "on PASCAL VOC" in text
    assert "Vector Quantised-Variational AutoEncoder" in text and "compatible" in text
    assert "few-shot learning, and" in text
    assert [t for t, _ in heads(paper)] == ["Introduction", "Vector Quantised-Variational Models"]


def test_table_rows_and_axis_ticks_stay_out_of_the_body(tmp_path):
    body = lines(4)
    rows = "ResNet-50 [9]  75.87  92.70  75.3\nInception-V3 [26]  77.32  93.43  78.8\n20  40  60  80  100"
    first = page([[Text("Tables", 72, 0, 17, True)], [Text("1 Introduction", 72, 0, 12, True)], body])
    y = min(i.y for i in first) - 20
    for k, row in enumerate(rows.split("\n")):  # cells set wide apart, as a table draws them
        x = 72.0
        for cell in row.split("  "):
            first.append(Text(cell, x, y - 12 * k, 10))
            x += stringWidth(cell, "Times-Roman", 10) + 24
    first.append(Text("We train the model on the data and the loss goes down   0   1", 72, y - 48, 10))
    first.extend(Text(line, 72, y - 60 - 12 * k, 10) for k, line in enumerate(lines(4).split("\n")))
    paper = extract(tmp_path, [first, page([lines(30)])])
    text = paper.sections[0].text
    assert "75.87" not in text and "92.70" not in text and "60 80" not in text
    assert "the loss goes down" in text and "down 0" not in text


def write_pdf(path: Path, objects: list[bytes]) -> Path:
    """`objects` (numbered from 1, the catalog last) written as a PDF file with its cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(objects), xref)
    path.write_bytes(bytes(out))
    return path


def type3_pdf(path: Path, lines_of_codes: list[list[int]], names: dict[int, str]) -> Path:
    """A one-page PDF whose text is set in a Type 3 font (every glyph a box) with the glyph `names` in its
    /Differences and no ToUnicode map, one line per list of character codes."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes) -> bytes:
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    procs = {name: add(stream(b"500 0 0 0 400 600 d1 0 0 400 600 re f")) for name in set(names.values())}
    charprocs = b" ".join(b"/%s %d 0 R" % (n.encode(), i) for n, i in procs.items())
    differences = b" ".join(b"%d /%s" % (code, name.encode()) for code, name in sorted(names.items()))
    font = add(b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 500 700] /FontMatrix [0.001 0 0 0.001 0 0] "
               b"/CharProcs << " + charprocs + b" >> /Encoding << /Type /Encoding /Differences [" + differences
               + b"] >> /FirstChar 0 /LastChar 255 /Widths [" + b" ".join([b"500"] * 256) + b"] >>")
    shows = b"".join(b"1 0 0 1 72 %d Tm <%s> Tj\n" % (740 - 14 * k, bytes(codes).hex().encode())
                     for k, codes in enumerate(lines_of_codes))
    content = add(stream(b"BT /F1 10 Tf\n" + shows + b"ET"))
    page_id = len(objects) + 1
    add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page_id + 1, content, font))
    add(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page_id)
    add(b"<< /Type /Catalog /Pages %d 0 R >>" % (page_id + 1))
    return write_pdf(path, objects)


SENTENCE = "our classifiers beat the baseline on every split of the data "


def test_type3_glyphs_pypdf_knows_only_by_name_are_read_with_pdfium(tmp_path):
    """Glyph names like /g99 map to no character for pypdf (it prints the name); PDFium reads the codes."""
    codes = [ord(c) for c in SENTENCE]
    names = {c: f"g{c}" for c in set(codes)}
    doc = read_pdf(type3_pdf(tmp_path / "t3.pdf", [codes] * 10, names))
    text = doc.pages[0].text
    assert "/g" not in text and "\ufffd" not in text
    assert text.count("our classifiers beat the baseline") == 10


def test_tex_ligature_slots_without_a_mapping_are_ligatures(tmp_path):
    """An OT1-encoded font that names no glyph for code 12 (fi) leaves a control character: "classi ers"."""
    word = SENTENCE.replace("fi", "\x0c")
    codes = [ord(c) for c in word]
    names = {c: ("space" if c == 32 else chr(c)) for c in set(codes) if c != 12}
    doc = read_pdf(type3_pdf(tmp_path / "t3.pdf", [codes] * 10, names))
    assert doc.pages[0].text.count("our classifiers beat") == 10


def test_urls_broken_over_lines_are_rejoined_and_end_where_the_sentence_goes_on(tmp_path):
    body = ("The code and models are available at https://github.com/\ngoogle-research/bert and our page is\n"
            "at http://www.github.\ncom/srebuffi/iCaRL for all. The slides are at http://www.cse.ust.hk/conf.htm.\n"
            "is where the list of talks lives, and https://github.com/NVIDIA/Megatron-\nLM is the other one.\n"
            + lines(6))
    first = page([[Text("Links", 72, 0, 17, True)], [Text("1 Introduction", 72, 0, 12, True)], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    text = paper.sections[0].text
    assert "https://github.com/google-research/bert and" in text
    assert "http://www.github.com/srebuffi/iCaRL for" in text
    assert re.search(r"conf\.htm\.\s+is where", text)
    assert "https://github.com/NVIDIA/Megatron-LM is" in text



def test_a_table_of_contents_is_not_the_section_list(tmp_path):
    toc = page([[Text("A Report With Contents", 72, 0, 17, True)], [Text("Contents", 72, 0, 12, True)]]
               + [[Text(f"{k} {name} " + "." * 40 + f" {k + 1}", 72, 0, 12, True)]
                  for k, name in enumerate(["Introduction", "Method", "Experiments", "Discussion", "Conclusion"],
                                           1)])
    body = lines(5)
    first = page([[Text("1 Introduction", 72, 0, 12, True)], body, [Text("2 Method", 72, 0, 12, True)], body])
    second = page([[Text("3 Experiments", 72, 0, 12, True)], body, [Text("4 Discussion", 72, 0, 12, True)], body,
                   [Text("5 Conclusion", 72, 0, 12, True)], body])
    paper = extract(tmp_path, [toc, first, second, page([lines(30)])])
    assert [t for t, _ in heads(paper)] == ["Introduction", "Method", "Experiments", "Discussion", "Conclusion"]
    assert all(s.page > 1 for s in paper.sections)


def test_footnote_mark_after_a_heading_is_not_part_of_it(tmp_path):
    body = lines(5)
    x = 72 + stringWidth("2 Experiments", "Times-Bold", 12) + 0.5
    first = page([[Text("Marks", 72, 0, 17, True)], [Text("1 Introduction", 72, 0, 12, True)], body,
                  [Text("2 Experiments", 72, 0, 12, True), Text("6", x, 0, 7)], body])
    for item in first:  # the mark is raised above the baseline
        if item.text == "6":
            item.y = next(i.y for i in first if i.text == "2 Experiments") + 4
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert [t for t, _ in heads(paper)] == ["Introduction", "Experiments"]


def test_bold_table_header_row_is_not_a_heading(tmp_path):
    body = lines(5)
    header = []
    x = 72.0
    for cell in ("Methods", "Permuted MNIST", "Split CIFAR"):  # a bold header row, cells set wide apart
        header.append(Text(cell, x, 0, 10, True))
        x += stringWidth(cell, "Times-Bold", 10) + 30
    first = page([[Text("Unnumbered Headings", 72, 0, 17, True)], [Text("Introduction", 72, 0, 10, True)], body,
                  [Text("Results", 72, 0, 10, True)], body, header, "GEM  99.5  0.1  89.5\nA-GEM  99.3  0.2  89.1",
                  body, [Text("Conclusion", 72, 0, 10, True)], body])
    paper = extract(tmp_path, [first, page([lines(30)])])
    assert [t for t, _ in heads(paper)] == ["Introduction", "Results", "Conclusion"]


def test_outline_with_the_title_as_its_root_gives_section_levels_under_it(tmp_path):
    """Elsevier PDFs bookmark the title with every section under it: the sections are still top level."""
    from pdfgen import Doc

    body = lines(5)
    first = page([[Text("Bookmarked Title", 72, 0, 17, True)], [Text("Introduction", 72, 0, 10)], body,
                  [Text("Related work", 72, 0, 10)], body, [Text("Batch normalization", 72, 0, 10)], body])
    doc = Doc(outline=[("Bookmarked Title", 1, 1), ("Introduction", 2, 1), ("Related work", 2, 1),
                       ("Batch normalization", 3, 1)])
    make_pdf(tmp_path / "p.pdf", [first, page([lines(30)])], doc)
    paper = extract_paper(read_pdf(tmp_path / "p.pdf"))
    assert heads(paper) == [("Introduction", 1), ("Related work", 1), ("Batch normalization", 2)]


def cff_font_pdf(path: Path, base_font: str, text: bytes, encoding: dict[int, str]) -> Path:
    """A one-page PDF set in an embedded CFF (Type 1C) font whose only encoding is the font program's own (no
    /Encoding, no ToUnicode), as dvips and older pdfTeX embed Computer Modern: `encoding` names its glyphs."""
    from io import BytesIO

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    names = [".notdef", *sorted(set(encoding.values()))]
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({})

    def box() -> object:
        pen = T2CharStringPen(500, None)
        pen.moveTo((50, 0))
        pen.lineTo((450, 0))
        pen.lineTo((450, 600))
        pen.closePath()
        return pen.getCharString()

    builder.setupCFF(base_font, {"FullName": base_font}, {name: box() for name in names}, {})
    cff = builder.font["CFF "].cff
    cff.topDictIndex[0].Encoding = [encoding.get(code, ".notdef") for code in range(256)]
    program = BytesIO()
    cff.compile(program, builder.font)
    data = program.getvalue()
    objects = [
        b"<< /Length %d /Subtype /Type1C >>\nstream\n" % len(data) + data + b"\nendstream",
        b"<< /Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [0 0 500 700] /ItalicAngle 0 /Ascent 700 "
        b"/Descent 0 /CapHeight 700 /StemV 80 /FontFile3 1 0 R >>" % base_font.encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /FirstChar 0 /LastChar 255 /Widths [%s] "
        b"/FontDescriptor 2 0 R >>" % (base_font.encode(), b" ".join([b"500"] * 256)),
    ]
    escaped = text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    shows = b"".join(b"1 0 0 1 72 %d Tm (%s) Tj\n" % (740 - 14 * k, escaped) for k in range(12))
    content = b"BT /F1 10 Tf\n" + shows + b"ET"
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Page /Parent 6 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                   b"/Resources << /Font << /F1 3 0 R >> >> >>")
    objects.append(b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>")
    objects.append(b"<< /Type /Catalog /Pages 6 0 R >>")
    return write_pdf(path, objects)


def test_an_embedded_cff_font_is_read_through_its_own_encoding(tmp_path):
    """TeX's OT1 Computer Modern puts “ ” – — where ASCII has \\ " { |: read as Standard encoding, a quoted word came
    out as '\\compressing"' and a page range as '1{10' (pypdf reads the font's own encoding with fontTools)."""
    encoding = {32: "space", 92: "quotedblleft", 34: "quotedblright", 123: "endash", 124: "emdash",
                **{ord(c): c for c in "abcdefghijklmnopqrstuvwxyz"}}
    text = b'a method for \\compressing" large models in pages {ten | eleven'
    doc = read_pdf(cff_font_pdf(tmp_path / "cff.pdf", "ABCDEF+CMR10", text, encoding))
    page = doc.pages[0].text
    assert page.count("a method for \u201ccompressing\u201d large models in pages \u2013ten \u2014 eleven") == 12, page
