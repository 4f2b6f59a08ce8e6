"""PDF + the paper's figures -> one cropped PNG per figure (pypdfium2 renders; pypdf still reads all text).

A figure's region is found from its caption: the graphics (paths, images, shadings, form XObjects) and the
figure's own text (axis labels, legends) above the caption, within the caption's column (or across the page
when the caption straddles the gutter of a two-column page), up to the nearest line of body text or the
previous caption. When extraction did not record where the caption sits (`Figure.bbox` is None), the label is
searched for on its page at the start of a line.

Export is optional: whatever goes wrong (PDFium cannot open the file, a region is not found, a render fails)
becomes a warning in `FigureExport.warnings`, never an exception.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drafter.files import atomic_write, slugify
from drafter.paper import Figure
from drafter.pdfium_text import PDFIUM_LOCK

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, origin bottom-left

DPI = 170  # fit for a blog: sharp on a retina screen at column width, a few hundred KB per figure
PAD = 4.0  # points of white around the figure
MAX_SIDE = 4000  # pixels: a pathological region still renders in bounded memory
MIN_SIDE = 150  # pixels: a short, wide figure (a strip of thumbnails) is rendered larger to be seen at all
MAX_ZOOM = 4.0  # ... up to this many times DPI
_GRAPHIC_TYPES = (2, 3, 4, 5)  # FPDF_PAGEOBJ_PATH, _IMAGE, _SHADING, _FORM
_HEADING = re.compile(r"^(\d+(\.\d+)*|[A-Z](\.\d+)+)\.?\s+[A-Z][^.]{2,60}$")
_SUBCAPTION = re.compile(r"^\s*\(?[a-h]\)\s+\S")
_CAPTION_START = re.compile(r"^\s*(fig\.?|figure|table|tab\.)\s*[A-Z]?\d+", re.I)


@dataclass
class ExportedFigure:
    """One figure written as a PNG: the figure, the file, its link relative to the draft, pixel size."""

    figure: Figure
    path: Path
    link: str
    size: tuple[int, int]


@dataclass
class FigureExport:
    """What an export wrote, what it could not do (one line each), and how long it took."""

    images: list[ExportedFigure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str | None:
        """One warning line for stderr, or None when every figure was written."""
        if not self.warnings:
            return None
        if len(self.warnings) == 1:
            return f"figures: {self.warnings[0]}"
        return f"figures: {len(self.warnings)} not exported ({'; '.join(self.warnings[:3])}" + \
            (", ...)" if len(self.warnings) > 3 else ")")


def figures_dir(draft: Path) -> Path:
    """Where the PNGs of a draft go: `<draft-stem>-figures/` next to it."""
    return draft.with_name(f"{draft.stem}-figures")


def image_name(figure: Figure) -> str:
    """`figure-3.png` for "Figure 3" (`figure-a-1.png` for "Figure A.1")."""
    return f"{slugify(figure.label, 'figure')}.png"


# -- page layout ---------------------------------------------------------------------------------------


@dataclass
class Line:
    box: Box
    text: str

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass
class PageLayout:
    """What region finding needs of one page: its box, text lines and graphics objects."""

    box: Box
    lines: list[Line]
    graphics: list[Box]
    columns: list[tuple[float, float]]  # body text columns, left to right (x0, x1)
    furniture: list[Box] = field(default_factory=list)  # where running headers and footers were dropped


def _merge_lines(rects: Iterable[Line]) -> list[Line]:
    """PDFium's text rectangles split a line at font changes; join pieces on one baseline that nearly touch."""
    lines: list[Line] = []
    for rect in sorted(rects, key=lambda r: (-round(r.box[1]), r.box[0])):
        last = lines[-1] if lines else None
        if last is not None:
            overlap = min(last.box[3], rect.box[3]) - max(last.box[1], rect.box[1])
            gap = rect.box[0] - last.box[2]
            if overlap > 0.5 * min(last.height, rect.height) and -2 <= gap <= 6:
                last.box = (last.box[0], min(last.box[1], rect.box[1]), rect.box[2], max(last.box[3], rect.box[3]))
                last.text = f"{last.text} {rect.text}" if gap > 1 else last.text + rect.text
                continue
        lines.append(Line(rect.box, rect.text))
    return lines


