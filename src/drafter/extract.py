"""RawDocument -> Paper: title, authors, year, venue, arXiv id, abstract, sections, references, URLs.

Works on the positioned lines ingest gives for every page: font sizes and boldness find the title and the
headings, repeated header/footer lines and cover pages are skipped, the rotated arXiv stamp gives the arXiv
id. Extracted Papers are cached as JSON keyed by the PDF's sha256 (see `load_paper`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from drafter.files import atomic_write
from drafter.ingest import RawDocument, Span, check_pdf_path, read_pdf
from drafter.paper import Paper, Section
from drafter.text import (
    FOOTNOTE_MARKS,
    collect_vocabulary,
    expand_ligatures,
    normalize_text,
    restore_accents,
    strip_footnote_marks,
    unwrap_lines,
)

log = logging.getLogger(__name__)

# Bump whenever extraction output changes: cached Papers from another version are ignored.
EXTRACTOR_VERSION = "3.2"

_URL = re.compile(
    r"(?:https?://|ftp://|www\.|(?<![\w@./-])(?:github\.com|gitlab\.com|bitbucket\.org|huggingface\.co)/)"
    r"[^\s<>\"'{}|\\^\[\]]+")
_ARXIV_STAMP = re.compile(r"arXiv:\s*(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?"
                          r"(?:\s*\[[^\]]*\])?\s*(?:(\d{1,2})\s*([A-Z][a-z]{2})\s*((?:19|20)\d\d))?")
_YEAR = re.compile(r"(?<!\d)(19[6-9]\d|20[0-4]\d)(?!\d)")
_SECTION_NUM = re.compile(r"^(?:(?:section|chapter)\s+)?(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$", re.I)
_APPENDIX_NUM = re.compile(r"^(?:appendix\s+)?([A-H](?:\.\d{1,2}){0,3})(?:\.|:|\s)\s*(\S.*)$")
_APPENDIX_WORD = re.compile(
    r"^(?:appendix|appendices|supplementary material)\b[\s.:]*((?-i:[A-H])(?:\.\d+)*(?=[\s.:]|$))?[\s.:]*(.*)$",
    re.I)
_ROMAN_NUM = re.compile(r"^((?:IX|IV|V?I{0,3}|X))\.\s+(\S.*)$")
_REFERENCES = re.compile(r"^(?:\d{1,2}\.?\s+)?(references|bibliography|literature cited|works cited)\s*$", re.I)
_FRONT_MATTER = re.compile(r"(?i)^(key\s?words|index terms|ccs concepts|general terms|acm reference format|"
                           r"categories and subject descriptors)\b")
_ACK = re.compile(r"^(?:\d{1,2}\.?\s+)?acknowledg(?:e)?ments?\b", re.I)
_ABSTRACT = re.compile(r"^\s*a\s?bstract\b\s*[.:\u2014\u2013-]?\s*(.*)$", re.I)
_CAPTION = re.compile(r"^(?:fig(?:ure)?|table|algorithm|listing|eq(?:uation)?)\.?\s*\d", re.I)
_BOILERPLATE = re.compile(
    r"permission|copyright|\u00a9|all rights reserved|licen[cs]e|provided proper attribution|"
    r"this paper is included in|open access to the proceedings|isbn|is sponsored by|"
    r"published as a conference paper|proceedings of|preprint|under review|to appear in|"
    r"journal of machine learning research|conference on|workshop on|symposium on|arxiv:", re.I)
_AFFILIATION = re.compile(
    r"univ|institut|college|school|department|d[ée]partement|dept\b|laborator|\blabs?\b|research|"
    r"\binc\b|corp|company|\bltd\b|gmbh|google|microsoft|facebook|\bmeta\b|openai|deepmind|amazon|ibm|baidu|"
    r"nvidia|intel\b|apple\b|alibaba|tencent|huawei|\bcenter\b|\bcentre\b|academy|foundation|hospital|"
    r"street|road|avenue|\busa\b|canada|china|germany|france|\buk\b|japan|korea|\bai\b|brain|"
    r"berkeley|stanford|\bmit\b|\bcmu\b|\bucl\b|\bucla\b|\bucsd\b|\beth\b|epfl|inria|cnrs|max planck|tsinghua|"
    r"peking|oxford|cambridge|toronto|montr[ée]al|\bmila\b|salesforce|adobe|yahoo|twitter|\buber\b|samsung|"
    r"\bsony\b|naver|bytedance|polytechn|politecnico|\bcorp\b|\bllc\b|\bteam\b|group|"
    r"\d{4,}|@", re.I)
_NAME_SUFFIX = re.compile(r",?\s*\b(?:(?:student|senior|life)\s+)?(?:member|fellow)\b,?\s*(?:ieee|acm)\b"
                          r"|,?\s*\b(?:ph\.?\s?d\.?|jr\.?|sr\.?)(?=\s*(?:,|;|$|\band\b))", re.I)
_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "la", "le", "bin", "al", "y",
              "dos", "das", "ter", "ten", "zu", "st."}

# Venue names: (pattern on the printed text, short name). The year is taken from the same text.
_VENUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(NeurIPS|NIPS)\b", re.I), ""),
    (re.compile(r"\bUSENIX\s+ATC\b|USENIX Annual Technical Conference", re.I), "USENIX ATC"),
    (re.compile(r"\b(ICML|ICLR|CVPR|ICCV|ECCV|NAACL|EMNLP|ACL|AAAI|IJCAI|KDD|OSDI|SOSP|NSDI|SIGMOD|VLDB|"
                r"SIGIR|COLING|UAI|AISTATS|COLT|JMLR|TPAMI|TACL|WWW|CHI|ICRA|IROS|RSS|CoRL|MLSys|SysML|"
                r"EuroSys|FAST|SIGCOMM|ISCA|MICRO|ASPLOS|PLDI|POPL|ICSE|FSE|Interspeech|ICASSP|WACV|BMVC|"
                r"MICCAI|WSDM|RecSys|CIKM|ICDE|ICDM|SDM|ECML|ACCV|3DV|SIGGRAPH|EACL|AACL|CoNLL|TMLR)\b"), ""),
    (re.compile(r"Neural Information Processing Systems", re.I), "NeurIPS"),
    (re.compile(r"International Conference on Machine Learning", re.I), "ICML"),
    (re.compile(r"International Conference on Learning Representations", re.I), "ICLR"),
    (re.compile(r"Journal of Machine Learning Research", re.I), "JMLR"),
    (re.compile(r"Operating Systems Design and Implementation", re.I), "OSDI"),
    (re.compile(r"Symposium on Operating Systems Principles", re.I), "SOSP"),
    (re.compile(r"Networked Systems Design and Implementation", re.I), "NSDI"),
    (re.compile(r"Computer Vision and Pattern Recognition", re.I), "CVPR"),
    (re.compile(r"International Conference on Computer Vision", re.I), "ICCV"),
    (re.compile(r"European Conference on Computer Vision", re.I), "ECCV"),
    (re.compile(r"Empirical Methods in Natural Language Processing", re.I), "EMNLP"),
    (re.compile(r"North American Chapter of the Association for Computational Linguistics", re.I), "NAACL"),
    (re.compile(r"Annual Meeting of the Association for Computational Linguistics", re.I), "ACL"),
    (re.compile(r"AAAI Conference on Artificial Intelligence", re.I), "AAAI"),
    (re.compile(r"Knowledge Discovery (?:and|&) Data Mining", re.I), "KDD"),
    (re.compile(r"Artificial Intelligence and Statistics", re.I), "AISTATS"),
    (re.compile(r"Uncertainty in Artificial Intelligence", re.I), "UAI"),
    (re.compile(r"Pattern Analysis and Machine Intelligence", re.I), "TPAMI"),
    (re.compile(r"Transactions on Machine Learning Research", re.I), "TMLR"),
    (re.compile(r"Transactions of the Association for Computational Linguistics", re.I), "TACL"),
    (re.compile(r"Conference on Robot Learning", re.I), "CoRL"),
]
# Printed by papers that are not (yet) at the venue they name.
_NOT_A_VENUE = re.compile(r"(?i)under review|submitted to|in submission|anonymous|preprint|do not distribute|"
                          r"workshop")
_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"], 1)}


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


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- lines ----------------------------------------------------------------------------------------------


def _join_spans(spans: list[Span]) -> str:
    parts: list[str] = []
    last: Span | None = None
    for span in spans:
        if last is not None:
            gap = span.x - last.x1
            small = min(span.size, last.size) or 1.0
            if gap > 0.8 * small:
                parts.append("  ")
            elif gap > 0.15 * small and not parts[-1].endswith(" ") and not span.text.startswith(" "):
                parts.append(" ")
        parts.append(span.text)
        last = span
    return "".join(parts).strip()


def _drop_marks(spans: list[Span]) -> list[Span]:
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
        for _, spans in sorted(groups.items()):
            text = _join_spans(spans)
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


def _measure_body_size(pages: list[list[Line]]) -> float:
    weights: Counter[float] = Counter()
    for lines in pages:
        for ln in lines:
            weights[round(ln.size * 2) / 2] += len(ln.text)
    return weights.most_common(1)[0][0] if weights else 10.0


def _mark_boilerplate(pages: list[list[Line]], heights: list[float]) -> None:
    """Flag running headers/footers (repeated near the page edge) and bare page numbers."""
    keys_needed = 99 if len(pages) < 3 else max(3, len(pages) // 4)
    counts: Counter[str] = Counter()
    for lines in pages:
        seen = set()
        for ln in lines:
            key = re.sub(r"\d+", "#", ln.text.lower()).strip()
            if key not in seen:
                seen.add(key)
                counts[key] += 1
    for lines, height in zip(pages, heights, strict=True):
        for ln in lines:
            edge = ln.y > height * 0.9 or ln.y < height * 0.09
            key = re.sub(r"\d+", "#", ln.text.lower()).strip()
            if edge and (counts[key] >= keys_needed or re.fullmatch(r"[#\s\-–—|]*(?:page\s*#)?[#\s]*", key)):
                ln.boiler = True


# -- title and authors --------------------------------------------------------------------------------


def _is_cover_page(lines: list[Line]) -> bool:
    text = " ".join(ln.text for ln in lines).lower()
    return bool(re.search(r"this paper is included in|open access to the proceedings|is sponsored by|"
                          r"cover page|this article appeared in|citation for published version|general rights|"
                          r"take down policy|downloaded from|link to publication|this version is available at|"
                          r"document version|terms of use|repository", text)) and "abstract" not in text


def _find_title_lines(lines: list[Line], height: float) -> list[Line]:
    candidates = [ln for ln in lines if not ln.boiler and not ln.figure and ln.y > height * 0.35
                  and len(ln.text) > 2
                  and not _BOILERPLATE.search(ln.text) and re.search(r"[A-Za-z]{3}", ln.text)]
    if not candidates:
        return []
    top = max(ln.size for ln in candidates)
    first = next(i for i, ln in enumerate(lines) if ln in candidates and ln.size >= top - 0.3)
    out = [lines[first]]
    for ln in lines[first + 1:]:
        if abs(ln.size - top) <= 0.3 and abs(out[-1].y - ln.y) < 2.5 * top:
            out.append(ln)
        elif re.fullmatch(r"[\s" + re.escape(FOOTNOTE_MARKS) + r"\d,]*", ln.text):
            continue
        else:
            break
    return out


def _clean_title(text: str, force: bool = False) -> str:
    text = restore_accents(expand_ligatures(strip_footnote_marks(text)))
    text = re.sub(r"\s+", " ", text).strip(" .")
    letters = [c for c in text if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and (len(letters) > 12 or force):  # small/all caps
        small = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "via",
                 "with"}
        words = text.lower().split(" ")
        text = " ".join(w if i and w in small else w[:1].upper() + w[1:] for i, w in enumerate(words))
    return text


def _looks_like_name(name: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 6 or len(name) > 60:
        return False
    if any(ch.isdigit() for ch in name) or _AFFILIATION.search(name):
        return False
    caps = [w for w in words if w.lower() not in _PARTICLES]
    return all(w[:1].isupper() for w in caps) and sum(len(w.strip(".")) > 1 for w in caps) >= 1


def _split_plain_names(chunk: str) -> list[str]:
    """Split a run of names separated only by spaces ("Jacob Devlin Ming-Wei Chang") into names."""
    words = chunk.split()
    if len(words) <= 3:
        return [chunk]
    names: list[list[str]] = [[]]
    for w in words:
        cur = names[-1]
        full = [x for x in cur if not re.fullmatch(r"[A-Z]\.?(?:-[A-Z]\.?)?", x) and x.lower() not in _PARTICLES]
        if len(full) >= 2 and not re.fullmatch(r"[A-Z]\.", w) and w.lower() not in _PARTICLES:
            names.append([w])
        else:
            cur.append(w)
    return [" ".join(n) for n in names if n]


def _split_author_line(line: Line) -> list[str]:
    """Split an author line at separators: commas, "and", wide gaps and footnote / affiliation marks."""
    body = max(s.size for s in line.spans) if line.spans else line.size
    parts: list[str] = []
    last = None
    for span in line.spans:
        text = re.sub(r"\S*@\S*|\{[^}]*\}|\[\d{4}-\d{4}-\d{4}-\d{3}[\dX]\]", "|", span.text)  # e-mails, ORCID
        is_mark = span.size < 0.85 * body or not re.sub(f"[\\s\\d,{re.escape(FOOTNOTE_MARKS)}]", "", text)
        if is_mark:
            parts.append("|")
        else:
            if last is not None and span.x - last.x1 > 0.8 * min(span.size, last.size):
                parts.append("|")
            elif last is not None and span.x - last.x1 > 0.15 * span.size:
                parts.append(" ")
            parts.append(text)
        last = span
    text = "".join(parts) if line.spans else line.text.replace("  ", "|")
    text = _NAME_SUFFIX.sub("", text)
    text = re.sub(r"\s*(?:,|;|\band\b|&|\u2227|\|)\s*", "|", text)
    text = re.sub(r"\s{2,}", "|", text)
    chunks = []
    for raw in text.split("|"):
        raw = strip_footnote_marks(raw)
        raw = re.sub(r"(?<=[a-z\u00e0-\u024f])\d+(?:,\d+)*\b|\b\d+\b", "", raw)
        raw = _NAME_SUFFIX.sub("", raw)
        raw = restore_accents(expand_ligatures(raw)).strip(" .,*()")
        raw = re.sub(r"\s+", " ", raw)
        if raw.isupper() and len(raw) > 4:  # names set in capitals
            raw = " ".join(w if len(w) <= 2 and w.endswith(".") else w.capitalize() for w in raw.split())
        if raw:
            chunks.extend(_split_plain_names(raw))
    return chunks


def _find_authors(lines: list[Line], after: Line | None, stop: Line | None) -> list[str]:
    """Names between the title and the abstract: lines in the author font, affiliations and e-mails dropped."""
    start = lines.index(after) + 1 if after in lines else 0
    end = lines.index(stop) if stop in lines else min(len(lines), start + 25)
    block = [ln for ln in lines[start:end] if not ln.boiler and not ln.figure and not _BOILERPLATE.search(ln.text)]
    block = [ln for ln in block if not re.match(r"(?i)\s*(editor|communicated by|received|keywords)\b", ln.text)]
    if not block:
        return []
    # The author font is the one of the first line that reads like names.
    author_font = None
    for ln in block:
        if any(_looks_like_name(c) for c in _split_author_line(ln)):
            author_font = (ln.font, round(ln.size, 1))
            break
    names: list[str] = []
    for ln in block:
        if author_font and (ln.font, round(ln.size, 1)) != author_font:
            continue
        chunks = _split_author_line(ln)
        if chunks and _AFFILIATION.search(chunks[0]):  # "Google Inc., Mountain View, CA": an affiliation line
            continue
        for chunk in chunks:
            if _looks_like_name(chunk) and chunk not in names:
                names.append(chunk)
    return names


# -- venue, year, arXiv --------------------------------------------------------------------------------


def _find_venue(texts: list[str]) -> tuple[str | None, int | None]:
    for text in texts:
        if _NOT_A_VENUE.search(text):
            continue
        for pattern, short in _VENUES:
            m = pattern.search(text)
            if not m:
                continue
            name = short or m.group(1)
            if name.upper() == "NIPS":
                name = "NIPS"
            elif name.upper() == "NEURIPS":
                name = "NeurIPS"
            year = None
            y4 = _YEAR.findall(text)
            if y4:
                year = int(y4[-1]) if len(y4) == 1 else int(min(y4, key=lambda y: abs(text.find(y) - m.start())))
            else:
                y2 = re.search(r"['\u2019](\d{2})\b", text[m.start():] if short else text)
                if y2:
                    year = 2000 + int(y2.group(1)) if int(y2.group(1)) < 50 else 1900 + int(y2.group(1))
            if name == "NeurIPS" and year and year < 2018:
                name = "NIPS"
            if year:
                return f"{name} {year}", year
    return None, None


# -- headings and sections -----------------------------------------------------------------------------


@dataclass
class _Heading:
    line: Line
    title: str
    level: int
    number: str
    appendix: bool
    forced: bool = False  # confirmed by the PDF outline (bookmarks)


def _classify_heading(line: Line, body: float, loose: bool = False) -> _Heading | None:
    """Decide whether a line is a section heading (bold or larger, numbered or a known section name).

    `loose` also accepts unnumbered bold lines at body size: for papers whose headings carry no numbers.
    """
    text = restore_accents(expand_ligatures(line.text)).strip()
    if len(text) > 110 or len(text) < 3 or line.boiler or line.figure:
        return None
    small_caps = bool(re.search(r"(?i)csc|smallcap|-sc\b|caps", line.font)) or bool(
        re.fullmatch(r"(?:[IVX]+|[A-H]|\d{1,2})(?:\.\d{1,2})*\.?\s+[A-Z][A-Z0-9 ,:&'-]{3,}", text))
    emphasised = (line.bold >= 0.6 or line.size >= body + 0.9 or small_caps
                  or bool(_REFERENCES.match(text)) or bool(re.fullmatch(r"(?i)acknowledge?ments?\.?", text))
                  or (not line.spans and bool(_SECTION_NUM.match(text))))  # text-only page: numbering decides
    if not emphasised or _CAPTION.match(text):
        return None
    m = _SECTION_NUM.match(text)
    number = ""
    appendix = False
    title = text
    if m:
        number, title = m.group(1), m.group(2)
    else:
        ma = _APPENDIX_WORD.match(text)
        if ma and ma.group(2) and not ma.group(2)[:1].isupper() and not ma.group(1):
            return _Heading(line, "Appendix", 1, "", True)
        if ma and (ma.group(1) or ma.group(2)):
            number, title, appendix = ma.group(1) or "", ma.group(2) or text, True
        elif ma:
            return _Heading(line, "Appendix", 1, "", True)
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
    if not number and not (line.size >= body + 0.9 or _REFERENCES.match(text) or _ACK.match(text)
                           or _ABSTRACT.match(text) or (loose and line.bold >= 0.98)):
        return None
    if not number and (title.endswith(".") or len(title.split()) > 8):
        return None
    level = number.count(".") + 1 if number else 1
    return _Heading(line, title, level, number, appendix)


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _fix_heading_case(sections: list[Section]) -> None:
    """Headings set in capitals / small caps get mixed case; lone acronyms ("BERT") stay unless every heading
    of the paper is in capitals (then the style, not the word, made them capitals)."""
    caps_style = sum(_is_caps(s.title) for s in sections) >= max(2, 0.6 * len(sections))
    for sec in sections:
        if _is_caps(sec.title) and (caps_style or " " in sec.title or len(sec.title) >= 7):
            sec.title = _clean_title(sec.title, force=True)


def _add_outline_headings(doc: RawDocument, lines: list[Line], candidates: list[_Heading],
                          skip: set[int]) -> list[_Heading]:
    """Headings the outline (bookmarks) lists but the layout did not show: the first matching line on that page."""
    found = {_fold_heading(h.title) for h in candidates}
    at = {id(h.line) for h in candidates}
    order = {id(ln): i for i, ln in enumerate(lines)}
    added: list[_Heading] = []
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
            bare = _SECTION_NUM.match(ln.text)
            if _fold_heading(bare.group(2) if bare else ln.text) == key:
                number = bare.group(1) if bare else ""
                title = re.sub(r"\s+", " ", strip_footnote_marks(bare.group(2) if bare else ln.text)).strip()
                level = number.count(".") + 1 if number else item.level
                added.append(_Heading(ln, title, level, number, False, True))
                found.add(key)
                break
    if not added:
        return candidates
    return sorted(candidates + added, key=lambda h: order.get(id(h.line), 0))


def _fold_heading(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", restore_accents(expand_ligatures(text)).lower()).strip()


def _is_special_heading(h: _Heading) -> bool:
    text = h.line.text
    return bool(_REFERENCES.match(text) or _ACK.match(text) or _ABSTRACT.match(text) or h.title == "Appendix"
                or _FRONT_MATTER.match(h.title))


def _parse_roman(numeral: str) -> int:
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for i, ch in enumerate(numeral):
        v = values[ch]
        total += -v if i + 1 < len(numeral) and values[numeral[i + 1]] > v else v
    return total


def _select_headings(candidates: list[_Heading]) -> list[_Heading]:
    """Keep headings whose numbering is consistent: top-level numbers count up, sub-numbers follow them."""
    out: list[_Heading] = []
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


def _split_references(lines: list[Line]) -> list[str]:
    """Split the reference list into entries: by [n] / n. labels, else by hanging indent or spacing."""
    lines = [ln for ln in lines if not ln.boiler and ln.text.strip()]
    if not lines:
        return []
    numbered = re.compile(r"^\s*(?:\[(\d{1,3})\]|(\d{1,3})\.\s)")
    labelled = sum(1 for ln in lines if numbered.match(ln.text))
    entries: list[list[str]] = []
    if labelled >= max(3, len(lines) // 6):
        expected = 1
        for ln in lines:
            m = numbered.match(ln.text)
            n = int(m.group(1) or m.group(2)) if m else None
            if n is not None and (n == expected or not entries):
                entries.append([ln.text])
                expected = n + 1
            elif entries:
                entries[-1].append(ln.text)
    else:
        # author-year: entries start at the column's left edge, continuation lines are indented.
        middles = {page: _find_page_middle(lines, page) for page in {ln.page for ln in lines}}
        keys = [(ln.page, ln.x > middles[ln.page]) for ln in lines]
        lefts: dict[tuple[int, bool], float] = {}
        for ln, key in zip(lines, keys, strict=True):
            lefts[key] = min(lefts.get(key, ln.x), ln.x)
        indents = [ln.x - lefts[key] for ln, key in zip(lines, keys, strict=True)]
        hanging = sum(1 for d in indents if d > 3) >= len(lines) // 5
        prev: Line | None = None
        for ln, indent in zip(lines, indents, strict=True):
            starts = indent <= 3 if hanging else (
                prev is None or prev.page != ln.page or abs(prev.y - ln.y) > 1.45 * ln.size
                or (re.search(r"\.\s*$", prev.text) is not None and ln.text[:1].isupper()))
            if starts or not entries:
                entries.append([ln.text])
            else:
                entries[-1].append(ln.text)
            prev = ln
    out = []
    for parts in entries:
        text = unwrap_lines(normalize_text("\n".join(parts)))
        if len(text) > 15:
            out.append(text)
    return out


def _find_page_middle(lines: list[Line], page: int) -> float:
    xs = [ln.x for ln in lines if ln.page == page]
    return (min(xs) + max(ln.x1 for ln in lines if ln.page == page)) / 2 if xs else 306.0


# -- URLs ---------------------------------------------------------------------------------------------


def _find_urls(text: str) -> list[str]:
    """URLs in text, re-joined when broken across lines ("https://github.com/" + "tensorflow/...")."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        for m in _URL.finditer(line):
            url = m.group()
            j = i
            while (m.end() == len(line.rstrip()) or url == line[m.start():].rstrip()) and j + 1 < len(lines):
                nxt = lines[j + 1].strip()
                token = nxt.split(" ")[0] if nxt else ""
                joinable = token and (url.endswith(("/", "-", "_", "=", "?", "&", "#", "~"))
                                      or (url.endswith(".") and token[:1].islower())
                                      or (re.match(r"[\w.~#?=&%-]*/[\w./~#?=&%-]*$|[\w/~-]*\.html?$", token)
                                      and not token[:1].isupper()))
                if not joinable or not re.match(r"[\w./~#?=&%:-]+$", token.rstrip(".,;:)")):
                    break
                url += token
                j += 1
                if len(token) < len(nxt) or token.endswith((".", ",", ";", ")", ":")):
                    break
            url = re.sub(r"\.[A-Z][a-z]+$", "", url).rstrip(".,;:)]}'\"")
            if url.count("(") < url.count(")"):
                url = url.rstrip(")")
            if len(url) > 10 and url not in out:
                out.append(url)
        i += 1
    return out


