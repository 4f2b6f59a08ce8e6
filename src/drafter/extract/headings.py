"""Positioned lines -> headings, and the text under each: abstract, body sections, the reference lines.

Headings are bold or larger lines, numbered or known by name ("References", "Acknowledgments"); the
numbering must count up, the PDF outline (bookmarks) confirms and completes them.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from drafter.extract.layout import Layout, Line, drop_marks, heading_size, join_spans, small_caps_text
from drafter.ingest import OutlineItem, RawDocument
from drafter.paper import Section
from drafter.text import (
    collect_vocabulary,
    expand_ligatures,
    hyphen_stays,
    normalize_text,
    restore_accents,
    strip_footnote_marks,
    unwrap_lines,
    url_continues,
)

_URL_AT_END = re.compile(r"(?:https?://|ftp://|www\.)\S*$")
SECTION_NUM = re.compile(r"^(?:(?:section|chapter)\s+)?(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$", re.I)
_APPENDIX_NUM = re.compile(r"^(?:appendix\s+)?([A-H](?:\.\d{1,2}){0,3})(?:\.|:|\s)\s*(\S.*)$")
_APPENDIX_WORD = re.compile(
    r"^(?:appendix|appendices|supplementary material)\b[\s.:]*((?-i:[A-H])(?:\.\d+)*(?=[\s.:]|$))?[\s.:]*(.*)$",
    re.I)
_ROMAN_NUM = re.compile(r"^((?:IX|IV|V?I{0,3}|X))\.\s+(\S.*)$")
# The singular ("REFERENCE") also heads tables' columns: it counts only over a numbered list (`find_headings`)
_SINGULAR_REFERENCE = re.compile(r"^(?:\d{1,2}\.?\s+)?reference\s*$", re.I)
_FIRST_ENTRY = re.compile(r"^\s*\[?1[\].)]\s")
REFERENCES = re.compile(r"^(?:\d{1,2}\.?\s+)?(references?|reference list|bibliography|"
                        r"literature cited|works cited)\s*$", re.I)
FRONT_MATTER = re.compile(r"(?i)^(key\s?words|index terms|ccs concepts|general terms|acm reference format|"
                           r"categories and subject descriptors)\b")
ACK = re.compile(r"^(?:\d{1,2}\.?\s+)?acknowledg(?:e)?ments?\b", re.I)
# Statements journals print after the body (Nature, Springer, Elsevier): not sections of the paper
END_MATTER = re.compile(r"(?i)^(?:online content|code availability|data availability|(?:data and )?materials "
                        r"availability|additional information|author contributions?|competing interests?|"
                        r"declaration of competing interest|ethics declarations?|reporting summary|"
                        r"supplementary information|credit authorship contribution statement|funding)\s*$")
ABSTRACT = re.compile(r"^\s*(?:a\s?bstract|a b s t r a c t)\b\s*[.:\u2014\u2013-]?\s*(.*)$", re.I)  # (letter-spaced)
_CAPTION = re.compile(r"^(?:fig(?:ure)?|table|algorithm|listing|eq(?:uation)?)\.?\s*\d", re.I)


def clean_title(text: str, force: bool = False) -> str:
    text = restore_accents(expand_ligatures(strip_footnote_marks(text)))
    text = re.sub(r"\s+", " ", text).strip(" .")
    letters = [c for c in text if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and (len(letters) > 12 or force):  # small/all caps
        text = title_case(text.lower())
    return text


_SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to",
                          "via", "vs", "with"})


def title_case(text: str) -> str:
    """Capitalise each word but the small ones ("of", "and", ...) after the first; other letters stay."""
    words = text.split(" ")
    return " ".join(w.lower() if i and w.lower() in _SMALL_WORDS else w[:1].upper() + w[1:]
                    for i, w in enumerate(words))



@dataclass
class Heading:
    line: Line
    title: str
    level: int
    number: str
    appendix: bool
    forced: bool = False  # confirmed by the PDF outline (bookmarks)


# A numbered heading may open with a term written in lower case: "t-Distributed ...", "k-means ...", "iCaRL"
_LOWER_TERM = re.compile(r"^(?:[a-z]{1,2}-[A-Za-z]|[a-z]{1,3}[A-Z])")
_NUMBER_PREFIX = re.compile(r"^(?:[IVX]+|[A-H]|\d{1,2})(?:\.\d{1,2})*\.?\s+(\S.*)$")
_ITALIC_FONT = re.compile(r"(?i)ital|oblique|-it(?:$|[A-Z])|cmti\d|lmromanit|cmsl\d")


def _emphasised(line: Line, text: str, body: float, body_font: str,
                heading_fonts: frozenset[str] = frozenset()) -> bool:
    """Whether a line is set apart like a heading: bold, larger, capitals after a number, or numbered and set
    in italic or in the font of the paper's other headings (`heading_fonts`), not the body's."""
    numbered = _NUMBER_PREFIX.match(text)
    small_caps = bool(re.search(r"(?i)csc|smallcap|-sc\b|caps", line.font)) or bool(
        numbered and _is_caps(numbered.group(1)) and sum(c.isalpha() for c in numbered.group(1)) >= 4)
    if line.bold >= 0.6 or heading_size(line) >= body + 0.9 or small_caps:
        return True
    if REFERENCES.match(text) or re.fullmatch(r"(?i)acknowledge?ments?\.?", text):
        return True
    if not line.spans and SECTION_NUM.match(text):  # text-only page: numbering decides
        return True
    # a numbered line wholly in italic where the body is upright: IEEE/Elsevier subsection headings
    if not numbered or not body_font or _ITALIC_FONT.search(body_font) or len(text) > 90:
        return False
    words = [s for s in line.spans if any(c.isalpha() for c in s.text)]
    if line.size < body - 0.6 or not words or any(s.font == body_font for s in words):
        return False
    return all(_ITALIC_FONT.search(s.font) for s in words) or all(s.font in heading_fonts for s in words)


def _split_number(text: str) -> tuple[str, str, bool] | None:
    """(number, title, appendix) of a heading's text; a bare "Appendix" line gives None (the caller decides)."""
    m = SECTION_NUM.match(text)
    if m:
        return m.group(1), m.group(2), False
    ma = _APPENDIX_WORD.match(text)
    if ma:
        if ma.group(2) and not ma.group(2)[:1].isupper() and not ma.group(1):
            return None
        if ma.group(1) or ma.group(2):
            return ma.group(1) or "", ma.group(2) or text, True
        return None
    mb = _APPENDIX_NUM.match(text)
    if mb and mb.group(2)[:1].isupper():
        return mb.group(1), mb.group(2), True
    mr = _ROMAN_NUM.match(text)
    if mr and mr.group(1):
        return str(_parse_roman(mr.group(1))), mr.group(2), False
    return "", text, False


