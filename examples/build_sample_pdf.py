"""Build examples/gated-residual-mixing.pdf from examples/sample-paper.md.

Usage:  pip install reportlab && python examples/build_sample_pdf.py [--source S] [--output O]

The output is deterministic for a given reportlab version (``invariant=1``): rebuilding
gives identical bytes.  Only the PDF base-14 fonts are used (Times, plus Symbol, which
reportlab substitutes automatically for Greek letters and math signs such as σ, λ, ∑, ∈, −),
so no font files are needed.  Like a LaTeX-produced paper, body text uses the real "fi"/"fl"
ligature glyphs of Times, so text extraction yields U+FB01/U+FB02 there.

Source format (sample-paper.md):
  * header lines ``key: value`` up to a ``---`` line; keys: title, author (``Name | marks``,
    repeatable), affiliation (``mark | text``, repeatable), email, footnote (``mark | text``),
    keywords (``;``-separated), date;
  * blocks separated by blank lines: ``# Heading`` / ``## Sub-heading`` (numbers are part of
    the text), ``$$ equation (n)`` for a displayed, numbered equation, a table as a
    ``Table N: caption`` line followed by ``| a | b |`` rows (first row is the header),
    and paragraphs.  ``**bold**`` is supported and URLs become link annotations;
  * under ``# References`` every ``[n] ...`` line is one entry.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.fonts import addMapping
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics, rl_codecs
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
)

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / "sample-paper.md"
DEFAULT_OUTPUT = HERE / "gated-residual-mixing.pdf"

URL_RE = re.compile(r"https?://[^\s<>()]+[^\s<>().,;:]")
LIGATURE_RE = re.compile(r"(?<!f)f([il])")
EQUATION_RE = re.compile(r"^\$\$\s*(?P<eq>.*?)\s+\((?P<num>\d+)\)\s*$")
LINK_COLOR = "#1f3f99"

PAGE_W, PAGE_H = LETTER
MARGIN = 1.0 * inch
TEXT_W = PAGE_W - 2 * MARGIN
FOOTNOTE_SPACE = 0.55 * inch  # kept free at the bottom of page 1 for the footnote


# -- fonts: Times with WinAnsi + the fi/fl ligature glyphs --------------------------------------

LIG_ENCODING = "rl_winansi_ligatures"  # codec names must be normalised (underscores)
BODY_FONT = "Times-Roman-Lig"


def register_ligature_fonts() -> None:
    """Register Times faces whose encoding is WinAnsi plus /fi at 0x81 and /fl at 0x8D."""
    if BODY_FONT in pdfmetrics.getRegisteredFontNames():
        return
    encoding = pdfmetrics.Encoding(LIG_ENCODING, pdfmetrics.getEncoding("WinAnsiEncoding"))
    encoding[0x81] = "fi"
    encoding[0x8D] = "fl"
    pdfmetrics.registerEncoding(encoding)
    decode: dict[int, int] = {}
    for code in range(256):
        try:
            decode[code] = ord(bytes([code]).decode("winansi"))
        except (UnicodeDecodeError, TypeError):
            continue  # unassigned in WinAnsi
    decode[0x81], decode[0x8D] = 0xFB01, 0xFB02
    # lowest code wins (WinAnsi maps both 0x20 and 0xA0 to a space glyph)
    encode = {u: c for c, u in sorted(decode.items(), reverse=True)}
    rl_codecs.RL_Codecs.add_dynamic_codec(LIG_ENCODING, encode, decode)
    faces = {"Times-Roman": (0, 0), "Times-Bold": (1, 0), "Times-Italic": (0, 1), "Times-BoldItalic": (1, 1)}
    for face, (bold, italic) in faces.items():
        pdfmetrics.registerFont(pdfmetrics.Font(f"{face}-Lig", face, LIG_ENCODING))
        addMapping(BODY_FONT, bold, italic, f"{face}-Lig")


# -- source model ---------------------------------------------------------------------------------


@dataclass
class Block:
    kind: str  # heading, paragraph, equation, table, reference
    text: str = ""
    level: int = 0
    number: str = ""
    caption: str = ""
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class PaperSource:
    meta: dict[str, list[str]]
    blocks: list[Block]

    def one(self, key: str, default: str = "") -> str:
        values = self.meta.get(key)
        return values[0] if values else default


def parse_source(text: str) -> PaperSource:
    """Parse the Markdown-like paper source described in the module docstring."""
    header, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError("source has no '---' line ending the header")
    meta: dict[str, list[str]] = {}
    for line in header.splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            meta.setdefault(key.strip(), []).append(value.strip())

    blocks: list[Block] = []
    in_references = False
    for chunk in re.split(r"\n\s*\n", body.strip()):
        lines = [ln.rstrip() for ln in chunk.strip().splitlines()]
        first = lines[0]
        if first.startswith("#"):
            hashes, _, title = first.partition(" ")
            blocks.append(Block("heading", title.strip(), level=len(hashes) - 1))
            in_references = title.strip().lower() == "references"
        elif in_references:
            blocks.extend(Block("reference", ln.strip()) for ln in lines if ln.strip())
        elif first.startswith("$$"):
            match = EQUATION_RE.match(" ".join(lines))
            if not match:
                raise ValueError(f"equation without '(n)' number: {first!r}")
            blocks.append(Block("equation", match["eq"], number=match["num"]))
        elif any(ln.startswith("|") for ln in lines):
            caption = " ".join(ln for ln in lines if not ln.startswith("|"))
            rows = [
                [c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines if ln.startswith("|")
            ]
            blocks.append(Block("table", caption=caption, rows=rows))
        else:
            blocks.append(Block("paragraph", " ".join(ln.strip() for ln in lines)))
    return PaperSource(meta, blocks)


# -- inline markup ----------------------------------------------------------------------------------


def markup(text: str, ligatures: bool = True) -> str:
    """Source text -> reportlab paragraph markup: escaping, **bold**, URL links, ligatures."""
    out: list[str] = []
    pos = 0
    for match in URL_RE.finditer(text):
        out.append(_plain(text[pos : match.start()], ligatures))
        url = match.group()
        out.append(f'<a href="{escape(url)}" color="{LINK_COLOR}">{escape(url)}</a>')
        pos = match.end()
    out.append(_plain(text[pos:], ligatures))
    return "".join(out)


def _plain(text: str, ligatures: bool) -> str:
    text = escape(text)
    if ligatures:
        text = LIGATURE_RE.sub(lambda m: "\ufb01" if m.group(1) == "i" else "\ufb02", text)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


# -- styles -----------------------------------------------------------------------------------------


def make_styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle(
        "body", fontName=BODY_FONT, fontSize=10.5, leading=13.2, alignment=TA_JUSTIFY, spaceAfter=6
    )
    return {
        "title": ParagraphStyle(
            "title", fontName="Times-Bold", fontSize=17, leading=21, alignment=TA_CENTER, spaceAfter=10
        ),
        "authors": ParagraphStyle(
            "authors", fontName="Times-Roman", fontSize=11.5, leading=14, alignment=TA_CENTER, spaceAfter=4
        ),
        "affil": ParagraphStyle(
            "affil", fontName="Times-Roman", fontSize=9.5, leading=11.5, alignment=TA_CENTER
        ),
        "email": ParagraphStyle(
            "email", fontName="Times-Roman", fontSize=9, leading=11, alignment=TA_CENTER, spaceBefore=3
        ),
        "abstract_head": ParagraphStyle(
            "abstract_head",
            fontName="Times-Bold",
            fontSize=11.5,
            leading=14,
            alignment=TA_CENTER,
            spaceBefore=14,
            spaceAfter=4,
        ),
        "abstract": ParagraphStyle(
            "abstract",
            parent=body,
            fontSize=10,
            leading=12.4,
            leftIndent=0.45 * inch,
            rightIndent=0.45 * inch,
        ),
        "h1": ParagraphStyle(
            "h1", fontName="Times-Bold", fontSize=12, leading=14.5, spaceBefore=10, spaceAfter=5
        ),
        "h2": ParagraphStyle(
            "h2", fontName="Times-Bold", fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=4
        ),
        "body": body,
        "equation": ParagraphStyle("equation", parent=body, alignment=TA_CENTER, spaceAfter=0),
        "eqnum": ParagraphStyle("eqnum", parent=body, alignment=2, spaceAfter=0),
        "caption": ParagraphStyle(
            "caption",
            parent=body,
            fontSize=9.5,
            leading=11.5,
            alignment=TA_CENTER,
            spaceBefore=4,
            spaceAfter=4,
        ),
        "cell": ParagraphStyle(
            "cell", fontName="Times-Roman", fontSize=9.5, leading=11.5, alignment=TA_CENTER
        ),
        "reference": ParagraphStyle(
            "reference",
            parent=body,
            fontSize=9.5,
            leading=11.5,
            alignment=0,
            leftIndent=0.3 * inch,
            firstLineIndent=-0.3 * inch,
            spaceAfter=3,
        ),
        "footnote": ParagraphStyle("footnote", fontName=BODY_FONT, fontSize=8.5, leading=10),
        "page": ParagraphStyle("page", fontName="Times-Roman", fontSize=9.5, alignment=TA_CENTER),
    }


# -- document -----------------------------------------------------------------------------------------


class Heading(Paragraph):
    """A Paragraph that also becomes a PDF outline entry."""

    def __init__(self, text: str, style: ParagraphStyle, outline_title: str, level: int) -> None:
        super().__init__(text, style)
        self.outline_title = outline_title
        self.outline_level = level


class PaperDoc(BaseDocTemplate):
    """Two page templates (first page reserves room for the footnote) and outline support."""

    def __init__(
        self, filename: str, paper: PaperSource, styles: dict[str, ParagraphStyle], **kw: Any
    ) -> None:
        super().__init__(filename, pagesize=LETTER, invariant=1, **kw)
        self.paper = paper
        self.styles = styles
        self._outline_count = 0
        first = Frame(
            MARGIN,
            MARGIN + FOOTNOTE_SPACE,
            TEXT_W,
            PAGE_H - 2 * MARGIN - FOOTNOTE_SPACE,
            id="first",
            showBoundary=0,
        )
        later = Frame(MARGIN, MARGIN, TEXT_W, PAGE_H - 2 * MARGIN, id="later", showBoundary=0)
        self.addPageTemplates(
            [
                PageTemplate("first", [first], onPage=self._first_page, onPageEnd=self._first_page_end),
                PageTemplate("later", [later], onPageEnd=self._later_page_end),
            ]
        )

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, Heading):
            self._outline_count += 1
            key = f"sec{self._outline_count}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.outline_title, key, level=flowable.outline_level, closed=False)

    def _page_number(self, canv: Any) -> None:
        canv.saveState()
        para = Paragraph(str(canv.getPageNumber()), self.styles["page"])
        para.wrapOn(canv, TEXT_W, 20)
        para.drawOn(canv, MARGIN, MARGIN - 0.45 * inch)
        canv.restoreState()

    def _first_page(self, canv: Any, doc: BaseDocTemplate) -> None:
        canv.showOutline()

    # Footnote and page number are drawn at page *end* so that, as in LaTeX output, they come
    # after the body text in the content stream (and hence in extracted text).
    def _first_page_end(self, canv: Any, doc: BaseDocTemplate) -> None:
        canv.saveState()
        mark, _, note = self.paper.one("footnote").partition("|")
        para = Paragraph(
            f"<super>{escape(mark.strip())}</super> {markup(note.strip())}", self.styles["footnote"]
        )
        _, height = para.wrapOn(canv, TEXT_W, FOOTNOTE_SPACE)
        top = MARGIN + height + 4
        canv.setLineWidth(0.5)
        canv.line(MARGIN, top, MARGIN + 1.8 * inch, top)
        para.drawOn(canv, MARGIN, MARGIN)
        canv.restoreState()
        self._page_number(canv)

    def _later_page_end(self, canv: Any, doc: BaseDocTemplate) -> None:
        self._page_number(canv)


class Equation(Flowable):
    """A displayed equation: centred text with its number right-aligned on the same baseline."""

    FONT = "Times-Roman"
    SIZE = 10.5

    def __init__(self, text: str, number: str) -> None:
        super().__init__()
        self.text = text
        self.number = number
        self.avail_width = TEXT_W

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.avail_width = availWidth
        return availWidth, self.SIZE * 2.3

    def draw(self) -> None:
        canv = self.canv
        baseline = self.SIZE * 0.75
        number = f"({self.number})"
        width = pdfmetrics.stringWidth(self.text, self.FONT, self.SIZE)
        number_width = pdfmetrics.stringWidth(number, self.FONT, self.SIZE)
        # one text object, so extractors put the number on the equation's line
        text = canv.beginText()
        text.setFont(self.FONT, self.SIZE)
        text.setTextOrigin((self.avail_width - width) / 2, baseline)
        text.textOut(self.text)
        text.setTextOrigin(self.avail_width - number_width, baseline)
        text.textOut(number)
        canv.drawText(text)


def build_story(paper: PaperSource, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Turn the parsed source into reportlab flowables."""
    story: list[Flowable] = [NextPageTemplate("later")]
    story.append(Paragraph(escape(paper.one("title")), styles["title"]))

    authors = []
    for entry in paper.meta.get("author", []):
        name, _, marks = entry.partition("|")
        authors.append(f"{escape(name.strip())}<super>{escape(marks.strip())}</super>")
    story.append(Paragraph(", ".join(authors), styles["authors"]))
    for entry in paper.meta.get("affiliation", []):
        mark, _, text = entry.partition("|")
        story.append(
            Paragraph(f"<super>{escape(mark.strip())}</super>{escape(text.strip())}", styles["affil"])
        )
    if paper.one("email"):
        story.append(Paragraph(escape(paper.one("email")), styles["email"]))

    for block in paper.blocks:
        if block.kind == "heading":
            if block.text.lower() == "abstract":
                story.append(Heading(escape(block.text), styles["abstract_head"], block.text, 0))
            else:
                style = styles["h1"] if block.level == 0 else styles["h2"]
                story.append(Heading(escape(block.text), style, block.text, min(block.level, 1)))
        elif block.kind == "paragraph":
            in_abstract = _current_heading(story) == "Abstract"
            story.append(Paragraph(markup(block.text), styles["abstract" if in_abstract else "body"]))
        elif block.kind == "equation":
            story.append(Equation(block.text, block.number))
        elif block.kind == "table":
            story.append(_results_table(block, styles))
        elif block.kind == "reference":
            story.append(Paragraph(markup(block.text), styles["reference"]))
    return story


