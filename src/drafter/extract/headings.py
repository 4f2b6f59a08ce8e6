"""Positioned lines -> headings, and the text under each: abstract, body sections, the reference lines.

Headings are bold or larger lines, numbered or known by name ("References", "Acknowledgments"); the
numbering must count up, the PDF outline (bookmarks) confirms and completes them.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from drafter.extract.layout import Layout, Line, drop_marks, join_spans
from drafter.ingest import RawDocument
from drafter.paper import Section
from drafter.text import (
    collect_vocabulary,
    expand_ligatures,
    normalize_text,
    restore_accents,
    strip_footnote_marks,
    unwrap_lines,
)

SECTION_NUM = re.compile(r"^(?:(?:section|chapter)\s+)?(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$", re.I)
_APPENDIX_NUM = re.compile(r"^(?:appendix\s+)?([A-H](?:\.\d{1,2}){0,3})(?:\.|:|\s)\s*(\S.*)$")
_APPENDIX_WORD = re.compile(
    r"^(?:appendix|appendices|supplementary material)\b[\s.:]*((?-i:[A-H])(?:\.\d+)*(?=[\s.:]|$))?[\s.:]*(.*)$",
    re.I)
_ROMAN_NUM = re.compile(r"^((?:IX|IV|V?I{0,3}|X))\.\s+(\S.*)$")
REFERENCES = re.compile(r"^(?:\d{1,2}\.?\s+)?(references|bibliography|literature cited|works cited)\s*$", re.I)
FRONT_MATTER = re.compile(r"(?i)^(key\s?words|index terms|ccs concepts|general terms|acm reference format|"
                           r"categories and subject descriptors)\b")
ACK = re.compile(r"^(?:\d{1,2}\.?\s+)?acknowledg(?:e)?ments?\b", re.I)
ABSTRACT = re.compile(r"^\s*a\s?bstract\b\s*[.:\u2014\u2013-]?\s*(.*)$", re.I)
_CAPTION = re.compile(r"^(?:fig(?:ure)?|table|algorithm|listing|eq(?:uation)?)\.?\s*\d", re.I)


def clean_title(text: str, force: bool = False) -> str:
    text = restore_accents(expand_ligatures(strip_footnote_marks(text)))
    text = re.sub(r"\s+", " ", text).strip(" .")
    letters = [c for c in text if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and (len(letters) > 12 or force):  # small/all caps
        small = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "via",
                 "with"}
        words = text.lower().split(" ")
        text = " ".join(w if i and w in small else w[:1].upper() + w[1:] for i, w in enumerate(words))
    return text



@dataclass
class Heading:
    line: Line
    title: str
    level: int
    number: str
    appendix: bool
    forced: bool = False  # confirmed by the PDF outline (bookmarks)


def classify_heading(line: Line, body: float, loose: bool = False) -> Heading | None:
    """Decide whether a line is a section heading (bold or larger, numbered or a known section name).

    `loose` also accepts unnumbered bold lines at body size: for papers whose headings carry no numbers.
    """
    text = restore_accents(expand_ligatures(line.text)).strip()
    if len(text) > 110 or len(text) < 3 or line.boiler or line.figure:
        return None
    small_caps = bool(re.search(r"(?i)csc|smallcap|-sc\b|caps", line.font)) or bool(
        re.fullmatch(r"(?:[IVX]+|[A-H]|\d{1,2})(?:\.\d{1,2})*\.?\s+[A-Z][A-Z0-9 ,:&'-]{3,}", text))
    emphasised = (line.bold >= 0.6 or line.size >= body + 0.9 or small_caps
                  or bool(REFERENCES.match(text)) or bool(re.fullmatch(r"(?i)acknowledge?ments?\.?", text))
                  or (not line.spans and bool(SECTION_NUM.match(text))))  # text-only page: numbering decides
    if not emphasised or _CAPTION.match(text):
        return None
    m = SECTION_NUM.match(text)
    number = ""
    appendix = False
    title = text
    if m:
        number, title = m.group(1), m.group(2)
    else:
        ma = _APPENDIX_WORD.match(text)
        if ma and ma.group(2) and not ma.group(2)[:1].isupper() and not ma.group(1):
            return Heading(line, "Appendix", 1, "", True)
        if ma and (ma.group(1) or ma.group(2)):
            number, title, appendix = ma.group(1) or "", ma.group(2) or text, True
        elif ma:
            return Heading(line, "Appendix", 1, "", True)
        else:
            mb = _APPENDIX_NUM.match(text)
            if mb and len(mb.group(1)) >= 1 and mb.group(2)[:1].isupper():
                number, title, appendix = mb.group(1), mb.group(2), True
            else:
                mr = _ROMAN_NUM.match(text)
                if mr and mr.group(1):
                    number, title = str(_parse_roman(mr.group(1))), mr.group(2)
    title = re.sub(r"\s+", " ", strip_footnote_marks(title)).strip(" .:")
    if not title or not title[:1].isupper() or title.endswith((",", ";")) or len(title.split()) > 14:
        return None
    if re.search(r"[=<>\u2264\u2265\u2208]|\d{3,}", title):
        return None
    if not number and not (line.size >= body + 0.9 or REFERENCES.match(text) or ACK.match(text)
                           or ABSTRACT.match(text) or (loose and line.bold >= 0.98)):
        return None
    if not number and (title.endswith(".") or len(title.split()) > 8):
        return None
    level = number.count(".") + 1 if number else 1
    return Heading(line, title, level, number, appendix)


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def fix_heading_case(sections: list[Section]) -> None:
    """Headings set in capitals / small caps get mixed case; lone acronyms ("BERT") stay unless every heading
    of the paper is in capitals (then the style, not the word, made them capitals)."""
    caps_style = sum(_is_caps(s.title) for s in sections) >= max(2, 0.6 * len(sections))
    for sec in sections:
        if _is_caps(sec.title) and (caps_style or " " in sec.title or len(sec.title) >= 7):
            sec.title = clean_title(sec.title, force=True)


def add_outline_headings(doc: RawDocument, lines: list[Line], candidates: list[Heading],
                          skip: set[int]) -> list[Heading]:
    """Headings the outline (bookmarks) lists but the layout did not show: the first matching line on that page."""
    found = {_fold_heading(h.title) for h in candidates}
    at = {id(h.line) for h in candidates}
    order = {id(ln): i for i, ln in enumerate(lines)}
    added: list[Heading] = []
    for item in doc.outline:
        key = _fold_heading(item.title)
        if not key or key in found:
            if key in found:
                for h in candidates:
                    if _fold_heading(h.title) == key:
                        h.forced = True
            continue
        for ln in lines:
            if id(ln) in skip or id(ln) in at or (item.page is not None and ln.page != item.page):
                continue
            bare = SECTION_NUM.match(ln.text)
            if _fold_heading(bare.group(2) if bare else ln.text) == key:
                number = bare.group(1) if bare else ""
                title = re.sub(r"\s+", " ", strip_footnote_marks(bare.group(2) if bare else ln.text)).strip()
                level = number.count(".") + 1 if number else item.level
                added.append(Heading(ln, title, level, number, False, True))
                found.add(key)
                break
    if not added:
        return candidates
    return sorted(candidates + added, key=lambda h: order.get(id(h.line), 0))


def _fold_heading(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", restore_accents(expand_ligatures(text)).lower()).strip()


def _is_special_heading(h: Heading) -> bool:
    text = h.line.text
    return bool(REFERENCES.match(text) or ACK.match(text) or ABSTRACT.match(text) or h.title == "Appendix"
                or FRONT_MATTER.match(h.title))


def _parse_roman(numeral: str) -> int:
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for i, ch in enumerate(numeral):
        v = values[ch]
        total += -v if i + 1 < len(numeral) and values[numeral[i + 1]] > v else v
    return total


def select_headings(candidates: list[Heading]) -> list[Heading]:
    """Keep headings whose numbering is consistent: top-level numbers count up, sub-numbers follow them."""
    out: list[Heading] = []
    numbered_fonts = {h.line.font for h in candidates if h.number}
    texts = Counter(h.title for h in candidates if not h.number)
    if len(numbered_fonts) and sum(1 for h in candidates if h.number) >= 2:
        # unnumbered headings must look like the numbered ones; repeated ones are figure labels
        candidates = [h for h in candidates if h.number or h.forced or _is_special_heading(h) or (
            h.line.font in numbered_fonts and texts[h.title] == 1)]
        # before the first numbered heading only the abstract and front matter can be unnumbered
        first_numbered = next(i for i, h in enumerate(candidates) if h.number)
        candidates = [h for i, h in enumerate(candidates)
                      if i >= first_numbered or h.forced or _is_special_heading(h)]
    top = 0
    sub_prefix = ""
    appendix_letter = ""
    for h in candidates:
        if h.number and h.number.split(".")[0].isdigit() and not h.appendix:
            parts = [int(p) for p in h.number.split(".")]
            if len(parts) == 1:
                if top and parts[0] != top + 1:
                    continue
                top = parts[0]
                sub_prefix = h.number
            elif str(parts[0]) != sub_prefix.split(".")[0] or parts[0] != top:
                continue
        elif h.number and h.appendix:
            if not top:  # lettered headings before the numbered body are not appendices ("A Study of ...")
                continue
            letter = h.number.split(".")[0]
            if "." not in h.number:
                if appendix_letter and ord(letter) != ord(appendix_letter) + 1:
                    continue
                if not appendix_letter and letter != "A":
                    continue
                appendix_letter = letter
            elif letter != appendix_letter:
                continue
        out.append(h)
    return out



@dataclass
class Body:
    """What the walk over the content pages found."""

    abstract: str = ""
    sections: list[Section] = field(default_factory=list)
    reference_lines: list[Line] = field(default_factory=list)
    url_text: list[str] = field(default_factory=list)  # prose outside the references, where URLs are looked for


def find_headings(doc: RawDocument, lines: list[Line], body: float, skip_ids: set[int]) -> list[Heading]:
    """The section headings among `lines`: numbered ones when the paper numbers them, else bold lines."""
    candidates: list[Heading] = []
    for ln in lines:
        if id(ln) in skip_ids:
            continue
        h = classify_heading(ln, body)
        if h is not None:
            candidates.append(h)
    if sum(1 for h in candidates if h.number and not h.appendix) < 2:  # unnumbered headings: bold lines
        candidates = [h for ln in lines if id(ln) not in skip_ids
                      and (h := classify_heading(ln, body, loose=True)) is not None]
    candidates = add_outline_headings(doc, lines, candidates, skip_ids)
    return select_headings(candidates)


def read_body(doc: RawDocument, layout: Layout, title_lines: list[Line], abstract_line: Line | None) -> Body:
    """Walk the content pages: the abstract, each section's text, the reference lines, prose for URLs."""
    body = layout.body
    all_lines: list[Line] = [ln for lns in layout.pages[layout.first:] for ln in lns]
    not_prose = {id(ln) for ln in all_lines if ln.kind != "body"}
    headings = find_headings(doc, all_lines, body, {id(ln) for ln in title_lines} | not_prose)
    paragraphs = _Paragraphs(all_lines, body)
    heading_at = {id(h.line): h for h in headings}
    vocab = collect_vocabulary("\n".join(ln.text for ln in all_lines))

    sections: list[Section] = []
    references_lines: list[Line] = []
    abstract_lines: list[Line] = []
    body_url_text: list[str] = []
    state = "front"
    after_refs = False
    current: list[str] = []
    start_index = all_lines.index(abstract_line) if abstract_line in all_lines else 0
    inline_abstract = ""
    if abstract_line is not None:
        m = ABSTRACT.match(abstract_line.text)
        inline_abstract = m.group(1) if m else ""

    target: Section | None = None

    def flush() -> None:
        if target is not None:
            text = unwrap_lines(normalize_text("\n".join(current), vocab))
            target.text = f"{target.text}\n\n{text}".strip() if target.text else text
        current.clear()

    abstract_size = None
    consumed: set[int] = set()
    for idx, ln in enumerate(all_lines):
        if id(ln) in consumed:
            continue
        h = heading_at.get(id(ln))
        if h is not None and (idx > start_index or abstract_line is None):
            if ABSTRACT.match(ln.text):
                state = "abstract"
                continue
            # a heading wrapped over several lines: same style, directly below, not numbered itself
            title = h.title
            for nxt in all_lines[idx + 1:idx + 3]:
                if (ln.spans and nxt.page == ln.page and nxt.font == ln.font and abs(nxt.size - ln.size) < 0.2
                        and 0 < ln.y - nxt.y < 1.6 * ln.size
                        and (id(nxt) not in heading_at or not heading_at[id(nxt)].number)
                        and not SECTION_NUM.match(nxt.text) and len(nxt.text) < 80):
                    title = f"{title} {strip_footnote_marks(nxt.text).strip()}".strip()
                    consumed.add(id(nxt))
                    ln = nxt
                else:
                    break
            flush()
            if REFERENCES.match(h.line.text):
                state, target = "refs", None
                after_refs = True
                continue
            if ACK.match(h.line.text) or FRONT_MATTER.match(h.title):
                state, target = "skip", None
                continue
            if h.title == "Appendix" and not h.number:
                state, target = "skip", None
                after_refs = True
                continue
            if state == "refs" and not h.number and h.line.size < body + 0.9:
                references_lines.append(h.line)
                continue
            is_appendix = h.appendix or after_refs or bool(
                sections and sections[-1].appendix and not h.number[:1].isdigit())
            target = Section(title.strip(" .:"), h.level, h.line.page, "", is_appendix)
            sections.append(target)
            state = "section"
            continue
        if ln is abstract_line:
            state = "abstract"
            continue
        if ln.boiler:
            continue
        if ln.figure or id(ln) in not_prose:  # plot labels, captions, tables, footnotes: URLs there still count
            body_url_text.append(ln.text)
            continue
        if state == "abstract" and idx > start_index:
            if abstract_size is None:
                abstract_size = ln.size
            keywords = re.match(r"(?i)(key\s?words|index terms|ccs concepts|acm reference format)\b", ln.text)
            # no heading after the abstract: it still ends with its page once it has some text, or when long
            overflow = abstract_lines and ((ln.page != abstract_lines[0].page and len(abstract_lines) >= 3)
                                           or sum(len(a.text) for a in abstract_lines) > 4000)
            if keywords or overflow:
                state = "front"
                body_url_text.append(ln.text)
            elif abs(ln.size - abstract_size) <= 0.6:
                abstract_lines.append(ln)
            continue
        if state == "section":
            if current and paragraphs.starts(ln):
                current.append("")
            paragraphs.last = ln
            current.append(ln.text)
            body_url_text.append(ln.text)
        elif state == "refs":
            references_lines.append(ln)
        else:
            body_url_text.append(ln.text)
    flush()
    abstract_raw = "\n".join(([inline_abstract] if inline_abstract else [])
                             + [join_spans(drop_marks(ln.spans)) or ln.text for ln in abstract_lines])
    abstract = unwrap_lines(normalize_text(strip_footnote_marks(abstract_raw), vocab))
    sections = [s for s in sections if s.title]
    fix_heading_case(sections)
    return Body(abstract, sections, references_lines, body_url_text)


