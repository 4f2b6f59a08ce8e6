"""Layout lines -> figures, tables and footnotes, each line they take marked so section text skips it.

A caption is a line that opens with a label ("Figure 3:", "Fig. 3.", "Table 2.") and is not the tail of a
sentence running on from the line above; it continues while the next lines sit close below it. The lines
between a caption and the body prose next to it are the float's own text: a table's cells, a figure's
labels. Footnotes are the smaller lines at the foot of a page, below the body text, opening with a mark.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from drafter.extract.headings import classify_heading
from drafter.extract.layout import Layout, Line
from drafter.paper import Figure
from drafter.text import FOOTNOTE_MARKS, collect_vocabulary, normalize_text, strip_footnote_marks, unwrap_lines

# "Figure 3", "Fig. 3.", "Table 2:", "TABLE III", "Figure 1.1:" (chapter-numbered), "Figure A.1", "Appendix
# Figure A1 |", "Extended Data Fig. 1 |" (a series of its own, so the prefix stays in the label)
_LABEL = re.compile(r"^\s*(?P<prefix>(?:extended\s+data|supplementary|appendix)\s+)?"
                    r"(?P<kind>fig(?:ure)?\.?|table)\s*"
                    r"(?P<num>(?:[A-H]\.?)?\d{1,2}(?:\.\d{1,2})?(?![\d.]\d)|[IVX]{1,6}(?![A-Za-z]))(?P<rest>.*)$",
                    re.I | re.S)
_STRONG_SEPARATOR = re.compile(r"^\s*[.:|\u2014\u2013]\s*(?=\S)|^\s*[.:]?\s*$")
_SENTENCE_END = re.compile(r"[.!?:)\]]\s*$")


@dataclass
class Floats:
    figures: list[Figure] = field(default_factory=list)
    tables: list[Figure] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)


def find_floats(layout: Layout, skip: list[Line]) -> Floats:
    """Find captions, the tables and figure text around them and the footnotes; mark every line taken."""
    found = Floats()
    vocab = collect_vocabulary("\n".join(ln.text for lns in layout.pages for ln in lns))
    skip_ids = {id(ln) for ln in skip}
    captions = _find_captions(layout, skip_ids)
    above = _tables_sit_above(captions, layout.body)
    seen: set[str] = set()
    for cap in captions:
        is_table = cap.label.split()[-2] == "Table"
        region = _float_region(cap, layout.body, is_table, above)
        for ln in region:
            ln.kind = "table" if is_table else "figure"
        if cap.label in seen:  # the same label again (a continued table, a repeated figure): one entry
            continue
        seen.add(cap.label)
        entry = Figure(cap.label, _caption_text(cap.block, vocab), cap.block[0].page, _bbox(cap.block),
                       _cell_text(region) if is_table else "")
        (found.tables if is_table else found.figures).append(entry)
    for entry in _sideways_captions(layout, seen, vocab):
        (found.tables if entry.label.startswith("Table") else found.figures).append(entry)
    found.tables.sort(key=lambda f: f.page)
    found.figures.sort(key=lambda f: f.page)
    notes = _Notes()  # footnotes, line by line; one may run on into the next column or page
    for lines in layout.pages[layout.first:]:
        _find_footnotes(lines, layout.body, skip_ids, notes)
    for note in notes.lines:
        text = unwrap_lines(normalize_text("\n".join(note), vocab))
        text = re.sub(f"^[\\s\\d{re.escape(FOOTNOTE_MARKS)}]{{1,3}}(?=\\S)", "", text, count=1).strip()
        if text:
            found.footnotes.append(text)
    return found


def _sideways_captions(layout: Layout, seen: set[str], vocab: set[str]) -> list[Figure]:
    """Captions of floats turned on their side (landscape tables on a portrait page): a rotated line that opens
    with a label and a separator, on a content page where a whole float is rotated (not a margin stamp), with
    the rotated lines of its size and font that follow it closely. Labels already found upright are skipped."""
    pages = Counter(ln.page for ln in layout.rotated)
    out: list[Figure] = []
    rotated = [ln for ln in layout.rotated if ln.page > layout.first and pages[ln.page] >= 5]
    for i, ln in enumerate(rotated):
        m = _LABEL.match(ln.text)
        if m is None or not _STRONG_SEPARATOR.match(m.group("rest")) or len(m.group("rest").split()) < 2:
            continue
        is_table = m.group("kind").lower().startswith("t")
        label = f"{'Table' if is_table else 'Figure'} {m.group('num')}"
        if label in seen:
            continue
        seen.add(label)
        block = [ln]
        for nxt in rotated[i + 1:]:
            last = block[-1]
            if (nxt.page != ln.page or nxt.font != ln.font or abs(nxt.size - ln.size) > 0.3
                    or not 0 < abs(nxt.y - last.y) <= 1.5 * ln.size or _SENTENCE_END.search(last.text)):
                break
            block.append(nxt)
        out.append(Figure(label, _caption_text(block, vocab), ln.page))
    return out


@dataclass
class _Caption:
    label: str
    block: list[Line]  # the caption's lines
    lines: list[Line]  # every line of its page
    width: float  # the page's column width


def _find_captions(layout: Layout, skip_ids: set[int]) -> list[_Caption]:
    """Every caption of the content pages in document order; their lines are marked. When a label opens
    both a line set apart (smaller or bold) and a body-size line, the body line is a sentence ("Fig. 9.
    compares ..."), not the caption."""
    found: list[tuple[_Caption, bool]] = []
    for lines in layout.pages[layout.first:]:
        width = _column_width(lines, layout.body)
        for ln in lines:
            if id(ln) in skip_ids or ln.figure or ln.kind != "body" or (ln.boiler and not _label_alone(ln.text)):
                continue  # ("TABLE 1" alone at the top of pages looks like a running header)
            label = _caption_label(ln, lines, layout.body)
            if label is not None:
                block = _caption_block(ln, lines)
                for part in block:
                    part.kind = "caption"
                found.append((_Caption(label, block, lines, width), _set_apart(ln, layout.body)))
    apart = {cap.label for cap, set_apart in found if set_apart}
    for cap, set_apart in found:
        if not set_apart and cap.label in apart:
            for part in cap.block:
                part.kind = "body"
    return [cap for cap, set_apart in found if set_apart or cap.label not in apart]


def _tables_sit_above(captions: list[_Caption], body: float) -> bool | None:
    """The paper's habit: tables above their captions (True), below (False), or no telling (None). Decided by
    the captions with a table on one side only; a caption with text on both sides then follows the habit."""
    votes: Counter[bool] = Counter()
    for cap in captions:
        if cap.label.split()[-2] == "Table":
            up = _walk(cap, body, upward=True, limit=3.2 * body)
            down = _walk(cap, body, upward=False, limit=3.2 * body)
            if bool(up) != bool(down):
                votes[bool(up)] += 1
    if votes[True] == votes[False]:
        return None
    return votes[True] > votes[False]


def _caption_label(line: Line, lines: list[Line], body: float) -> str | None:
    """'Figure 3' / 'Table 2' / 'Table III' when the line opens a caption, else None."""
    m = _LABEL.match(line.text)
    if m is None:
        return None
    rest, num = m.group("rest"), m.group("num")
    is_table = m.group("kind").lower().startswith("t")
    if num[0] in "IVXivx" and not (is_table and num.isupper()):
        return None  # roman numbers: IEEE's "TABLE III" only
    set_apart = _set_apart(line, body)
    if _label_alone(line.text):  # the label alone on its line: the caption must follow below it
        if not _caption_below(line, lines):
            return None
    elif not _STRONG_SEPARATOR.match(rest) and not (set_apart and re.match(r"\s+[A-Z(]", rest)):
        return None
    if not set_apart and _continues_sentence(line, lines):
        return None  # "... as shown in" / "Figure 3. The results ...": a sentence wrapped onto this line
    prefix = " ".join(m.group("prefix").split()).title() + " " if m.group("prefix") else ""
    prefix = "" if prefix.startswith("Appendix") else prefix  # "Appendix Figure A1" is Figure A1
    return f"{prefix}{'Table' if is_table else 'Figure'} {num}"


def _set_apart(line: Line, body: float) -> bool:
    """Set apart from the body text: a bold label, or a smaller font."""
    return (bool(line.spans) and line.spans[0].bold and line.bold < 0.95) or line.size <= body - 0.5


def _label_alone(text: str) -> bool:
    m = _LABEL.match(text)
    return m is not None and not m.group("rest").strip(" .:|\u2014\u2013")


def _caption_below(label: Line, lines: list[Line]) -> bool:
    """A label alone on its line ("TABLE 2", "Figure 4") opens a caption only when nothing else sits on its
    row (a table cell saying "Figure A9" has neighbours) and a line of text follows closely below it, starting
    where it starts or centred under it."""
    if any(ln is not label and abs(ln.y - label.y) < 0.5 * label.size and ln.x1 > label.x - 4 * label.size
           and ln.x < label.x1 + 4 * label.size for ln in lines):
        return False
    below = [ln for ln in lines if 0.5 < label.y - ln.y <= 1.8 * max(label.size, ln.size)
             and abs(ln.size - label.size) <= 1.5 and not ln.figure]
    return any((abs(ln.x - label.x) <= 1.5 * label.size or abs((ln.x + ln.x1) - (label.x + label.x1)) < 8)
               and ln.text.count("  ") < 2 and len(ln.text.split()) >= 2 and not _LABEL.match(ln.text)
               for ln in below)


def _continues_sentence(line: Line, lines: list[Line]) -> bool:
    """Whether the line directly above (same column, same size, one line pitch) ends mid-sentence."""
    above = [ln for ln in lines if ln is not line and ln.page == line.page and not ln.boiler and not ln.figure
             and 0 < ln.y - line.y <= 1.45 * line.size and abs(ln.size - line.size) < 0.3
             and ln.x < line.x1 and ln.x1 > line.x]
    if not above:
        return False
    nearest = min(above, key=lambda ln: ln.y - line.y)
    return not _SENTENCE_END.search(nearest.text)


def _caption_block(first: Line, lines: list[Line]) -> list[Line]:
    """The caption's lines: its first line and those closely below it, inside its width and of its size. A
    label alone on its line ("TABLE 2") is followed by the caption text, which sets the width."""
    block = [first]
    label = _LABEL.match(first.text)
    alone = _label_alone(first.text)
    head = len(first.text) - len(label.group("rest").lstrip(" .:|\u2014\u2013")) if label else 0
    hang = first.x + (first.x1 - first.x) * head / max(len(first.text), 1)  # where the text after the label starts
    top = first
    while True:
        last = block[-1]
        x0, x1 = top.x - 3, max(top.x1, top.x + 40) + 3
        # mid-sentence, a ragged-right caption's next line, starting where the caption starts, may be wider
        ragged = x1 + 0.5 * (top.x1 - top.x) if not _SENTENCE_END.search(last.text) else x1
        wide = alone and len(block) == 1
        below = [ln for ln in lines if ln.y < last.y - 0.5 and last.y - ln.y <= (1.8 if wide else 1.5) * last.size
                 and (wide or (ln.x >= x0 and (ln.x1 <= x1 or (ln.x <= top.x + 1.5 * first.size
                                                               and ln.x1 <= ragged))))
                 and abs(ln.size - first.size) <= (1.5 if wide else 0.6)
                 and ln.kind == "body" and not ln.figure and ln not in block]
        if not below:
            return block
        nxt = max(below, key=lambda ln: ln.y)
        label = _LABEL.match(nxt.text)
        if label and _STRONG_SEPARATOR.match(label.group("rest")):
            return block
        # caption lines start where the caption starts, under its text after the label (a hanging indent),
        # or are centred like it; a table's rows do not
        aligned = (abs(nxt.x - top.x) <= 1.5 * first.size or abs(nxt.x - hang) <= 1.2 * first.size
                   or abs((nxt.x + nxt.x1) - (top.x + top.x1)) < 6 or (wide and abs(
                       (nxt.x + nxt.x1) - (first.x + first.x1)) < 8))
        if not aligned or nxt.text.count("  ") >= 2 or (nxt.boiler and not wide):
            return block
        block.append(nxt)
        if wide or nxt.x1 - nxt.x > top.x1 - top.x:
            top = nxt  # the widest line so far bounds the next ones
        hang = hang if not wide else nxt.x


def _column_width(lines: list[Line], body: float) -> float:
    """The usual width of a body text line on the page (one column's width)."""
    widths: Counter[int] = Counter()
    for ln in lines:
        if abs(ln.size - body) <= 0.6 and len(ln.text) > 30:
            widths[round((ln.x1 - ln.x) / 4)] += 1
    return widths.most_common(1)[0][0] * 4.0 if widths else 250.0


def _is_prose(line: Line, body: float, width: float) -> bool:
    """A line of running text: body size and either as wide as the column or a sentence's end."""
    if abs(line.size - body) > 0.6 or len(line.text) <= 25 or line.text.count("  ") >= 2:
        return False
    return line.x1 - line.x >= 0.85 * width or (
        bool(re.search(r"[a-z]{2}[.!?]['\u2019\u201d)]?$", line.text.rstrip())) and len(line.text.split()) >= 4)


def _float_region(cap: _Caption, body: float, is_table: bool, above: bool | None) -> list[Line]:
    """The lines of the float next to its caption: above (figures; tables whose caption is below them) or
    below (tables captioned on top), up to the body prose or a heading."""
    up = _walk(cap, body, upward=True, limit=3.2 * body if is_table else 400.0)
    if not is_table:
        return up
    down = _walk(cap, body, upward=False, limit=3.2 * body)
    if not down or not up:
        return up or down
    if above is not None:  # text on both sides: the paper's habit decides
        return up if above else down
    gap_up = min(ln.y for ln in up) - max(ln.y for ln in cap.block)
    gap_down = min(ln.y for ln in cap.block) - max(ln.y for ln in down)
    return up if gap_up <= gap_down else down


def _walk(cap: _Caption, body: float, upward: bool, limit: float) -> list[Line]:
    """The lines from the caption up (or down) to the first prose line, heading, caption or wide gap."""
    block, lines, width = cap.block, cap.lines, cap.width
    x0, x1 = _column_of(block, lines, body, width)
    edge = max(ln.y for ln in block) if upward else min(ln.y for ln in block)
    sign = 1 if upward else -1
    candidates = [ln for ln in lines if not ln.boiler and not ln.figure and ln not in block
                  and (ln.y - edge) * sign > 1 and ln.x < x1 and ln.x1 > x0]
    candidates.sort(key=lambda ln: (ln.y - edge) * sign)
    out: list[Line] = []
    last = edge
    for i, ln in enumerate(candidates):
        if (ln.kind != "body" or (ln.y - last) * sign > limit or _LABEL.match(ln.text)
                or classify_heading(ln, body) is not None):
            break
        if _is_prose(ln, body, width):
            break
        # a paragraph's short last line: body prose follows one line pitch further on, starting where it starts
        beyond = [o for o in candidates[i + 1:i + 4] if 0 < (o.y - ln.y) * sign <= 1.5 * ln.size
                  and abs(o.x - ln.x) < 2 and _is_prose(o, body, width)]
        if abs(ln.size - body) <= 0.6 and beyond:
            break
        out.append(ln)
        last = ln.y
    return out


def _column_of(block: list[Line], lines: list[Line], body: float, width: float) -> tuple[float, float]:
    """The caption's horizontal extent widened to the column(s) of body prose it sits in (a short caption
    under a wide table)."""
    x0, x1 = min(ln.x for ln in block), max(ln.x1 for ln in block)
    prose = [ln for ln in lines if _is_prose(ln, body, width) and ln.x < x1 and ln.x1 > x0]
    if prose:
        x0, x1 = min(x0, min(ln.x for ln in prose)), max(x1, max(ln.x1 for ln in prose))
    return x0, x1


def _caption_text(block: list[Line], vocab: set[str]) -> str:
    m = _LABEL.match(block[0].text)
    first = re.sub(r"^\s*[.:|\u2014\u2013]?\s*", "", m.group("rest")) if m else block[0].text
    raw = "\n".join([first, *(ln.text for ln in block[1:])])
    return unwrap_lines(normalize_text(strip_footnote_marks(raw), vocab))


def _bbox(block: list[Line]) -> tuple[float, float, float, float]:
    """Where the caption is printed, in PDF points (x0, y0, x1, y1; origin bottom-left)."""
    return (round(min(ln.x for ln in block), 1), round(min(ln.y - 0.25 * ln.size for ln in block), 1),
            round(max(ln.x1 for ln in block), 1), round(max(ln.y + 0.8 * ln.size for ln in block), 1))


def _cell_text(region: list[Line]) -> str:
    """A table's cells as text: one row per line, cells left to right separated by two spaces."""
    rows: list[list[Line]] = []
    for ln in sorted(region, key=lambda ln: (-ln.y, ln.x)):
        if rows and abs(rows[-1][0].y - ln.y) < 0.5 * ln.size:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return "\n".join("  ".join(c.text for c in sorted(row, key=lambda c: c.x)) for row in rows)


@dataclass
class _Notes:
    lines: list[list[str]] = field(default_factory=list)  # each footnote's lines
    open: bool = False  # the last one was cut mid-sentence at the foot of the last column read


def _find_footnotes(lines: list[Line], body: float, skip_ids: set[int], notes: _Notes) -> None:
    """Footnotes: smaller lines at the foot of a column, below its body text, the first opening with a mark
    (or going on with the previous column's last note, cut mid-sentence). Adds their lines to `notes`."""
    prose = [ln for ln in lines if abs(ln.size - body) <= 0.6 and ln.kind == "body" and not ln.boiler
             and not ln.figure and len(ln.text) > 30]
    if len(prose) < 3:
        return

    def below_prose(ln: Line) -> bool:
        column = [p for p in prose if p.x < ln.x1 and p.x1 > ln.x]
        return bool(column) and all(p.y > ln.y for p in column)

    foot = [ln for ln in lines if ln.kind == "body" and not ln.boiler and not ln.figure and id(ln) not in skip_ids
            and ln.size <= body - 0.8 and below_prose(ln)]
    middle = (min((ln.x for ln in lines), default=0.0) + max((ln.x1 for ln in lines), default=0.0)) / 2
    for right in (False, True):
        run = sorted((ln for ln in foot if (ln.x >= middle) == right), key=lambda ln: -ln.y)
        if not run or not (_opens_footnote(run[0]) or notes.open):
            if run or any((ln.x >= middle) == right for ln in prose):
                notes.open = False  # this column ends without the rest of it
            continue
        for ln in run:
            ln.kind = "footnote"
            if _opens_footnote(ln) or not notes.lines:
                notes.lines.append([ln.text])
            else:
                notes.lines[-1].append(ln.text)
        last = notes.lines[-1][-1].rstrip()
        notes.open = bool(re.search(r"[a-z,;-]$", last)) and not re.search(r"(?:https?://|www\.)\S*$", last)


def _opens_footnote(line: Line) -> bool:
    """A footnote's first line starts with its mark: a raised small digit or symbol, or a mark character."""
    if line.spans and len(line.spans) > 1:
        head = line.spans[0]
        if head.size < 0.85 * max(s.size for s in line.spans) and re.fullmatch(
                f"[\\s\\d{re.escape(FOOTNOTE_MARKS)}a-z]{{1,3}}", head.text):
            return True
    return bool(re.match(f"^\\s*(?:[{re.escape(FOOTNOTE_MARKS)}\u2217\u2020\u2021]|\\d{{1,2}}(?=[A-Za-z]))",
                         line.text))