def _current_heading(story: list[Flowable]) -> str:
    for flowable in reversed(story):
        if isinstance(flowable, Heading):
            return flowable.outline_title
    return ""


class TextTable(Flowable):
    """A booktabs-style table whose rows are each drawn as one text object.

    reportlab's ``Table`` draws every cell separately, which makes text extractors put
    each cell on its own line; here a row extracts as one line.  First column left-aligned,
    the others centred; the first row is the (bold) header.
    """

    SIZE = 9.5
    LEADING = 13.5
    PAD = 7.0

    def __init__(self, rows: list[list[str]]) -> None:
        super().__init__()
        self.rows = rows
        ncols = max(len(r) for r in rows)
        self.widths = [
            max(
                pdfmetrics.stringWidth(r[c], "Times-Bold" if i == 0 else "Times-Roman", self.SIZE)
                for i, r in enumerate(rows)
                if c < len(r)
            )
            + 2 * self.PAD
            for c in range(ncols)
        ]
        self.width = sum(self.widths)
        self.offset = 0.0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.offset = max(0.0, (availWidth - self.width) / 2)
        return availWidth, self.LEADING * len(self.rows) + 4

    def draw(self) -> None:
        canv = self.canv
        height = self.LEADING * len(self.rows) + 4
        left, right = self.offset, self.offset + self.width
        canv.setLineWidth(0.9)
        canv.line(left, height, right, height)
        canv.line(left, 0, right, 0)
        canv.setLineWidth(0.5)
        canv.line(left, height - self.LEADING - 1, right, height - self.LEADING - 1)
        for i, row in enumerate(self.rows):
            font = "Times-Bold" if i == 0 else "Times-Roman"
            baseline = height - (i + 1) * self.LEADING + 4 - (2 if i else 0)
            text = canv.beginText()
            text.setFont(font, self.SIZE)
            x = left
            for c, cell in enumerate(row):
                cell_width = pdfmetrics.stringWidth(cell, font, self.SIZE)
                if c == 0:
                    text.setTextOrigin(x + self.PAD, baseline)
                else:
                    text.setTextOrigin(x + (self.widths[c] - cell_width) / 2, baseline)
                text.textOut(cell)
                x += self.widths[c]
            canv.drawText(text)


def _results_table(block: Block, styles: dict[str, ParagraphStyle]) -> Flowable:
    return KeepTogether(
        [
            Paragraph(markup(block.caption), styles["caption"]),
            Spacer(1, 2),
            TextTable(block.rows),
            Spacer(1, 10),
        ]
    )


def build_pdf(source: Path = DEFAULT_SOURCE, output: Path = DEFAULT_OUTPUT) -> Path:
    """Build the PDF from ``source`` into ``output`` and return ``output``."""
    register_ligature_fonts()
    paper = parse_source(source.read_text(encoding="utf-8"))
    styles = make_styles()
    names = [entry.partition("|")[0].strip() for entry in paper.meta.get("author", [])]
    doc = PaperDoc(
        str(output),
        paper,
        styles,
        title=paper.one("title"),
        author=", ".join(names),
        subject="Fictional example paper for testing drafter",
        keywords=[k.strip() for k in paper.one("keywords").split(";") if k.strip()],
        creator="examples/build_sample_pdf.py",
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
    )
    doc.build(build_story(paper, styles))
    return output


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    out = build_pdf(args.source, args.output)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