def _columns(lines: list[Line], box: Box) -> list[tuple[float, float]]:
    """One or two body text columns, from where the long lines start and end (`lines` may come from several
    pages of the paper: a page that is mostly figure has too few lines of its own to tell)."""
    width = box[2] - box[0]
    mid = (box[0] + box[2]) / 2
    long = [ln for ln in lines if ln.width > 0.25 * width and len(ln.text) > 20]
    left = [ln for ln in long if ln.box[2] < mid + 5]
    right = [ln for ln in long if ln.box[0] > mid - 5]
    across = len(long) - len(left) - len(right)
    if len(left) + len(right) >= 8 and across < 0.25 * (len(left) + len(right)) and (left or right):
        if not left or not right:  # mirror the column that has text
            only = left or right
            x0, x1 = min(ln.box[0] for ln in only), max(ln.box[2] for ln in only)
            mirrored = (box[0] + box[2] - x1, box[0] + box[2] - x0)
            return [(x0, x1), mirrored] if left else [mirrored, (x0, x1)]
        return [(min(ln.box[0] for ln in left), max(ln.box[2] for ln in left)),
                (min(ln.box[0] for ln in right), max(ln.box[2] for ln in right))]
    if long:
        return [(min(ln.box[0] for ln in long), max(ln.box[2] for ln in long))]
    return [(box[0] + 0.1 * width, box[2] - 0.1 * width)]


def read_layout(page: Any) -> PageLayout:
    """The text lines and graphics objects of a pypdfium2 page."""
    left, bottom, right, top = page.get_cropbox()
    box = (float(left), float(bottom), float(right), float(top))
    area = (box[2] - box[0]) * (box[3] - box[1])
    graphics = []
    for obj in page.get_objects(max_depth=0):
        if obj.type not in _GRAPHIC_TYPES:
            continue
        bounds = obj.get_bounds() if hasattr(obj, "get_bounds") else obj.get_pos()  # pypdfium2 5 / 4
        x0, y0, x1, y1 = (float(v) for v in bounds)
        if (x1 - x0) * (y1 - y0) > 0.8 * area:  # a page background, not a figure
            continue
        graphics.append((max(x0, box[0]), max(y0, box[1]), min(x1, box[2]), min(y1, box[3])))
    textpage = page.get_textpage()
    try:
        rects = []
        for i in range(textpage.count_rects()):
            rect = tuple(float(v) for v in textpage.get_rect(i))
            text = textpage.get_text_bounded(*rect).strip()
            if text:
                rects.append(Line((rect[0], rect[1], rect[2], rect[3]), " ".join(text.split())))
    finally:
        textpage.close()
    lines = _merge_lines(rects)
    return PageLayout(box, lines, graphics, _columns(lines, box))


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def drop_furniture(layout: PageLayout, others: list[PageLayout]) -> PageLayout:
    """The page without its running header and footer: text lines and thin rules in the top or bottom margin
    band that recur at the same place on a neighbouring page (page numbers count as the same text)."""
    top, bottom = layout.box[3], layout.box[1]
    band = 0.15 * (top - bottom)

    def marginal(box: Box) -> bool:
        return box[1] > top - band or box[3] < bottom + band

    def same(a: Box, b: Box) -> bool:
        return all(abs(u - v) < 2.5 for u, v in zip(a, b, strict=True))

    repeated = {(_furniture_key(o.text), round(o.box[1]) + d) for other in others for o in other.lines
                if marginal(o.box) for d in (-2, -1, 0, 1, 2)}
    lines = [ln for ln in layout.lines
             if not (marginal(ln.box) and (_furniture_key(ln.text), round(ln.box[1])) in repeated)]
    rules = [o for other in others for o in other.graphics if marginal(o) and min(o[2] - o[0], o[3] - o[1]) < 2]
    graphics = [g for g in layout.graphics if not (
        marginal(g) and min(g[2] - g[0], g[3] - g[1]) < 2 and any(same(g, o) for o in rules))]
    dropped = [ln.box for ln in layout.lines if ln not in lines] + [g for g in layout.graphics if g not in graphics]
    return PageLayout(layout.box, lines, graphics, layout.columns, dropped)


