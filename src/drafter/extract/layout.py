"""RawDocument -> positioned lines per page, with the page furniture flagged (running headers and footers,
page numbers, cover pages, rotated margin stamps) and the body font size measured."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from drafter.ingest import RawDocument, Span
from drafter.text import FOOTNOTE_MARKS


@dataclass(eq=False)  # lines compare by identity: two equal-looking lines are still different lines
class Line:
    """One text line of a page, with the layout signals extraction decides on."""

    text: str
    page: int  # 1-based
    x: float
    x1: float
    y: float
    size: float  # size of the line's dominant font
    bold: float  # share of characters set in a bold font
    font: str
    spans: list[Span] = field(default_factory=list)
    boiler: bool = False  # running header/footer or page number
    figure: bool = False  # text inside an embedded figure (plot labels)
    kind: str = "body"  # or what floats found it to be: "caption", "table", "figure", "footnote"


def small_caps_step(left: Span, right: Span) -> bool:
    """Whether `right` continues `left` in fake small caps: the same font, capitals only, a full-size
    capital then smaller ones ("E" + "XPERIMENTAL"), as LaTeX's \\textsc and Word's small caps draw them."""
    if left.font != right.font or not right.size or not 0.55 <= right.size / (left.size or 1.0) <= 0.92:
        return False
    a, b = left.text.rstrip(), right.text.lstrip()
    return bool(a) and bool(b) and a[-1].isupper() and b[0].isupper() and _all_caps(a) and _all_caps(b)


def _all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def join_spans(spans: list[Span]) -> str:
    parts: list[str] = []
    last: Span | None = None
    for span in spans:
        if last is not None:
            gap = span.x - last.x1
            small = min(span.size, last.size) or 1.0
            if small_caps_step(last, span):  # kerning between the capital and its small capitals
                small = max(span.size, last.size)
            if gap > 0.8 * small:
                parts.append("  ")
            elif gap > 0.15 * small and not parts[-1].endswith(" ") and not span.text.startswith(" "):
                parts.append(" ")
        parts.append(span.text)
        last = span
    return "".join(parts).strip()


def drop_marks(spans: list[Span]) -> list[Span]:
    """Spans without footnote marks: small raised digits or symbols right after a word."""
    if not spans:
        return spans
    top = max(s.size for s in spans)
    return [s for s in spans if not (s.size < 0.8 * top and re.fullmatch(
        f"[\\s\\d,{re.escape(FOOTNOTE_MARKS)}]+", s.text))]


def build_lines(doc: RawDocument) -> tuple[list[list[Line]], list[Line]]:
    """Group each page's spans into lines; also return rotated lines (margin stamps) separately."""
    pages: list[list[Line]] = []
    rotated: list[Line] = []
    for page in doc.pages:
        groups: dict[int, list[Span]] = {}
        for span in page.spans:
            groups.setdefault(span.line, []).append(span)
        lines: list[Line] = []
        if not groups and page.text.strip():  # fallback page without layout: one line per text line
            y = page.height
            for raw in page.text.splitlines():
                y -= 12
                if raw.strip():
                    lines.append(Line(raw.strip(), page.number, 0.0, 0.0, y, 10.0, 0.0, ""))
        numbers = _find_line_numbers(groups)
        for _, spans in sorted(groups.items()):
            if numbers:
                spans = [s for s in spans if id(s) not in numbers]
            text = join_spans(spans)
            if not text:
                continue
            weights: Counter[tuple[float, str]] = Counter()
            bold_chars = total = 0
            for s in spans:
                n = len(s.text.strip())
                weights[(round(s.size, 1), s.font)] += n
                total += n
                bold_chars += n if s.bold else 0
            (size, font), _ = weights.most_common(1)[0]
            line = Line(text, page.number, min(s.x for s in spans), max(s.x1 for s in spans), spans[0].y, size,
                        bold_chars / max(total, 1), font, spans, figure=all(s.figure for s in spans))
            (rotated if spans[0].rotated else lines).append(line)
        pages.append(lines)
    return pages, rotated


def _find_line_numbers(groups: dict[int, list[Span]]) -> set[int]:
    """ids of the spans that number the lines in the margin (review copies): a bare number set apart at the
    start or end of many lines, in one narrow band, counting up with few gaps."""
    found: list[Span] = []
    for spans in groups.values():
        ends = [(spans[0], spans[1] if len(spans) > 1 else None)]
        if len(spans) > 1:
            ends.append((spans[-1], spans[-2]))
        for span, neighbour in ends:
            if span.rotated or not re.fullmatch(r"\s*\d{1,4}\s*", span.text):
                continue
            apart = neighbour is None or max(neighbour.x - span.x1, span.x - neighbour.x1) > 1.2 * span.size
            if apart:
                found.append(span)
    if len(found) < 10:
        return set()
    out: set[int] = set()
    bands: dict[int, list[Span]] = {}
    for span in found:
        bands.setdefault(round(span.x1 / 12), []).append(span)
    for band in bands.values():
        values = sorted(int(s.text) for s in band)
        if len(values) >= 10 and values[-1] - values[0] + 1 <= 1.5 * len(values):
            out.update(id(s) for s in band)
    return out


def heading_size(line: Line) -> float:
    """The size a heading reads at: its largest letters when it is set in fake small caps (capitals only,
    full-size initials over smaller capitals), else the line's dominant size."""
    sized = [s for s in line.spans if any(c.isalpha() for c in s.text)]
    if len(sized) < 2 or not _all_caps(line.text):
        return line.size
    top = max(s.size for s in sized)
    if any(small_caps_step(a, b) for a, b in itertools.pairwise(sized)):
        return top
    return line.size