class _Paragraphs:
    """Tells where a new paragraph starts: a wider gap than the line pitch, a first-line indent, or a short
    line ending a sentence before it."""

    def __init__(self, lines: list[Line], body: float) -> None:
        self.last: Line | None = None
        prose = [ln for ln in lines if abs(ln.size - body) <= 0.6 and ln.kind == "body" and not ln.boiler
                 and not ln.figure and len(ln.text) > 30]
        steps = sorted(a.y - b.y for a, b in itertools.pairwise(prose)
                       if a.page == b.page and 0.8 * body <= a.y - b.y <= 1.6 * body)
        self.pitch = steps[len(steps) // 2] if steps else 1.2 * body
        self.lefts: dict[int, Counter[int]] = {}  # page -> how many prose lines start at each x
        self.rights: dict[tuple[int, int], float] = {}  # (page, left x) -> right edge of that column
        for ln in prose:
            self.lefts.setdefault(ln.page, Counter())[round(ln.x)] += 1
        for ln in prose:
            key = (ln.page, self._left(ln))
            self.rights[key] = max(self.rights.get(key, 0.0), ln.x1)

    def _left(self, line: Line) -> int:
        """The column's left edge: the x most prose lines of the page start at, at or a little left of the line."""
        counts = self.lefts.get(line.page)
        near = [(n, x) for x, n in (counts or {}).items() if line.x - 3.5 * line.size <= x <= line.x + 1]
        return max(near)[1] if near else round(line.x)

    def starts(self, line: Line) -> bool:
        prev = self.last
        if prev is None or prev.text.rstrip().endswith("-"):
            return False
        ends_sentence = bool(re.search(r"[.!?]['\u2019\u201d)]?\s*$", prev.text))
        gap = prev.y - line.y
        if line.page == prev.page and line.x < prev.x1 and line.x1 > prev.x and gap > 1.3 * self.pitch:
            # a wider gap than the line pitch; much wider: a float stood between, the sentence decides
            return gap < 4 * self.pitch or ends_sentence
        left = self._left(line)
        if 0.7 * line.size <= line.x - left <= 3 * line.size:
            return True
        right = self.rights.get((prev.page, self._left(prev)), prev.x1)
        return ends_sentence and prev.x1 < right - 3 * prev.size