# -- finding the caption and the figure ------------------------------------------------------------------


def _label_pattern(label: str) -> re.Pattern[str]:
    *prefix, kind, number = label.split() if len(label.split()) >= 2 else ("", label)
    kinds = {"figure": r"(?:figure|fig\.?)", "table": r"(?:table|tab\.?)"}.get(kind.lower(), re.escape(kind))
    lead = r"\s+".join(map(re.escape, prefix)) + r"\s+" if prefix else r"(?:appendix\s+)?"
    return re.compile(rf"^\s*{lead}{kinds}\s*{re.escape(number)}(?![\w.]\d)\s*[:.|\-—–]?", re.I)


def locate_caption(layout: PageLayout, figure: Figure) -> Box | None:
    """The caption's box on the page: the line starting with its label, and the caption lines under it."""
    pattern = _label_pattern(figure.label)
    starts = [ln for ln in layout.lines if pattern.match(ln.text)]
    if not starts:
        return None
    # Prefer a line that goes on with the caption's own words (a body line may also start "Figure 3 shows").
    words = " ".join(figure.caption.split()[:4]).lower()
    first = next((ln for ln in starts if words and words[:20] in ln.text.lower()), starts[0])
    x0, y0, x1, y1 = first.box
    below = sorted((ln for ln in layout.lines if ln.box[3] <= first.box[1] + 1), key=lambda ln: -ln.box[3])
    chars = len(first.text)
    for ln in below:
        if chars >= len(figure.caption) or y0 - ln.box[3] > 0.8 * first.height:
            break
        if ln.box[2] < x0 or ln.box[0] > x1 + 5:
            continue
        x0, y0, x1 = min(x0, ln.box[0]), ln.box[1], max(x1, ln.box[2])
        chars += len(ln.text) + 1
    return (x0, y0, x1, y1)


def _span(layout: PageLayout, caption: Box) -> tuple[float, float]:
    """The horizontal span a figure may take: the caption's column, or the whole text width."""
    columns = layout.columns
    if len(columns) == 1:
        return columns[0]
    (l0, l1), (r0, r1) = columns
    gutter = (l1 + r0) / 2
    if caption[0] < gutter - 10 and caption[2] > gutter + 10:
        return (l0, r1)
    return columns[0] if (caption[0] + caption[2]) / 2 < gutter else columns[1]


def _overlaps(box: Box, span: tuple[float, float]) -> bool:
    """Most of `box` lies within the horizontal span."""
    inside = min(box[2], span[1]) - max(box[0], span[0])
    return inside > 0.5 * max(box[2] - box[0], 1e-3) or (box[0] >= span[0] - 2 and box[2] <= span[1] + 2)


def _inside(box: Box, outer: Box, margin: float = 0.0) -> bool:
    return (box[0] >= outer[0] - margin and box[1] >= outer[1] - margin and box[2] <= outer[2] + margin
            and box[3] <= outer[3] + margin)


def _union(boxes: Iterable[Box]) -> Box:
    items = list(boxes)
    return (min(b[0] for b in items), min(b[1] for b in items), max(b[2] for b in items), max(b[3] for b in items))


def _crosses(box: Box, span: tuple[float, float], by: float = 10.0) -> bool:
    return min(box[2], span[1]) - max(box[0], span[0]) > by