def small_caps_text(line: Line) -> str | None:
    """A fake small caps line in the case it stands for: capitals drawn smaller than the line's largest
    are lower case ("A"+"VERAGED" -> "Averaged"), words drawn at full size stay capitals ("A-GEM").
    None when the line is not set that way."""
    if heading_size(line) == line.size and not any(
            small_caps_step(a, b) for a, b in itertools.pairwise(line.spans)):
        return None
    top = max(s.size for s in line.spans)
    spans = [replace(s, text=s.text.lower()) if s.size < 0.92 * top else s for s in line.spans]
    return join_spans(spans)


def measure_body_font(pages: list[list[Line]], body: float) -> str:
    """The font most body-size text is set in (headings in another face stand out from it)."""
    weights: Counter[str] = Counter()
    for lines in pages:
        for ln in lines:
            if abs(ln.size - body) <= 0.6 and not ln.figure:
                weights[ln.font] += len(ln.text)
    return weights.most_common(1)[0][0] if weights else ""


def measure_body_size(pages: list[list[Line]]) -> float:
    weights: Counter[float] = Counter()
    for lines in pages:
        for ln in lines:
            weights[round(ln.size * 2) / 2] += len(ln.text)
    return weights.most_common(1)[0][0] if weights else 10.0


def _furniture_key(text: str) -> str:
    """What repeats of a running header or footer: digits as '#', without the page number and separators at
    either end ("70 | Nature | Vol 600" and "Nature | Vol 600 | 71" are one footer on left and right pages)."""
    key = re.sub(r"\d+", "#", text.lower()).strip()
    return re.sub(r"^[#\s|\-\u2013\u2014\u2022\u00b7:.]+|[#\s|\-\u2013\u2014\u2022\u00b7:.]+$", "", key) or key


def mark_boilerplate(pages: list[list[Line]], heights: list[float], body: float = 99.0) -> None:
    """Flag running headers/footers (repeated at the top or bottom of pages) and bare page numbers.

    A line is at the page's edge in the outer tenth of the page, or when it is one of the two topmost or
    bottommost lines of its page (wide margins: LNCS, Springer) and no larger than the `body` text (the
    title on the first page repeats the running header of the others)."""
    keys_needed = 99 if len(pages) < 3 else max(3, len(pages) // 4)
    counts: Counter[str] = Counter()
    for lines in pages:
        for key in {_furniture_key(ln.text) for ln in lines}:
            counts[key] += 1
    for lines, height in zip(pages, heights, strict=True):
        order = sorted(lines, key=lambda ln: ln.y)
        outer = {id(ln) for ln in order[:2] + order[-2:]}
        for ln in lines:
            edge = ln.y > height * 0.9 or ln.y < height * 0.09 or (id(ln) in outer and ln.size <= body + 0.5)
            key = re.sub(r"\d+", "#", ln.text.lower()).strip()
            if edge and (counts[_furniture_key(ln.text)] >= keys_needed
                         or re.fullmatch(r"[#\s\-–—|]*(?:page\s*#)?[#\s]*", key)):
                ln.boiler = True


@dataclass
class Layout:
    """A document's lines page by page and what the rest of extraction measures against."""

    pages: list[list[Line]]
    rotated: list[Line]  # rotated lines (margin stamps), kept apart from the pages
    heights: list[float]
    body: float  # font size of the body text
    first: int  # index of the first content page (cover pages before it)
    body_font: str = ""  # the font most body text is set in


def read_layout(doc: RawDocument) -> Layout:
    """Lines of every page, running headers/footers and page numbers flagged, cover pages counted."""
    pages, rotated = build_lines(doc)
    heights = [p.height for p in doc.pages]
    body = measure_body_size(pages)
    mark_boilerplate(pages, heights, body)
    first = 0
    while first + 1 < len(pages) and first < 2 and (
            is_cover_page(pages[first]) or repeats_next_title(pages[first], pages[first + 1], body)):
        first += 1
    return Layout(pages, rotated, heights, body, first, measure_body_font(pages, body))


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def repeats_next_title(lines: list[Line], nxt: list[Line], body: float) -> bool:
    """Whether a page is a cover sheet put before the paper by a repository or a download site: a short page
    with no abstract that carries the title the next page opens with, that page's largest text near its top.
    (The paper's own first page never repeats as the next page's title; a running header is set small.)"""
    text = " ".join(ln.text for ln in lines)
    if not lines or len(lines) > 60 or re.search(r"(?i)\babstract\b", text):
        return False
    height = max((ln.y for ln in nxt), default=0.0)
    top = [ln for ln in nxt if ln.y >= 0.55 * height and any(c.isalpha() for c in ln.text) and not ln.boiler]
    if not top:
        return False
    size = max(ln.size for ln in top)
    if size < body + 1.5:
        return False
    title = _letters(" ".join(ln.text for ln in top if ln.size >= size - 0.3))
    return len(title) >= 12 and title in _letters(text)


def is_cover_page(lines: list[Line]) -> bool:
    text = " ".join(ln.text for ln in lines).lower()
    return bool(re.search(r"this paper is included in|open access to the proceedings|is sponsored by|"
                          r"cover page|this article appeared in|citation for published version|general rights|"
                          r"take down policy|downloaded from|link to publication|this version is available at|"
                          r"document version|terms of use|repository|accepted manuscript|author'?s (?:accepted )?"
                          r"(?:version|manuscript)|personal use of this material is permitted", text)) \
        and "abstract" not in text