def classify_heading(line: Line, body: float, loose: bool = False, body_font: str = "",
                     heading_fonts: frozenset[str] = frozenset()) -> Heading | None:
    """Decide whether a line is a section heading (bold or larger, numbered or a known section name).

    `loose` also accepts unnumbered bold lines at body size: for papers whose headings carry no numbers.
    """
    raw = join_spans(drop_marks(line.spans)) if line.spans else line.text  # no footnote marks ("Experiments6")
    text = restore_accents(expand_ligatures(raw or line.text)).replace("\u00ad", "-").strip()  # soft hyphen
    if len(text) > 110 or len(text) < 3 or line.boiler or line.figure:
        return None
    if not _emphasised(line, text, body, body_font, heading_fonts) or _CAPTION.match(text):
        return None
    parts = _split_number(text)
    if parts is None:
        return Heading(line, "Appendix", 1, "", True)
    number, title, appendix = parts
    cased = small_caps_text(line)
    if cased is not None:  # fake small caps: the title in the case its letter sizes show
        cased = restore_accents(expand_ligatures(cased)).replace("\u00ad", "-").strip()
        if len(cased) == len(text) and title in text and title[:1].isupper():
            start = text.index(title)
            title = title_case(re.sub(r"\s+", " ", cased[start:start + len(title)]))
    title = re.sub(r"\s+", " ", strip_footnote_marks(title)).strip(" .:")
    if not title or not (title[:1].isupper() or (number and _LOWER_TERM.match(title))) \
            or title.endswith((",", ";")) or len(title.split()) > 14:
        return None
    if re.search(r"[=<>\u2264\u2265\u2208]|(?<![\w-])\d{3,}(?![\w-])", title):  # LeNet-300-100 is a name
        return None
    size = heading_size(line)
    if not number and not (size >= body + 0.9 or REFERENCES.match(text) or ACK.match(text)
                           or ABSTRACT.match(text) or (loose and line.bold >= 0.98)):
        return None
    if not number and (title.endswith(".") or len(title.split()) > 8):
        return None
    level = number.count(".") + 1 if number else 1
    return Heading(line, title, level, number, appendix)


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def fix_heading_case(sections: list[Section], acronyms: frozenset[str] = frozenset()) -> None:
    """Headings set in capitals / small caps get mixed case; lone acronyms ("BERT") stay unless every heading
    of the paper is in capitals (then the style, not the word, made them capitals). Words the body text
    writes in capitals (`acronyms`, see `find_acronyms`) are capitals again: "Vanilla LSTM", "SE Blocks"."""
    caps_style = sum(_is_caps(s.title) for s in sections) >= max(2, 0.6 * len(sections))
    for sec in sections:
        if _is_caps(sec.title) and (caps_style or " " in sec.title or len(sec.title) >= 7):
            sec.title = clean_title(sec.title, force=True)
        if acronyms:
            sec.title = _WORD.sub(lambda m: m.group().upper() if m.group().upper() in acronyms and not any(
                c.isupper() for c in m.group()[1:]) else m.group(), sec.title)