def _body_height(layout: PageLayout) -> float:
    """The usual height of a body text line on the page (figure labels are mostly smaller)."""
    heights = sorted(round(ln.height, 1) for ln in layout.lines if len(ln.text) > 30)
    return heights[len(heights) // 2] if heights else 0.0


def _heading_key(text: str) -> str:
    return re.sub(r"^[\da-z]?[\d.]*\s+|\W+", "", text.lower()) if len(text) < 80 else ""


def _beside(layout: PageLayout, caption: Box, span: tuple[float, float]) -> tuple[float, float]:
    """The span narrowed to the caption's side when text sits beside the caption on its rows: the body text a
    wrap figure is set in, or the caption of a figure placed next to this one."""
    x0, x1 = span
    for line in layout.lines:
        box = line.box
        if len(line.text) < 4 or box[1] >= caption[3] - 1 or box[3] <= caption[1] + 1 or not _crosses(box, span, 0):
            continue
        if box[2] < caption[0] - 3:
            x0 = max(x0, caption[0] - 3, box[2] + 1)
        elif box[0] > caption[2] + 3:
            x1 = min(x1, caption[2] + 3, box[0] - 1)
    return (x0, x1)


def _across_gutter(layout: PageLayout, span: tuple[float, float], box: Box) -> bool:
    """In one column of two, the box reaches into the gutter's other side (not just into the page margin)."""
    if span == layout.columns[0]:
        return box[2] > span[1] + 10
    return box[0] < span[0] - 10


def _widened(layout: PageLayout, caption: Box, span: tuple[float, float], body_height: float) -> tuple[float, float]:
    """In one column of two, a drawing right above the caption that reaches across the gutter, with no body
    text in the other column beside it, is a full-width figure over a column-wide caption."""
    if len(layout.columns) != 2 or span not in layout.columns:
        return span
    near = [g for g in layout.graphics if caption[1] - 3 <= g[1] <= caption[3] + 3 * max(body_height, 8)
            and (g[1] + g[3]) / 2 > caption[3] and _crosses(g, span, 10)]
    across = [g for g in near if _across_gutter(layout, span, g)]
    if not across:
        return span
    other = layout.columns[1] if span == layout.columns[0] else layout.columns[0]
    top = max(g[1] for g in across)
    prose = [ln for ln in layout.lines if _crosses(ln.box, other, 30) and ln.width > 0.6 * (other[1] - other[0])
             and caption[1] - 1 <= ln.box[1] <= top]
    return span if prose else (layout.columns[0][0], layout.columns[1][1])


def figure_span(layout: PageLayout, caption: Box) -> tuple[float, float]:
    """The horizontal span the figure over this caption may take."""
    span = _beside(layout, caption, _span(layout, caption))
    return _widened(layout, caption, span, _body_height(layout))


def _other_floats(layout: PageLayout, caption: Box, span: tuple[float, float], others: Floats) -> float:
    """The lowest edge above the caption of another caption in the span, or of its table: a table set under
    its caption is found by its cells' text on the page."""
    ceiling = layout.box[3]
    for box, cells in others:
        if box[1] < caption[3] - 1 or not _crosses(box, span, 10):
            continue
        ceiling = min(ceiling, box[1])
        words = set(re.findall(r"\w{3,}", cells.lower()))
        rows = [ln for ln in layout.lines if caption[3] - 1 <= ln.box[1] < box[1] and _crosses(ln.box, span, 0)
                and (found := re.findall(r"\w{3,}", ln.text.lower())) and all(w in words for w in found)]
        bottom, pitch = box[1], 3 * max(_body_height(layout), 6.0)
        for row in sorted(rows, key=lambda ln: -ln.box[1]):  # down from the caption, while rows follow closely
            if bottom - row.box[3] > pitch:
                break
            bottom = min(bottom, row.box[1])
        if len(rows) >= 2:
            rules = [g for g in layout.graphics if bottom - pitch / 2 <= g[3] <= bottom + 1 and g[3] - g[1] < 2
                     and _crosses(g, span, 10)]  # the table's closing rule
            ceiling = min(ceiling, bottom, *(g[1] - 1 for g in rules))
    return ceiling


def _header_floor(layout: PageLayout, caption: Box, span: tuple[float, float]) -> float:
    """The bottom of the running header (its text and rule) above the caption, or the page top."""
    top_band = layout.box[3] - 0.075 * (layout.box[3] - layout.box[1])  # a running header, not a plot's ticks
    return min([layout.box[3], *(f[1] for f in layout.furniture
                                 if f[1] > max(caption[3], top_band) and _crosses(f, span, 0))])


def _ceiling(layout: PageLayout, caption: Box, span: tuple[float, float], graphics: list[Box],
             others: Floats = (), header: bool = False) -> float:
    """How high the figure may reach: the nearest body text line, section heading or other caption above the
    caption within the span (with `header`, also the page's running header)."""
    column = min(c[1] - c[0] for c in layout.columns)
    body_height = _body_height(layout)
    # Body text (a long line of body size; inside a graphic only when very long, as figures' own boxes may
    # be drawn over text), a section heading or another caption ends the figure.
    ceiling = min(_header_floor(layout, caption, span) if header else layout.box[3],
                  _other_floats(layout, caption, span, others))
    for line in layout.lines:
        if line.box[1] < caption[3] - 1 or not _crosses(line.box, span, min(30, 0.3 * (span[1] - span[0]))):
            continue
        if _SUBCAPTION.match(line.text):
            continue  # "(a) ..." under a panel: the figure goes on above it
        drawn_over = any(_inside(line.box, g, 2) for g in graphics)
        body_size = 0.85 * body_height <= line.height <= 1.6 * body_height
        long = line.width > 0.6 * min(column, span[1] - span[0]) and len(line.text) > 30 and body_size
        if (long and (not drawn_over or len(line.text) > 60)) or (not drawn_over and (
                _CAPTION_START.match(line.text) or (body_size and _HEADING.match(line.text)))):
            ceiling = min(ceiling, line.box[1])
    if len(layout.columns) == 2 and span in layout.columns:
        # In one column of two, a graphic reaching across the gutter is another float's (a wide table's rule),
        # unless it is centred on this column: a figure set a little wider than its column.
        for g in layout.graphics:
            reach = _crosses(g, span, 0.3 * (span[1] - span[0]))
            centred = span[0] <= (g[0] + g[2]) / 2 <= span[1] and g[2] - g[0] < 1.5 * (span[1] - span[0])
            if (g[1] + g[3]) / 2 > caption[3] and reach and not centred and _across_gutter(layout, span, g):
                ceiling = min(ceiling, g[1])
    return ceiling


Floats = Sequence[tuple[Box, str]]  # the other captions of the page, each with its table's cells ("" for a figure)


def _is_heading(line: Line, span: tuple[float, float], headings: frozenset[str]) -> bool:
    """One of the paper's headings, set where headings go: at the column's left edge or centred on it (a
    figure's own label may spell a section's name: "BERT")."""
    centred = abs((line.box[0] + line.box[2]) - (span[0] + span[1])) / 2 < 0.1 * (span[1] - span[0])
    return (abs(line.box[0] - span[0]) < 4 or centred) and _heading_key(line.text) in headings


def figure_band(layout: PageLayout, caption: Box, headings: frozenset[str] = frozenset(), others: Floats = ()) -> Box:
    """The box between the caption and what ends the figure above it: where a figure drawn without graphics
    objects (a scan, a text listing) must be."""
    span = figure_span(layout, caption)
    ceiling = _ceiling(layout, caption, span, [], others, header=True)  # the rendered band leaves the header out
    for line in layout.lines:  # an unnumbered heading of the paper
        if caption[3] <= line.box[1] < ceiling and _crosses(line.box, span, 0) and _is_heading(line, span, headings):
            ceiling = line.box[1]
    return (span[0], caption[3] + 0.5, span[1], ceiling - 1)


def side_band(layout: PageLayout, caption: Box) -> Box:
    """For a narrow caption set beside its figure (nothing printed above it): the column's room on the other
    side of the caption, between the nearest lines of running text above and below."""
    column = next((c for c in layout.columns if c[0] - 5 <= caption[0] and caption[2] <= c[1] + 5),
                  (layout.box[0], layout.box[2]))
    if caption[2] - caption[0] > 0.6 * (column[1] - column[0]):
        return (0.0, 0.0, 0.0, 0.0)  # a caption as wide as its column has no side
    left = caption[0] - column[0] > column[1] - caption[2]
    x0, x1 = (column[0], caption[0] - 3) if left else (caption[2] + 3, column[1])
    prose = [ln.box for ln in layout.lines if len(ln.text) >= 25 and _crosses(ln.box, (x0, x1), 10)]
    margin = 0.075 * (layout.box[3] - layout.box[1])  # never into the running header or footer
    floor = max([layout.box[1] + margin, *(b[3] for b in prose if b[3] <= caption[1] + 1)])
    ceiling = min([layout.box[3] - margin, *(b[1] for b in prose if b[1] >= caption[3] - 1)])
    return (x0, floor + 3, x1, ceiling - 3)  # (a scan's text boxes sit a little inside its glyphs)


def figure_region(layout: PageLayout, caption: Box, headings: frozenset[str] = frozenset(),
                  others: Floats = ()) -> Box | None:
    """The figure above a caption: its graphics and labels, bounded by the nearest body text or caption.

    `headings`: the paper's section headings (as `_heading_key` makes them), which end a figure too; `others`:
    the page's other captions (and their tables' cells), which do as well.
    """
    span = figure_span(layout, caption)
    body_height = _body_height(layout)
    graphics = [g for g in layout.graphics if (g[1] + g[3]) / 2 > caption[3] and _overlaps(g, span)
                and (g[2] - g[0]) * (g[3] - g[1]) > 1.0]
    ceiling = _ceiling(layout, caption, span, graphics, others)
    graphics = [g for g in graphics if g[3] <= ceiling + 1]
    if not graphics:
        return None
    region = _union(graphics)
    # Above the drawing, a body-size line starting at the column's left edge, or one of the paper's headings,
    # is the end of the text before the figure (the last, short line of a paragraph; an unnumbered heading).
    for line in layout.lines:
        if region[3] - 1 <= line.box[1] < ceiling and _crosses(line.box, span, 0) and (
                (abs(line.box[0] - span[0]) < 3 and line.height >= 0.85 * body_height)
                or _is_heading(line, span, headings)):
            ceiling = line.box[1]
    return _with_labels(layout, caption, span, region, ceiling, body_height)


def _with_labels(layout: PageLayout, caption: Box, span: tuple[float, float], region: Box, ceiling: float,
                 body_height: float) -> Box:
    """The drawing grown by the figure's own text: lines within the band that touch it (iterated: labels
    under labels), except body text beside the drawing (the text a narrow figure is wrapped in)."""
    texts = [ln for ln in layout.lines if ln.box[1] >= caption[3] - 1 and ln.box[3] <= ceiling + 1
             and _overlaps(ln.box, span)]
    drawn = region
    grown = True
    while grown:
        grown = False
        near = (region[0] - 14, region[1] - 10, region[2] + 14, region[3] + 10)
        for line in texts:
            box = line.box
            touches = box[0] < near[2] and box[2] > near[0] and box[1] < near[3] and box[3] > near[1]
            if not touches or _inside(box, region):
                continue
            beside = box[2] < drawn[0] + 5 or box[0] > drawn[2] - 5
            wordy = len(line.text) > 20 or len(re.findall(r"[A-Za-z]{2,}", line.text)) >= 2
            if beside and wordy and line.width > line.height >= 0.85 * body_height:
                continue
            region = _union([region, box])
            grown = True
    x0, y0, x1, y1 = region
    left, right = _beside_columns(layout, region, span, body_height)
    page = layout.box
    top = _header_floor(layout, caption, span) - 0.5  # an image reaching up over the running header stops there
    return (max(page[0], x0 - PAD, left), max(page[1], y0 - PAD, caption[3] + 0.5), min(page[2], x1 + PAD, right),
            min(page[3], y1 + PAD, top))


def _beside_columns(layout: PageLayout, region: Box, span: tuple[float, float], body_height: float,
                    ) -> tuple[float, float]:
    """How far left and right a figure may reach: not over the running text of the next column, which a
    drawing set a little wider than its own column (its frame reaching into the gutter) would take along."""
    left, right = layout.box[0], layout.box[2]
    for line in layout.lines:
        box, middle = line.box, (line.box[0] + line.box[2]) / 2
        if (span[0] <= middle <= span[1] or box[1] >= region[3] or box[3] <= region[1] or box[2] <= region[0]
                or box[0] >= region[2] or line.height < 0.85 * body_height or len(line.text) < 3):
            continue
        if middle < span[0]:
            left = max(left, box[2] + 1)
        else:
            right = min(right, box[0] - 1)
    return left, right


def ink_region(page: Any, band: Box) -> Box | None:
    """Where something is printed inside `band` (a figure with no graphics objects of its own: a scanned page,
    a code listing set as text, an image drawn through a form whose bounds say nothing), or None."""
    if band[3] - band[1] < 20 or band[2] - band[0] < 20:
        return None
    scale = 1.5
    left, bottom, right, top = page.get_cropbox()
    crop = (band[0] - left, band[1] - bottom, right - band[2], top - band[3])
    bitmap = page.render(scale=scale, crop=crop, draw_annots=False)
    try:
        image = bitmap.to_pil().convert("L")
    finally:
        bitmap.close()
    ink = image.point(lambda v: 255 if v < 200 else 0).getbbox()
    if not ink:
        return None
    x0, y0, x1, y1 = ink
    box = (band[0] + x0 / scale - PAD, band[3] - y1 / scale - PAD,
           band[0] + x1 / scale + PAD, band[3] - y0 / scale + PAD)
    if box[3] - box[1] < 20 + 2 * PAD:
        return None  # a stray line or mark, not a figure
    return (max(box[0], band[0]), max(box[1], band[1]), min(box[2], band[2]), min(box[3], band[3]))


# -- rendering -------------------------------------------------------------------------------------------


def render_png(page: Any, region: Box, dpi: int = DPI) -> tuple[bytes, tuple[int, int]]:
    """PNG bytes of one region of a page, and its size in pixels. A figure whose printed part is thinner than
    MIN_SIDE pixels at `dpi` is rendered larger (up to MAX_ZOOM times)."""
    longest = max(region[2] - region[0], region[3] - region[1], 1.0)
    scale = min(dpi / 72, MAX_SIDE / longest)
    image = _render(page, region, scale)
    if min(image.size) < MIN_SIDE:
        zoom = min(MAX_ZOOM, (MIN_SIDE + 2) / max(min(image.size), 1))
        image = _render(page, region, min(scale * zoom, MAX_SIDE / longest))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)  # 2-3x faster than the default 6, files no larger
    return buffer.getvalue(), image.size


