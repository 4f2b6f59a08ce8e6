"""Page descriptions -> small PDF files for tests (reportlab), with control over everything extraction reads.

Two levels:

* `make_pdf(path, pages=[[Text(...), ...], ...], ...)` draws exactly the items you give: position, size,
  bold, font, link annotations, rotated text; plus document outline (bookmarks), metadata and running
  headers/footers repeated on every page.
* `make_paper(path, title=..., authors=..., abstract=..., sections=[...], references=[...], columns=2)`
  lays out a typical research paper (title block, abstract, numbered sections, reference list) on top of
  `make_pdf`, wrapping text into one or two columns.

Fonts: the standard "Times"/"Helvetica" families (Latin-1 only: good for TeX-style split accents such as
"Franc¸ois") and "Vera" (TrueType shipped with reportlab; it has the ﬁ/ﬂ ligature glyphs, so text drawn
with it keeps U+FB01/U+FB02 like real papers do). Bad-input tests can start from `make_paper` and then
corrupt the bytes of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import reportlab
from reportlab.lib.pagesizes import letter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

_FONT_DIR = Path(reportlab.__file__).parent / "fonts"
_FAMILIES = {
    "Times": ("Times-Roman", "Times-Bold"),
    "Helvetica": ("Helvetica", "Helvetica-Bold"),
    "Courier": ("Courier", "Courier-Bold"),
    "Vera": ("Vera", "VeraBd"),
}


def _register_vera() -> None:
    for name, file in (("Vera", "Vera.ttf"), ("VeraBd", "VeraBd.ttf")):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(_FONT_DIR / file)))


@dataclass
class Text:
    """One line of text drawn at (x, y) in points from the bottom-left corner.

    `y=None` places the line `leading` points below the previous item on the page (or at the top margin).
    `link` adds a URI link annotation over the text; `rotate=90` draws it vertically (arXiv margin stamp).
    `font` is a family from _FAMILIES or any font name reportlab knows. `in_figure=True` draws the text
    inside a form XObject, like the labels of a PDF figure included by LaTeX.
    """

    text: str
    x: float = 72.0
    y: float | None = None
    size: float = 10.0
    bold: bool = False
    font: str = "Times"
    link: str | None = None
    rotate: float = 0.0
    leading: float | None = None
    in_figure: bool = False  # draw inside a form XObject, the way LaTeX embeds PDF figures
    char_space: float = 0.0  # extra space after every glyph (the PDF Tc operator), in points


@dataclass
class Doc:
    """Document-level options for `make_pdf`."""

    title: str | None = None  # PDF metadata /Title
    author: str | None = None  # PDF metadata /Author
    subject: str | None = None
    outline: list[tuple[str, int, int]] = field(default_factory=list)  # (title, level 1.., page 1..)
    header: str | None = None  # running header drawn on every page; "{page}" is replaced by the number
    footer: str | None = None  # running footer, same
    header_from_page: int = 1  # first page (1-based) that gets the running header / footer
    page_size: tuple[float, float] = letter


def _font_name(item: Text) -> str:
    regular, bold = _FAMILIES.get(item.font, (item.font, item.font))
    if item.font == "Vera":
        _register_vera()
    return bold if item.bold else regular


def make_pdf(path: Path, pages: Sequence[Sequence[Text]], doc: Doc | None = None) -> Path:
    """Draw `pages` (each a list of Text items) into a PDF at `path` and return the path."""
    doc = doc or Doc()
    path = Path(path)
    width, height = doc.page_size
    c = canvas.Canvas(str(path), pagesize=doc.page_size, pageCompression=1)
    if doc.title:
        c.setTitle(doc.title)
    if doc.author:
        c.setAuthor(doc.author)
    if doc.subject:
        c.setSubject(doc.subject)
    outline_by_page: dict[int, list[tuple[str, int, int]]] = {}
    for i, (title, level, page) in enumerate(doc.outline):
        outline_by_page.setdefault(page, []).append((title, level, i))
    for number, items in enumerate(pages, 1):
        y_cursor = height - 72.0
        for title, level, i in outline_by_page.get(number, []):
            key = f"o{i}"
            c.bookmarkPage(key)
            c.addOutlineEntry(title, key, level=level - 1)
        if number >= doc.header_from_page:
            for text, y in ((doc.header, height - 40), (doc.footer, 30)):
                if text:
                    c.setFont("Times-Roman", 8)
                    c.drawCentredString(width / 2, y, text.replace("{page}", str(number)))
        for item in items:
            font = _font_name(item)
            leading = item.leading or item.size * 1.2
            y = item.y if item.y is not None else y_cursor - leading
            if item.in_figure:
                form = f"fig{number}_{id(item)}"
                c.beginForm(form)
                c.setFont(font, item.size)
                c.drawString(item.x, y, item.text)
                c.endForm()
                c.doForm(form)
                y_cursor = y
                continue
            c.setFont(font, item.size)
            if item.rotate:
                c.saveState()
                c.translate(item.x, y)
                c.rotate(item.rotate)
                c.drawString(0, 0, item.text)
                c.restoreState()
            elif item.char_space:
                obj = c.beginText(item.x, y)
                obj.setFont(font, item.size)
                obj.setCharSpace(item.char_space)
                obj.textOut(item.text)
                obj.setCharSpace(0)  # Tc stays in the graphics state: later text is not spaced
                c.drawText(obj)
            else:
                c.drawString(item.x, y, item.text)
            if item.link:
                w = pdfmetrics.stringWidth(item.text, font, item.size)
                c.linkURL(item.link, (item.x, y - 2, item.x + w, y + item.size), relative=0)
            y_cursor = y
        c.showPage()
    c.save()
    return path


def wrap(text: str, width: float, size: float = 10.0, font: str = "Times-Roman") -> list[str]:
    """Greedy word wrap of `text` into lines no wider than `width` points."""
    if font == "Vera":
        _register_vera()
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and pdfmetrics.stringWidth(trial, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


@dataclass
class _Flow:
    """Places lines top-down in columns, starting new columns and pages as needed."""

    columns: int
    page_size: tuple[float, float]
    pages: list[list[Text]] = field(default_factory=list)
    top: float = 0.0
    col: int = 0
    y: float = 0.0
    margin: float = 72.0
    gutter: float = 18.0

    def __post_init__(self) -> None:
        self.new_page()

    @property
    def col_width(self) -> float:
        return (self.page_size[0] - 2 * self.margin - (self.columns - 1) * self.gutter) / self.columns

    def new_page(self) -> None:
        self.pages.append([])
        self.top = self.page_size[1] - self.margin
        self.col = 0
        self.y = self.top

    def x(self) -> float:
        return self.margin + self.col * (self.col_width + self.gutter)

    def add(self, text: str, size: float = 10.0, bold: bool = False, font: str = "Times", indent: float = 0,
            space_before: float = 0.0, link: str | None = None) -> None:
        leading = size * 1.2
        if self.y - space_before - leading < self.margin:
            if self.col + 1 < self.columns:
                self.col += 1
                self.y = self.top
            else:
                self.new_page()
        else:
            self.y -= space_before
        self.y -= leading
        self.pages[-1].append(Text(text, self.x() + indent, self.y, size, bold, font, link))

    def paragraph(self, text: str, size: float = 10.0, font: str = "Times", indent: float = 0,
                  hanging: float = 0, space_before: float = 4.0) -> None:
        name = _font_name(Text("", font=font))
        first = True
        for line in wrap(text, self.col_width - indent - hanging, size, name):
            self.add(line, size, font=font, indent=indent if first else indent + hanging,
                     space_before=space_before if first else 0)
            first = False


def make_paper(
    path: Path,
    *,
    title: str | Sequence[str] = "A Study of Things",
    authors: Sequence[str] | str = ("Ada Lovelace", "Alan Turing"),
    affiliations: Sequence[str] = ("University of Somewhere",),
    abstract: str = "We study things. Our results are good.",
    sections: Sequence[tuple[str, str]] = (("1 Introduction", "Things matter."), ("2 Method", "We did it.")),
    references: Sequence[str] = ("[1] A. Author. A paper. In Proc. of Things, 2020.",),
    columns: int = 1,
    font: str = "Times",
    title_size: float = 17.0,
    above_title: Sequence[str] = (),
    footnotes: Sequence[str] = (),
    stamp: str | None = None,
    doc: Doc | None = None,
    cover_page: Sequence[str] | None = None,
    body_size: float = 10.0,
    appendix: Sequence[tuple[str, str]] = (),
    heading_size: float | None = None,
    references_heading: str = "References",
) -> Path:
    """Lay out a research paper and write it with `make_pdf`.

    `authors` as a list is joined with commas on one line; as a string it is drawn as given (e.g. with
    wide gaps or footnote marks). A section heading starting with "A ", "B " ... after the references is an
    appendix; headings are drawn bold, one size above the body. `above_title` lines (permission notices,
    journal headers) are drawn before the title, `footnotes` at the bottom of the first page, `stamp`
    rotated in the left margin, `cover_page` lines on an extra first page, and `appendix` sections after
    the references. Headings are bold at `heading_size` (default: two points above the body).
    """
    doc = doc or Doc()
    height = doc.page_size[1]
    hsize = heading_size or body_size + 2
    pages: list[list[Text]] = []
    if cover_page is not None:
        pages.append([Text(line, 72, height - 100 - 16 * i, 12, font=font) for i, line in enumerate(cover_page)])
    first: list[Text] = []
    y = height - 60
    for line in above_title:
        first.append(Text(line, 72, y, 9, font=font))
        y -= 12
    y -= 20
    for line in [title] if isinstance(title, str) else title:
        first.append(Text(line, 72, y, title_size, True, font))
        y -= title_size * 1.25
    y -= 8
    author_lines = [authors] if isinstance(authors, str) else [", ".join(authors)]
    for line in author_lines:
        first.append(Text(line, 72, y, 11, False, font))
        y -= 14
    for line in affiliations:
        first.append(Text(line, 72, y, 10, False, font))
        y -= 12
    y -= 16
    first.append(Text("Abstract", 72, y, 12, True, font))
    y -= 6
    flow = _Flow(columns, doc.page_size)
    flow.pages[0] = first
    flow.top = y
    flow.y = y
    flow.paragraph(abstract, body_size, font, space_before=2)
    flow.top = height - flow.margin  # later columns/pages start at the top margin
    for heading, body in sections:
        flow.add(heading, hsize, True, font, space_before=10)
        for para in body.split("\n\n"):
            flow.paragraph(para, body_size, font)
    if references:
        flow.add(references_heading, hsize, True, font, space_before=10)
        for ref in references:
            flow.paragraph(ref, body_size - 1, font, hanging=0 if ref.startswith("[") else 12, space_before=2)
    for heading, body in appendix:
        flow.add(heading, hsize, True, font, space_before=10)
        for para in body.split("\n\n"):
            flow.paragraph(para, body_size, font)
    for i, note in enumerate(footnotes):
        flow.pages[0].append(Text(note, 72, 60 - 10 * i, 8, False, font))
    if stamp:
        flow.pages[0].append(Text(stamp, 30, 250, 16, False, font, rotate=90))
    pages.extend(flow.pages)
    return make_pdf(path, pages, doc)