_WORD = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_CAPS_WORD = re.compile(r"(?<![\w-])[A-Z0-9]*[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*(?![\w-])")


def find_acronyms(lines: list[Line], body: float) -> frozenset[str]:
    """Words the body text writes in capitals (two letters or more, more often so than not): acronyms.
    Lines wholly in capitals (headings, headers) do not count."""
    text = "\n".join(ln.text for ln in lines
                     if abs(ln.size - body) <= 0.6 and ln.kind == "body" and not _is_caps(ln.text))
    counts = Counter(_WORD.findall(text))
    caps: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for word, n in counts.items():
        if word.isupper() and sum(c.isupper() for c in word) >= 2:
            caps[word] += n
        else:
            other[word.upper()] += n
    return frozenset(w for w, n in caps.items() if n >= 2 and n > other[w])


def add_outline_headings(doc: RawDocument, lines: list[Line], candidates: list[Heading],
                          skip: set[int]) -> list[Heading]:
    """Headings the outline (bookmarks) lists but the layout did not show: the first matching line on that page.

    An outline whose first entry is the only top-level one is the paper's title over its sections: levels
    count from the entries under it."""
    outline = list(doc.outline)
    if len(outline) > 1 and outline[0].level == 1 and all(item.level > 1 for item in outline[1:]):
        outline = [OutlineItem(item.title, item.level - 1, item.page) for item in outline[1:]]
    found = {_fold_heading(h.title) for h in candidates}
    for h in candidates:
        if _fold_heading(h.title) in {_fold_heading(item.title) for item in outline}:
            h.forced = True
    at = {id(h.line) for h in candidates}
    order = {id(ln): i for i, ln in enumerate(lines)}
    keys: dict[int, list[tuple[Line, str, re.Match[str] | None]]] = {}  # page -> lines with their folded text
    added: list[Heading] = []
    for item in outline:
        key = _fold_heading(item.title)
        if not key or key in found:
            continue
        if not keys:
            for ln in lines:
                if id(ln) not in skip and id(ln) not in at:
                    bare = SECTION_NUM.match(ln.text)
                    keys.setdefault(ln.page, []).append((ln, _fold_heading(bare.group(2) if bare else ln.text), bare))
        pages = [item.page] if item.page is not None else sorted(keys)
        match = next(((ln, bare) for page in pages for ln, folded, bare in keys.get(page, []) if folded == key), None)
        if match is None:
            continue
        ln, bare = match
        number = bare.group(1) if bare else ""
        title = re.sub(r"\s+", " ", strip_footnote_marks(bare.group(2) if bare else ln.text)).strip()
        level = number.count(".") + 1 if number else item.level
        added.append(Heading(ln, title, level, number, False, True))
        found.add(key)
        at.add(id(ln))
    if not added:
        return candidates
    return sorted(candidates + added, key=lambda h: order.get(id(h.line), 0))