# -- main ---------------------------------------------------------------------------------------------


def extract_paper(doc: RawDocument) -> Paper:
    """Turn the raw document into a Paper."""
    pages, rotated = build_lines(doc)
    heights = [p.height for p in doc.pages]
    _mark_boilerplate(pages, heights)
    body = _measure_body_size(pages)
    paper = Paper(title="", pages=doc.page_count, source=doc.path, warnings=list(doc.warnings))

    # first content page: skip cover pages
    first = 0
    while first + 1 < len(pages) and first < 2 and _is_cover_page(pages[first]):
        first += 1
    lines1 = pages[first] if pages else []
    title_lines = _find_title_lines(lines1, heights[first] if heights else 792.0)
    if title_lines and (title_lines[0].size < body + 1 or len(title_lines) > 4):
        title_lines = []  # nothing stands out: not a title block
    meta_title = doc.metadata.get("title", "").strip()
    if re.search(r"(?i)^(untitled|microsoft word|document\d*$)|\.(pdf|docx?|tex|dvi)$", meta_title):
        meta_title = ""
    if title_lines:
        paper.title = _clean_title(" ".join(ln.text for ln in title_lines))
        paper.provenance["title"] = "pdf-layout"
    if (not paper.title or len(paper.title) < 6) and meta_title and len(meta_title) > 6:
        paper.title = _clean_title(meta_title)
        paper.provenance["title"] = "pdf-metadata"
    if not paper.title:
        first_line = next((ln for ln in lines1 if not ln.boiler), None)
        paper.title = first_line.text if first_line else Path(doc.path).stem
        paper.provenance["title"] = "first-line"
        title_lines = [first_line] if first_line else []

    # abstract heading
    abstract_line = None
    for ln in lines1 + (pages[first + 1] if first + 1 < len(pages) else []):
        if ln in title_lines:
            continue
        if _ABSTRACT.match(ln.text) and (ln.bold >= 0.5 or ln.size >= body + 0.5 or len(ln.text) < 12
                                         or (ln.spans and ln.spans[0].bold)
                                         or re.match(r"(?i)\s*abstract\s*[.:\u2014\u2013-]", ln.text)
                                         or ln.font != (title_lines[0].font if title_lines else "")):
            abstract_line = ln
            break

    stop = abstract_line if abstract_line in lines1 else None
    if stop is None:  # no Abstract heading: authors end at the first numbered heading
        after_title = lines1[lines1.index(title_lines[-1]) + 1:] if title_lines else lines1
        stop = next((ln for ln in after_title if _classify_heading(ln, body)), None)
    paper.authors = _find_authors(lines1, title_lines[-1] if title_lines else None, stop)
    if not paper.authors and doc.metadata.get("author"):
        paper.authors = [a.strip() for a in re.split(r",|;|\band\b", doc.metadata["author"]) if a.strip()]
        paper.provenance["authors"] = "pdf-metadata"
    elif paper.authors:
        paper.provenance["authors"] = "pdf-layout"

    # arXiv stamp
    stamp_year = None
    for ln in rotated + [ln for ln in lines1 if "arxiv:" in ln.text.lower()][:1]:
        m = _ARXIV_STAMP.search(ln.text.replace(" ", "") if ln in rotated else ln.text)
        if not m and ln in rotated:
            m = _ARXIV_STAMP.search(ln.text)
        if m and ln not in rotated and not m.group(5):
            continue  # an upright "arXiv:..." without the stamp's date is a citation, not this paper's id
        if m:
            paper.arxiv_id = m.group(1)
            if m.group(5):
                stamp_year = int(m.group(5))
            paper.provenance["arxiv_id"] = "pdf-stamp"
            break

    # venue: printed in headers, footers, footnotes of the first pages or above the title
    venue_texts: list[str] = []
    for idx in range(0, min(first + 1, len(pages))):
        lns = pages[idx]
        above = [ln for ln in lns if title_lines and ln.y > title_lines[0].y + 1 and ln.page == title_lines[0].page]
        small = [ln for ln in lns if ln.boiler or ln.size < body - 0.4 or ln in above or idx < first
                 or ln.y < heights[idx] * 0.12 or ln.y > heights[idx] * 0.9]  # cover pages: every line
        joined: list[str] = []
        prev_y = 0.0
        for ln in small:
            if joined and abs(ln.y - prev_y) < 1.6 * ln.size:
                joined[-1] += " " + ln.text
            else:
                joined.append(ln.text)
            prev_y = ln.y
        venue_texts.extend(t for t in joined if not re.search(r"(?i)arxiv:", t))
    if first + 1 < len(pages):
        venue_texts.extend(ln.text for ln in pages[first + 1] if ln.boiler)
    paper.venue, venue_year = _find_venue(venue_texts)
    if paper.venue:
        paper.provenance["venue"] = "pdf-layout"

    # sections
    candidates: list[_Heading] = []
    all_lines: list[Line] = [ln for lns in pages[first:] for ln in lns]
    cover_text = [ln.text for lns in pages[:first] for ln in lns]
    skip_ids = {id(ln) for ln in title_lines}
    for ln in all_lines:
        if id(ln) in skip_ids:
            continue
        h = _classify_heading(ln, body)
        if h is not None:
            candidates.append(h)
    if sum(1 for h in candidates if h.number and not h.appendix) < 2:  # unnumbered headings: bold lines
        candidates = [h for ln in all_lines if id(ln) not in skip_ids
                      and (h := _classify_heading(ln, body, loose=True)) is not None]
    candidates = _add_outline_headings(doc, all_lines, candidates, skip_ids)
    headings = _select_headings(candidates)
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
        m = _ABSTRACT.match(abstract_line.text)
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
            if _ABSTRACT.match(ln.text):
                state = "abstract"
                continue
            # a heading wrapped over several lines: same style, directly below, not numbered itself
            title = h.title
            for nxt in all_lines[idx + 1:idx + 3]:
                if (ln.spans and nxt.page == ln.page and nxt.font == ln.font and abs(nxt.size - ln.size) < 0.2
                        and 0 < ln.y - nxt.y < 1.6 * ln.size
                        and (id(nxt) not in heading_at or not heading_at[id(nxt)].number)
                        and not _SECTION_NUM.match(nxt.text) and len(nxt.text) < 80):
                    title = f"{title} {strip_footnote_marks(nxt.text).strip()}".strip()
                    consumed.add(id(nxt))
                    ln = nxt
                else:
                    break
            flush()
            if _REFERENCES.match(h.line.text):
                state, target = "refs", None
                after_refs = True
                continue
            if _ACK.match(h.line.text) or _FRONT_MATTER.match(h.title):
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
        if ln.figure:  # plot labels: not prose, but URLs printed in figures still count
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
            current.append(ln.text)
            body_url_text.append(ln.text)
        elif state == "refs":
            references_lines.append(ln)
        else:
            body_url_text.append(ln.text)
    flush()
    abstract_raw = "\n".join(([inline_abstract] if inline_abstract else [])
                             + [_join_spans(_drop_marks(ln.spans)) or ln.text for ln in abstract_lines])
    paper.abstract = unwrap_lines(normalize_text(strip_footnote_marks(abstract_raw), vocab))
    paper.sections = [s for s in sections if s.title]
    _fix_heading_case(paper.sections)
    paper.references = _split_references(references_lines)

    # URLs: printed in the body (not the reference list) plus link annotations outside the references
    ref_pages = {ln.page for ln in references_lines}
    first_ref_page = min(ref_pages) if ref_pages else doc.page_count + 1
    urls = _find_urls(expand_ligatures("\n".join(cover_text + body_url_text)))
    for page in doc.pages:
        if page.number in ref_pages and page.number != first_ref_page:
            continue
        for uri, _x0, y0, _x1, _y1 in page.link_boxes:
            if page.number == first_ref_page and references_lines and y0 < references_lines[0].y:
                continue
            if uri.startswith(("http", "ftp", "www")) and "doi.org" not in uri and uri not in urls:
                urls.append(uri)
    paper.urls = urls

    # year: venue year, else the arXiv stamp, else a year printed on the first page's edges, else metadata
    if venue_year:
        paper.year, paper.provenance["year"] = venue_year, "pdf-venue"
    elif stamp_year:
        paper.year, paper.provenance["year"] = stamp_year, "pdf-stamp"
    else:
        edge_years = [int(y) for t in venue_texts for y in _YEAR.findall(t)]
        created = re.search(r"(?:D:)?((?:19|20)\d\d)", doc.metadata.get("creationdate", ""))
        ref_years = [int(y) for r in paper.references for y in _YEAR.findall(r)]
        if edge_years:
            paper.year, paper.provenance["year"] = max(edge_years), "pdf-layout"
        elif created:
            paper.year, paper.provenance["year"] = int(created.group(1)), "pdf-metadata"
        elif ref_years:
            paper.year, paper.provenance["year"] = max(ref_years), "references-latest"
    return paper