def _render(page: Any, region: Box, scale: float) -> Any:
    left, bottom, right, top = page.get_cropbox()
    crop = (region[0] - left, region[1] - bottom, right - region[2], top - region[3])
    bitmap = page.render(scale=scale, crop=crop, draw_annots=False)
    try:
        return _trim(bitmap.to_pil(), round(PAD * scale))
    finally:
        bitmap.close()


def _trim(image: Any, pad: int) -> Any:
    """The image less its white margins (invisible objects widen a region), with `pad` pixels kept."""
    from PIL import ImageOps

    ink = ImageOps.invert(image.convert("L")).point(lambda v: 255 if v > 10 else 0).getbbox()
    if not ink:
        return image
    x0, y0, x1, y1 = ink
    return image.crop((max(0, x0 - pad), max(0, y0 - pad), min(image.width, x1 + pad), min(image.height, y1 + pad)))


@contextmanager
def _document(pdf: Path) -> Iterator[Any]:
    import pypdfium2

    with PDFIUM_LOCK:  # one PDFium call at a time in the process (see drafter.pdfium_text)
        document = pypdfium2.PdfDocument(str(pdf))
        try:
            yield document
        finally:
            document.close()


class _Pages:
    """Page layouts of one document, read once each."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.layouts: dict[int, PageLayout] = {}
        self.cleaned: dict[int, PageLayout] = {}

    def layout(self, index: int) -> PageLayout:
        if index not in self.layouts:
            page = self.document[index]
            try:
                self.layouts[index] = read_layout(page)
            finally:
                page.close()
        return self.layouts[index]

    def without_furniture(self, index: int) -> PageLayout:
        """The layout of page `index` (0-based) less what repeats on the pages around it."""
        if index in self.cleaned:
            return self.cleaned[index]
        around = [i for i in (index - 2, index - 1, index + 1, index + 2) if 0 <= i < len(self.document)]
        layout = drop_furniture(self.layout(index), [self.layout(i) for i in around])
        near = [ln for i in (index - 1, index, index + 1) if 0 <= i < len(self.document) for ln in self.layout(i).lines]
        layout.columns = _columns(near, layout.box)
        self.cleaned[index] = layout
        return layout


def _export_one(pages: _Pages, figure: Figure, out_dir: Path, link_dir: str,
                headings: frozenset[str], floats: Sequence[Figure] = ()) -> ExportedFigure | str:
    """The figure written as a PNG, or why it was not."""
    document = pages.document
    if not 1 <= figure.page <= len(document):
        return f"{figure.label}: page {figure.page} is not in the PDF"
    page = document[figure.page - 1]
    try:
        if page.get_rotation() % 360:
            return f"{figure.label}: page {figure.page} is rotated"
        layout = pages.without_furniture(figure.page - 1)
        caption = figure.bbox or locate_caption(layout, figure)
        if caption is None:
            return f"{figure.label}: caption not found on page {figure.page}"
        others = [(f.bbox, f.content) for f in floats if f.page == figure.page and f.bbox and f.bbox != caption]
        region = (figure_region(layout, caption, headings, others)
                  or ink_region(page, figure_band(layout, caption, headings, others))
                  or ink_region(page, side_band(layout, caption)))
        if region is None:
            return f"{figure.label}: nothing printed above its caption on page {figure.page}"
        data, size = render_png(page, region)
    finally:
        page.close()
    name = image_name(figure)
    path = out_dir / name
    atomic_write(path, data)
    return ExportedFigure(figure, path, f"{link_dir}/{name}", size)


def export_figures(pdf: Path, figures: list[Figure], out_dir: Path, headings: Iterable[str] = (),
                   tables: Iterable[Figure] = ()) -> FigureExport:
    """Write each figure of `figures` as `out_dir/figure-N.png`; problems become warnings, never exceptions.

    `headings`: the paper's section titles; a figure never reaches above one. `tables`: the paper's tables;
    a figure never reaches into one (their caption boxes and cells tell where they are).
    """
    result = FigureExport()
    started = time.perf_counter()
    wanted: dict[str, Figure] = {}
    for figure in figures:
        wanted.setdefault(image_name(figure), figure)  # a label found twice is exported once
    if not wanted:
        return result
    keys = frozenset(k for k in map(_heading_key, headings) if len(k) > 3)
    floats = [*figures, *tables]
    try:
        with _document(pdf) as document:
            pages = _Pages(document)
            for figure in wanted.values():
                try:
                    done = _export_one(pages, figure, out_dir, out_dir.name, keys, floats)
                except OSError:
                    raise  # the folder cannot be written: no point trying the next figure
                except Exception as exc:  # a render error on one figure costs only that figure
                    log.debug("exporting %s failed", figure.label, exc_info=True)
                    done = f"{figure.label}: {type(exc).__name__}: {exc}"
                if isinstance(done, str):
                    result.warnings.append(done)
                else:
                    result.images.append(done)
    except OSError as exc:
        result.warnings.append(f"cannot write {out_dir}: {exc.strerror or exc}")
    except Exception as exc:  # PDFium cannot open the file, or is missing: the draft goes on without images
        log.debug("figure export failed", exc_info=True)
        result.warnings.append(f"cannot render {pdf.name}: {type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    return result


# -- the header image ------------------------------------------------------------------------------------

_OVERVIEW = re.compile(r"\b(overview|architecture|framework|pipeline|schematic|illustration|diagram|"
                       r"building block|our (?:method|model|approach)|the proposed|approach)\b", re.I)


def overview_figure(images: list[ExportedFigure]) -> ExportedFigure | None:
    """The figure to suggest as the post's header: among the first three figures, the first whose caption
    names an overview or the architecture or method; otherwise the first figure."""
    figures = [im for im in images if "figure" in im.figure.label.lower()]
    for image in figures[:3]:
        if _OVERVIEW.search(image.figure.caption):
            return image
    return figures[0] if figures else None


__all__ = ["DPI", "ExportedFigure", "FigureExport", "PageLayout", "export_figures", "figure_region",
           "figures_dir", "image_name", "locate_caption", "overview_figure", "read_layout", "render_png"]