def _fold_heading(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", restore_accents(expand_ligatures(text)).lower()).strip()


def _is_special_heading(h: Heading) -> bool:
    text = h.line.text
    return bool(REFERENCES.match(text) or ACK.match(text) or ABSTRACT.match(text) or h.title == "Appendix"
                or FRONT_MATTER.match(h.title) or END_MATTER.match(h.title))


def _parse_roman(numeral: str) -> int:
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for i, ch in enumerate(numeral):
        v = values[ch]
        total += -v if i + 1 < len(numeral) and values[numeral[i + 1]] > v else v
    return total


def _style(h: Heading) -> tuple[str, float]:
    return h.line.font, round(heading_size(h.line))


def select_headings(candidates: list[Heading]) -> list[Heading]:
    """Keep headings whose numbering is consistent: top-level numbers count up, sub-numbers follow them.

    Lettered headings ("A. Factors for Forks") set in another style than the numbered sections and
    restarting at A under each of them are subsections (IEEE); otherwise they are appendices A, B, C...
    """
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
    top_styles = {_style(h) for h in candidates if h.number.isdigit() and not h.appendix}
    out: list[Heading] = []
    top = 0
    sub_prefix = sub_letter = appendix_letter = ""
    for h in candidates:
        if h.number and h.number.split(".")[0].isdigit() and not h.appendix:
            parts = [int(p) for p in h.number.split(".")]
            if len(parts) == 1:
                if top and parts[0] != top + 1:
                    continue
                top, sub_prefix, sub_letter = parts[0], h.number, ""
            elif str(parts[0]) != sub_prefix.split(".")[0] or parts[0] != top:
                continue
        elif h.number and h.appendix:
            if not top:  # lettered headings before the numbered body are not appendices ("A Study of ...")
                continue
            letter = h.number.split(".")[0]
            if (len(h.number) == 1 and not appendix_letter and _style(h) not in top_styles
                    and ord(letter) == ord(sub_letter or "@") + 1):
                sub_letter = letter  # a lettered subsection of the numbered section above it
                h.level, h.appendix, h.number = 2, False, f"{top}.{ord(letter) - 64}"
            elif "." not in h.number:
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


def find_headings(doc: RawDocument, lines: list[Line], body: float, skip_ids: set[int],
                  body_font: str = "") -> list[Heading]:
    """The section headings among `lines`: numbered ones when the paper numbers them, else bold lines."""
    candidates = [h for ln in lines if id(ln) not in skip_ids
                  and (h := classify_heading(ln, body, body_font=body_font)) is not None]
    # numbered lines in the face the top-level headings use (not the body's) are headings too
    fonts = frozenset(h.line.font for h in candidates if h.number.isdigit() and not h.appendix) - {body_font}
    if fonts:
        found = {id(h.line): h for h in candidates}
        candidates = [h for ln in lines if id(ln) not in skip_ids and (h := found.get(id(ln)) or (
            classify_heading(ln, body, body_font=body_font, heading_fonts=fonts)
            if ln.font in fonts and _NUMBER_PREFIX.match(ln.text) else None)) is not None]
    if sum(1 for h in candidates if h.number and not h.appendix) < 2:  # unnumbered headings: bold lines
        candidates = [h for ln in lines if id(ln) not in skip_ids
                      and (h := classify_heading(ln, body, loose=True, body_font=body_font)) is not None]
    cells = _table_cells(lines)
    candidates = [h for h in candidates if id(h.line) not in cells or h.forced]
    candidates = [h for h in candidates if h.forced or not _SINGULAR_REFERENCE.match(h.line.text)
                  or _opens_numbered_list(h.line, lines)]
    candidates = add_outline_headings(doc, lines, candidates, skip_ids)
    return select_headings(candidates)


def _opens_numbered_list(line: Line, lines: list[Line]) -> bool:
    """Whether the line after `line` opens a numbered list ("[1] ...", "1. ...")."""
    at = next((i for i, ln in enumerate(lines) if ln is line), len(lines))
    return at + 1 < len(lines) and bool(_FIRST_ENTRY.match(lines[at + 1].text))


def _table_cells(lines: list[Line]) -> set[int]:
    """ids of lines that read as the cells of a table row, runs set wide apart after any number ("Methods
    MNIST  CIFAR"): a heading is one run of words."""
    out: set[int] = set()
    for ln in lines:
        bare = _NUMBER_PREFIX.match(ln.text)
        if re.search(r"\S {2,}\S", bare.group(1) if bare else ln.text):
            out.add(id(ln))
    return out


def levels_by_size(headings: list[Heading], after: set[int]) -> None:
    """Levels of unnumbered headings (`after`: ids of the lines past the front matter) from their size: the
    first heading's size and above is the top level, each smaller size one level further down (AAAI,
    Nature: large section, smaller subsection headings). Papers that number their headings keep those."""
    if sum(1 for h in headings if h.number and not h.appendix) >= 2:
        return
    plain = [h for h in headings if not h.number and not _is_special_heading(h) and id(h.line) in after]
    if not plain:
        return
    top = heading_size(plain[0].line)
    smaller = sorted({round(heading_size(h.line) * 2) / 2 for h in plain if heading_size(h.line) < top - 0.3},
                     reverse=True)
    for h in plain:
        size = heading_size(h.line)
        if size < top - 0.3:
            h.level = 2 + smaller.index(round(size * 2) / 2)


_TOC_ENTRY = re.compile(r"^\S.{2,}?(?:\s*[.\u00b7\u2026]\s*){3,}\s*\d{1,4}$|^\S.{2,}?\S {2,}\d{1,4}$")


def table_of_contents(lines: list[Line]) -> set[int]:
    """ids of the lines of a table of contents: pages where five or more lines end in a page number set
    apart by dot leaders or a wide gap ("3 Experiments ....... 6"). They are neither headings nor prose."""
    by_page: dict[int, list[Line]] = {}
    for ln in lines:
        if _TOC_ENTRY.match(ln.text.strip()):
            by_page.setdefault(ln.page, []).append(ln)
    return {id(ln) for entries in by_page.values() if len(entries) >= 5 for ln in entries}


def read_body(doc: RawDocument, layout: Layout, title_lines: list[Line], abstract_line: Line | None) -> Body:
    """Walk the content pages: the abstract, each section's text, the reference lines, prose for URLs."""
    all_lines: list[Line] = [ln for lns in layout.pages[layout.first:] for ln in lns]
    not_prose = {id(ln) for ln in all_lines if ln.kind != "body"} | table_of_contents(all_lines)
    headings = find_headings(doc, all_lines, layout.body, {id(ln) for ln in title_lines} | not_prose,
                             layout.body_font)
    start = all_lines.index(abstract_line) if abstract_line in all_lines else 0
    levels_by_size(headings, {id(ln) for ln in all_lines[start + 1:]})
    vocab = collect_vocabulary("\n".join(ln.text for ln in all_lines))
    walk = _BodyWalk(all_lines, headings, layout.body, abstract_line, not_prose, vocab)
    walk.run()
    sections = [s for s in walk.sections if s.title]
    fix_heading_case(sections, find_acronyms(all_lines, layout.body))
    return Body(walk.abstract_text(), sections, walk.references_lines, walk.url_text)


def _join_wrapped(title: str, more: str, vocab: set[str]) -> str:
    """A heading and the line it wraps onto, a line-end hyphen decided as in the body text."""
    head, tail = re.search(r"[\w-]*$", title), re.match(r"[\w]+", more)
    if title.endswith("-") and head and tail and len(head.group()) > 1:
        last = head.group()[:-1].rsplit("-", 1)[-1]
        if last and not hyphen_stays(last, tail.group(), vocab, compound="-" in head.group()[:-1]):
            return title[:-1] + more
        return title + more
    return f"{title} {more}".strip()


class _BodyWalk:
    """One pass over the content lines: each line goes to the abstract, the current section, the
    references, or nowhere (furniture, floats), as the headings met so far decide."""

    def __init__(self, lines: list[Line], headings: list[Heading], body: float, abstract_line: Line | None,
                 not_prose: set[int], vocab: set[str]) -> None:
        self.lines, self.body, self.abstract_line = lines, body, abstract_line
        self.not_prose, self.vocab = not_prose, vocab
        self.heading_at = {id(h.line): h for h in headings}
        self.paragraphs = _Paragraphs(lines, body)
        self.sections: list[Section] = []
        self.references_lines: list[Line] = []
        self.abstract_lines: list[Line] = []
        self.url_text: list[str] = []
        self.state = "front"
        self.after_refs = False
        self.current: list[str] = []
        self.target: Section | None = None
        self.consumed: set[int] = set()
        self.abstract_size: float | None = None
        self.lead_in: list[Line] | None = None  # prose after an unlabelled abstract, before the first heading
        self.start_index = lines.index(abstract_line) if abstract_line in lines else 0

    def run(self) -> None:
        for idx, ln in enumerate(self.lines):
            if id(ln) in self.consumed:
                continue
            h = self.heading_at.get(id(ln))
            if h is not None and (idx > self.start_index or self.abstract_line is None):
                self.heading(idx, h)
            elif ln is self.abstract_line:
                self.state = "abstract"
            elif ln.boiler:
                continue
            elif ln.kind == "abstract":  # an abstract without a heading (header.py found it)
                self.abstract_lines.append(ln)
                self.lead_in = []
            elif ln.figure or id(ln) in self.not_prose:  # plot labels, captions, tables, footnotes: URLs count
                self.url_text.append(ln.text)
            elif self.state == "abstract" and idx > self.start_index:
                self.abstract_line_seen(ln)
            elif self.state == "section":
                self.section_line(ln)
            elif self.state == "refs":
                self.references_lines.append(ln)
            else:
                self.url_text.append(ln.text)
                if self.lead_in is not None and self.state == "front":
                    self.lead_in.append(ln)
        self.flush()

    def flush(self) -> None:
        if self.target is not None:
            text = unwrap_lines(normalize_text("\n".join(self.current), self.vocab))
            self.target.text = f"{self.target.text}\n\n{text}".strip() if self.target.text else text
        self.current.clear()

    def heading(self, idx: int, h: Heading) -> None:
        """A heading starts the abstract, the references, skipped end matter, or a new section."""
        if ABSTRACT.match(h.line.text):
            self.state = "abstract"
            return
        title = self.wrapped_title(idx, h)
        self.flush()
        text = h.line.text
        if REFERENCES.match(text):
            self.state, self.target, self.after_refs = "refs", None, True
        elif ACK.match(text) or FRONT_MATTER.match(h.title) or END_MATTER.match(h.title):
            self.state, self.target = "skip", None
        elif h.title == "Appendix" and not h.number:
            self.state, self.target, self.after_refs = "skip", None, True
        elif self.state == "refs" and h.line.bold < 0.6 and heading_size(h.line) < self.body + 0.9 and (
                not h.number or not h.appendix):  # a numbered entry of the reference list
            self.references_lines.append(h.line)
        else:
            sections = self.sections
            is_appendix = h.appendix or self.after_refs or bool(
                sections and sections[-1].appendix and not h.number[:1].isdigit())
            self.target = Section(title.strip(" .:"), h.level, h.line.page, "", is_appendix)
            sections.append(self.target)
            self.state = "section"
            lead, self.lead_in = self.lead_in or [], None
            for line in lead if len(lead) >= 2 else []:  # text between that abstract and the first heading:
                self.section_line(line)  # an introduction without a heading, read with the first section

    def wrapped_title(self, idx: int, h: Heading) -> str:
        """The heading's title, with the lines it wraps onto: same style, directly below, not numbered."""
        ln, title = h.line, h.title
        caps = _is_caps(h.title)
        # a heading in the body's own font and size is told apart by its number or capitals alone: the
        # line below it can only continue it in the same capitals
        plain = abs(ln.size - self.body) < 0.6 and ln.bold < 0.6
        for nxt in self.lines[idx + 1:idx + 3]:
            other = self.heading_at.get(id(nxt))
            if (ln.spans and nxt.page == ln.page and nxt.font == ln.font and abs(nxt.size - ln.size) < 0.2
                    and 0 < ln.y - nxt.y < 1.6 * ln.size and (other is None or not other.number)
                    and not SECTION_NUM.match(nxt.text) and len(nxt.text) < 80
                    and (_is_caps(nxt.text) == caps or not (caps or plain))):
                title = _join_wrapped(title, strip_footnote_marks(nxt.text).strip(), self.vocab)
                self.consumed.add(id(nxt))
                ln = nxt
            else:
                break
        return title

    def abstract_line_seen(self, ln: Line) -> None:
        """A line after the abstract's start: part of it, or the end of it (keywords, a new page, length)."""
        if self.abstract_size is None:
            self.abstract_size = ln.size
        lines = self.abstract_lines
        keywords = re.match(r"(?i)(key\s?words|index terms|ccs concepts|acm reference format|categories and "
                            r"subject descriptors|general terms)\b|\s*(?:\u00a9|copyright\b)", ln.text)  # ends it
        # no heading after the abstract: it still ends with its page once it has some text and a sentence ends
        # there (an abstract cut mid-sentence at the page foot goes on), or when long
        overflow = lines and ((ln.page != lines[0].page and len(lines) >= 3
                               and re.search(r"[.!?]['\")\u201d]?\s*$", lines[-1].text))
                              or sum(len(a.text) for a in lines) > 4000)
        if keywords or overflow:
            self.state = "front"
            self.url_text.append(ln.text)
        elif abs(ln.size - self.abstract_size) <= 0.6:
            lines.append(ln)

    def abstract_text(self) -> str:
        inline = ""
        if self.abstract_line is not None:
            m = ABSTRACT.match(self.abstract_line.text)
            inline = m.group(1) if m else ""
        raw = "\n".join(([inline] if inline else [])
                        + [join_spans(drop_marks(ln.spans)) or ln.text for ln in self.abstract_lines])
        return unwrap_lines(normalize_text(strip_footnote_marks(raw), self.vocab))

    def section_line(self, ln: Line) -> None:
        text = prose_of(ln.text)
        if text is None:  # a table row or a figure's tick labels that float detection left in the flow
            self.url_text.append(ln.text)
            return
        if self.current and self.paragraphs.starts(ln):
            self.current.append("")
        self.paragraphs.last = ln
        self.current.append(text)
        self.url_text.append(ln.text)


_NUMERIC_CELL = re.compile(r"^[-+\u2212\u2013(\[]?[\d.,]+(?:[%\u00d7x]|[kKMGB]\b)?[)\]]?"
                           r"(?:\s*[\u00b1/]\s*[\d.,]+)?$|^-$")


def prose_of(text: str) -> str | None:
    """The prose of a body line, judged by its cells (runs of text set wide apart): None for a row of
    cells two or more of which are numbers (table rows, axis ticks); a sentence with numbers set apart
    after it (ticks of a figure beside the column) keeps the sentence."""
    cells = [c.strip() for c in re.split(r" {2,}", text) if c.strip()]
    if len(cells) < 2:
        return text
    numeric = [bool(_NUMERIC_CELL.match(c)) for c in cells]
    if sum(numeric) < 2:
        return text
    if len(re.findall(r"[^\W\d_]{3,}", cells[0])) >= 4 and all(numeric[1:]):
        return cells[0]
    return None


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
        url = _URL_AT_END.search(prev.text.rstrip())
        if url and line.text.strip() and url_continues(url.group(), line.text.split()[0]):
            return False  # a URL broken over the lines goes on
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