def _locate_cache_entry(cache_dir: Path, sha: str) -> Path:
    return Path(cache_dir) / "papers" / f"{sha}-{EXTRACTOR_VERSION}.json"


def load_paper(path: Path, cache_dir: Path | None = None) -> Paper:
    """Read and extract a PDF; with `cache_dir`, reuse the Paper cached for the same file content."""
    path = Path(path)
    check_pdf_path(path)  # missing, directory, empty, not a PDF: one clear error before hashing
    sha = file_sha256(path)
    if cache_dir is not None:
        cached = _locate_cache_entry(cache_dir, sha)
        try:
            data = json.loads(cached.read_text(encoding="utf-8"))
            if data.get("_extractor") == EXTRACTOR_VERSION:
                data.pop("_extractor", None)
                paper = Paper.from_dict(data)
                paper.source = str(path)
                return paper
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable cache entry %s (%s)", cached, exc)
    paper = extract_paper(read_pdf(path))
    paper.sha256 = sha
    if cache_dir is not None:
        _write_cache(_locate_cache_entry(cache_dir, sha), paper)
    return paper


def _write_cache(target: Path, paper: Paper) -> None:
    """Write the cache entry atomically; a cache that cannot be written costs speed, not the run."""
    data = paper.to_dict()
    data["_extractor"] = EXTRACTOR_VERSION
    try:
        atomic_write(target, json.dumps(data, ensure_ascii=False))
    except OSError as exc:
        log.warning("could not write extraction cache %s (%s)", target, exc)


__all__ = ["EXTRACTOR_VERSION", "Line", "build_lines", "extract_paper", "file_sha256", "load_paper"]
