"""First-page lines -> title, authors, venue, year and arXiv id.

The title is the largest text near the top of the first content page, the authors are the name-like lines
in one font between the title and the abstract, the venue and year come from running headers, footers and
notices, the arXiv id from the rotated margin stamp.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from drafter.extract.headings import ABSTRACT, classify_heading, clean_title
from drafter.extract.layout import Layout, Line
from drafter.ingest import RawDocument
from drafter.paper import Paper
from drafter.text import FOOTNOTE_MARKS, SPACING_ACCENTS, expand_ligatures, restore_accents, strip_footnote_marks

_ARXIV_STAMP = re.compile(r"arXiv:\s*(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?"
                          r"(?:\s*\[[^\]]*\])?\s*(?:(\d{1,2})\s*([A-Z][a-z]{2})\s*((?:19|20)\d\d))?")
# Words that make a PDF's subject field a record of the venue rather than a topic
_VENUE_WORDS = re.compile(r"(?i)\b(?:conference|proceedings|symposium|workshops?|journal|transactions|letters|"
                          r"congress|annals|review)\b")
_YEAR = re.compile(r"(?<!\d)(19[6-9]\d|20[0-4]\d)(?!\d)")
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
# When a copy was downloaded or printed, stamped on cover pages and margins: not the paper's year.
_ACCESS_DATE = re.compile(r"(?i)download(?:ed)?\b|accessed\b|retrieved\b|printed (?:on|at)\b|generated (?:on|at)\b|"
                          r"date of (?:access|download)")
# Printed by papers that are not (yet) at the venue they name.
_NOT_A_VENUE = re.compile(r"(?i)under review|submitted to|in submission|anonymous|preprint|do not distribute|"
                          r"workshop")


def _find_title_lines(lines: list[Line], height: float) -> list[Line]:
    candidates = [ln for ln in lines if not ln.boiler and not ln.figure and ln.y > height * 0.35
                  and len(ln.text) > 2
                  and not _BOILERPLATE.search(ln.text) and re.search(r"[A-Za-z]{3}", ln.text)]
    # a journal's name in its masthead, also printed in the page's small print ("Pattern Recognition 80 (2018)
    # 109-117"), is not the title however large it is set
    small = [_key(ln.text) for ln in lines if ln.size < 0.8 * max((c.size for c in candidates), default=0)
             and (ln.boiler or not height * 0.12 < ln.y < height * 0.85) and _YEAR.search(ln.text)]  # edge citation
    candidates = [ln for ln in candidates if not 2 <= len(ln.text.split()) <= 5 or not any(
        _key(ln.text) in other and len(other) > len(_key(ln.text)) + 3 for other in small)] or candidates
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



def _looks_like_name(name: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 6 or len(name) > 60:
        return False
    if any(ch.isdigit() for ch in name) or _AFFILIATION.search(name):
        return False
    caps = [w for w in words if w.lower() not in _PARTICLES and not re.match(r"[dl]['\u2019][A-Z]", w)]  # d'Autume
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
        after_particle = bool(cur) and cur[-1].lower() in _PARTICLES  # "Ponde de Oliveira": the surname goes on
        if len(full) >= 2 and not after_particle and not re.fullmatch(r"[A-Z]\.", w) and w.lower() not in _PARTICLES:
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
        if not span.text.strip():  # a space drawn in a small font is a space, not a mark
            if parts and not parts[-1].endswith(" "):
                parts.append(" ")
            continue
        text = re.sub(r"\S*@\S*|\{[^}]*\}|\[\d{4}-\d{4}-\d{4}-\d{3}[\dX]\]", "|", span.text)  # e-mails, ORCID
        is_mark = span.size < 0.85 * body or not re.sub(f"[\\s\\d,{re.escape(FOOTNOTE_MARKS)}]", "", text)
        if is_mark:
            parts.append("|")
        else:
            if last is not None and span.x - last.x1 > 0.8 * min(span.size, last.size):
                parts.append("|")
            elif last is not None and span.x - last.x1 > 0.15 * span.size and not parts[-1].endswith(" "):
                parts.append(" ")
            parts.append(text)
        last = span
    text = "".join(parts) if line.spans else line.text.replace("  ", "|")
    text = _NAME_SUFFIX.sub("", text)
    text = re.sub(r"\s*(?:,|;|\band\b|&|\u2227|\|)\s*", "|", text)
    text = re.sub(r"\s{2,}", "|", text)
    chunks: list[str] = []
    capitals: list[bool] = []
    pieces = [piece for piece in text.split("|") if strip_footnote_marks(piece).strip(" .,*()")]
    for raw in pieces:
        raw = strip_footnote_marks(raw)
        # "Baltru\u02c7 saitis": the accent's letter follows it
        raw = re.sub(f"([{re.escape(SPACING_ACCENTS)}])\\s+(?=\\w)", r"\1", raw)
        raw = re.sub(r"(?<=[a-z\u00e0-\u024f])\d+(?:,\d+)*\b|\b\d+\b", "", raw)
        raw = _NAME_SUFFIX.sub("", raw)
        raw = restore_accents(expand_ligatures(raw)).strip(" .,*()")
        raw = re.sub(r"\s+", " ", raw)
        capitals.append(raw.isupper() and len(raw.split()) >= 2)
        if raw.isupper() and len(raw) > 4:  # names set in capitals
            raw = " ".join(w if len(w) <= 2 and w.endswith(".") else w.capitalize() for w in raw.split())
        # An affiliation stays whole ("Queen Mary University of London" is no name + "University ..."), and so
        # does a name the line sets apart with marks, commas or gaps ("Henrique Ponde de Oliveira Pinto *1").
        if raw:
            whole = _AFFILIATION.search(raw) or (len(pieces) > 1 and len(raw.split()) <= 6)
            if not capitals[-1] and capitals[0] and len(capitals) > 1:  # ACM: "JANE DOE, Acme Robotics, USA",
                return chunks  # the name in capitals, what follows in mixed case its affiliation
            chunks.extend([raw] if whole else _split_plain_names(raw))
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
    rows = [(ln, _split_author_line(ln)) for ln in _join_accents(block)
            if not author_font or (ln.font, round(ln.size, 1)) == author_font]
    # "Google Inc., Mountain View, CA", "1Queen Mary University": an affiliation line, and so is what shares
    # its row ("IST Austria" printed beside "University of Oxford/IST Austria")
    affiliation_rows = {round(ln.y) for ln, chunks in rows if (chunks and _AFFILIATION.search(chunks[0]))
                        or _opens_with_mark(ln)}
    kept = [chunks for ln, chunks in rows if not {round(ln.y) - 1, round(ln.y), round(ln.y) + 1} & affiliation_rows]
    for here, there in itertools.pairwise(kept):  # "Cyprien de" / "Masson d'Autume, ...": one name over two lines
        if here and there and here[-1].split()[-1] in _PARTICLES:
            here[-1] = f"{here[-1]} {there.pop(0)}"
    for chunks in kept:
        for chunk in chunks:
            if _looks_like_name(chunk) and chunk not in names:
                names.append(chunk)
    return names


def _opens_with_mark(line: Line) -> bool:
    """A line that starts with a small raised digit or mark: affiliations carry their mark before them."""
    if len(line.spans) < 2:
        return False
    head, top = line.spans[0], max(s.size for s in line.spans)
    return head.size < 0.85 * top and bool(re.fullmatch(f"[\\s\\d,{re.escape(FOOTNOTE_MARKS)}]+", head.text))




def _join_accents(block: list[Line]) -> list[Line]:
    """A line cut at a spacing accent ("Baltru\u02c7" + "saitis, ...", the accent drawn as its own glyph) and
    the piece that goes on at the same baseline, joined into one line."""
    out: list[Line] = []
    for ln in block:
        last = out[-1] if out else None
        if (last is not None and last.text.endswith(tuple(SPACING_ACCENTS)) and abs(last.y - ln.y) < 1
                and ln.x <= last.x1 + 1):
            out[-1] = Line(last.text + ln.text, last.page, last.x, ln.x1, last.y, last.size, last.bold, last.font,
                           last.spans + ln.spans)
        else:
            out.append(ln)
    return out


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



def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", restore_accents(expand_ligatures(text)).lower())


def _title_as_in_metadata(lines: list[Line], found: list[Line], meta_title: str, body: float) -> list[Line]:
    """The largest text is not always the title (a journal's name in its masthead): when the file's metadata
    names a title and consecutive large lines of the page spell exactly it, those lines are the title."""
    want = _key(meta_title)
    if len(want) < 10 or _key(" ".join(ln.text for ln in found)) == want:
        return found
    for i, ln in enumerate(lines):
        if ln.size < body + 1 or not want.startswith(_key(ln.text)) or not _key(ln.text):
            continue
        run = [ln]
        while _key(" ".join(r.text for r in run)) != want and i + len(run) < len(lines):
            nxt = lines[i + len(run)]
            if abs(nxt.size - ln.size) > 0.3 or not want.startswith(_key(" ".join(r.text for r in [*run, nxt]))):
                break
            run.append(nxt)
        if _key(" ".join(r.text for r in run)) == want:
            return run
    return found


def _opens_body(line: Line, body: float) -> bool:
    """A numbered heading, or an Introduction: where the byline is over for sure (a byline set larger than the
    body text would pass for an unnumbered heading)."""
    h = classify_heading(line, body)
    return h is not None and (bool(h.number) or bool(re.match(r"(?i)introduction\b", h.title)))


def _opens_next_page(stop: Line | None, page: int, layout: Layout) -> bool:
    """Whether the body's first heading (`stop`, or else the top line of the page after `page`) opens a page
    after `page`."""
    if stop is not None:
        return stop.page > page
    nxt = [ln for ln in layout.pages[page] if not ln.boiler] if page < len(layout.pages) else []
    return bool(nxt) and _opens_body(max(nxt, key=lambda ln: ln.y), layout.body)


def _unlabelled_abstract(lines: list[Line], stop: Line | None, layout: Layout) -> list[Line]:
    """An abstract with no heading (Nature, REVTeX, reports): the first block of prose under the byline, before
    the first heading, set apart from the body text by its size or font, or alone on a title page. Empty when
    nothing is set apart."""
    end = lines.index(stop) if stop in lines else len(lines)
    body_lines = [ln for lns in layout.pages[layout.first + 1:] for ln in lns
                  if ln.font == layout.body_font and abs(ln.size - layout.body) <= 0.6 and len(ln.text) > 30]
    if not body_lines:
        return []
    sizes = sorted(ln.size for ln in body_lines)
    size = sizes[len(sizes) // 2]
    block: list[Line] = []
    for ln in [*lines[:end], None]:
        if ln is not None and ln.kind == "body" and not ln.boiler and not ln.figure and block and (
                ln.font, round(ln.size, 1)) == (block[-1].font, round(block[-1].size, 1)) and (
                -0.5 < block[-1].y - ln.y < 2 * ln.size):  # a line split at an accent: one baseline
            block.append(ln)
            continue
        words = " ".join(b.text for b in block).split()
        prose = len(block) >= 3 and len(words) >= 40 and sum(w[:1].islower() for w in words) >= 0.5 * len(words)
        if prose:  # the first block of prose decides: the abstract if it stands apart, else there is none
            apart = abs(block[0].size - size) >= 0.4 or (block[0].font != layout.body_font and block[0].bold < 0.5)
            # or a title page: the byline and this block alone, the first heading opening a later page
            rest = lines[lines.index(block[-1]) + 1:end]
            alone = _opens_next_page(stop, block[0].page, layout) and not any(
                r.page == block[0].page and r.kind == "body" and not r.boiler and not r.figure for r in rest)
            return block if apart or alone else []
        block = [ln] if ln is not None and ln.kind == "body" and not ln.boiler and not ln.figure else []
    return []


@dataclass
class Front:
    """The first content page's landmarks later steps need."""

    title_lines: list[Line]
    abstract_line: Line | None  # the "Abstract" heading, when there is one


def read_front(doc: RawDocument, layout: Layout, paper: Paper) -> Front:
    """Fill the paper's title and authors; return the title lines and the abstract heading."""
    pages, heights, body, first = layout.pages, layout.heights, layout.body, layout.first
    lines1 = pages[first] if pages else []
    title_lines = _find_title_lines(lines1, heights[first] if heights else 792.0)
    if title_lines and (title_lines[0].size < body + 1 or len(title_lines) > 4):
        title_lines = []  # nothing stands out: not a title block
    meta_title = doc.metadata.get("title", "").strip()
    if re.search(r"(?i)^(untitled|microsoft word|document\d*$)|\.(pdf|docx?|tex|dvi)$", meta_title):
        meta_title = ""
    title_lines = _title_as_in_metadata(lines1, title_lines, meta_title, body)
    if title_lines:
        paper.title = clean_title(" ".join(ln.text for ln in title_lines))
        paper.provenance["title"] = "pdf-layout"
    if (not paper.title or len(paper.title) < 6) and meta_title and len(meta_title) > 6:
        paper.title = clean_title(meta_title)
        paper.provenance["title"] = "pdf-metadata"
    if not paper.title:
        first_line = next((ln for ln in lines1 if not ln.boiler), None)
        paper.title = first_line.text if first_line else Path(doc.path).stem
        paper.provenance["title"] = "first-line"
        title_lines = [first_line] if first_line else []

    # abstract heading
    abstract_line = None
    # the abstract may follow a title page and a notice page; it is never after the first numbered heading
    for ln in (ln for lns in pages[first:first + 3] for ln in lns):
        if ln in title_lines:
            continue
        numbered = classify_heading(ln, body) if ln.page > first + 1 else None
        if numbered is not None and numbered.number and not numbered.appendix:
            break
        if ABSTRACT.match(ln.text) and (ln.bold >= 0.5 or ln.size >= body + 0.5 or len(ln.text) < 12
                                         or (ln.spans and ln.spans[0].bold)
                                         or re.match(r"(?i)\s*abstract\s*[.:\u2014\u2013-]", ln.text)
                                         or ln.font != (title_lines[0].font if title_lines else "")):
            abstract_line = ln
            break

    stop = abstract_line if abstract_line in lines1 else None
    if stop is None:  # no Abstract heading: authors end at the first numbered heading
        after_title = lines1[lines1.index(title_lines[-1]) + 1:] if title_lines else lines1
        stop = next((ln for ln in after_title if _opens_body(ln, body)), None)
        summary = _unlabelled_abstract(after_title, stop, layout) if abstract_line is None else []
        for ln in summary:  # the body walk reads these lines as the abstract
            ln.kind = "abstract"
        stop = summary[0] if summary else stop
    paper.authors = _find_authors(lines1, title_lines[-1] if title_lines else None, stop)
    if not paper.authors and doc.metadata.get("author"):
        paper.authors = [a.strip() for a in re.split(r",|;|\band\b", doc.metadata["author"]) if a.strip()]
        paper.provenance["authors"] = "pdf-metadata"
    elif paper.authors:
        paper.provenance["authors"] = "pdf-layout"
    return Front(title_lines, abstract_line)


def mark_front_furniture(layout: Layout, front: Front) -> None:
    """Flag the first content page's furniture so no section reads it: the small print below a column's text
    (footnotes, affiliations and e-mails, copyright, venue and DOI lines, marked or not) and blocks out of the
    reading flow (a sidebar of dates read after the body text although printed above it in that column)."""
    if not layout.pages:
        return
    lines = layout.pages[layout.first]
    start = lines.index(front.title_lines[-1]) + 1 if front.title_lines and front.title_lines[-1] in lines else 0
    prose = [ln for ln in lines[start:] if ln.kind == "body" and not ln.boiler and not ln.figure
             and abs(ln.size - layout.body) <= 0.6 and len(ln.text) > 30]
    if len(prose) < 3:
        return
    sizes = sorted(ln.size for ln in prose)
    size = sizes[len(sizes) // 2]
    font = Counter(ln.font for ln in prose).most_common(1)[0][0]
    order = {id(ln): i for i, ln in enumerate(lines)}
    for ln in lines[start:]:
        if ln.kind != "body" or ln.boiler or ln.figure or ln in front.title_lines or ln is front.abstract_line:
            continue
        column = [p for p in prose if p.x < ln.x1 and p.x1 > ln.x and p is not ln]
        if not column:
            continue
        floor = min(p.y for p in column)
        below = ln.size <= size - 0.5 and ln.y < floor and not any(  # a heading between: a small-print section
            m.x < ln.x1 and m.x1 > ln.x and ln.y < m.y < floor and (m.size >= size + 0.5 or m.bold >= 0.6)
            for m in lines)
        unlike = ln.size < size - 0.1 or (ln.font != font and abs(ln.size - size) > 0.05)
        above = unlike and any(order[id(p)] < order[id(ln)] and p.y < ln.y for p in column) and all(
            p.y < ln.y for p in column if order[id(p)] > order[id(ln)])
        if below or above:
            ln.kind = "furniture"


def read_arxiv_stamp(layout: Layout, paper: Paper) -> int | None:
    """Fill the paper's arXiv id from the margin stamp (or an upright stamp on the first page); return its year."""
    rotated = layout.rotated
    lines1 = layout.pages[layout.first] if layout.pages else []
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
    return stamp_year


def read_venue(layout: Layout, front: Front, paper: Paper) -> tuple[list[str], int | None, int]:
    """Fill the paper's venue from headers, footers, notices of the first pages and lines above the title;
    return those texts (later searched for a year), the venue's year and how many of the texts, first in the
    list, come from cover pages."""
    pages, heights, body, first = layout.pages, layout.heights, layout.body, layout.first
    title_lines = front.title_lines
    venue_texts: list[str] = []
    cover = 0
    for idx in range(0, min(first + 1, len(pages))):
        if idx == first:
            cover = len(venue_texts)
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
    return venue_texts, venue_year, cover


def _edge_years(texts: list[str]) -> list[int]:
    # a bare number on a page edge is a page number ("2001" in proceedings paged 2001-2010), not a year
    return [int(y) for t in texts if not re.fullmatch(r"[\s\d\-\u2013]*", t)
            and not _ACCESS_DATE.search(t) for y in _YEAR.findall(t)]


def pick_year(doc: RawDocument, paper: Paper, venue_texts: list[str], venue_year: int | None,
              stamp_year: int | None, cover: int = 0) -> None:
    """The year: the venue's, else the arXiv stamp's, else one printed on the first page's edges (not a page
    number; a cover sheet's only when the paper's own first page prints none: its dates are of the upload),
    else a year in the PDF's subject when that names a venue, else the file's creation date unless that is
    years after the newest reference (then the year after that reference), else the latest year in the
    references. The first `cover` venue texts are from cover pages."""
    if venue_year:
        paper.year, paper.provenance["year"] = venue_year, "pdf-venue"
    elif stamp_year:
        paper.year, paper.provenance["year"] = stamp_year, "pdf-stamp"
    else:
        edge_years = _edge_years(venue_texts[cover:]) or _edge_years(venue_texts[:cover])
        created = re.search(r"(?:D:)?((?:19|20)\d\d)", doc.metadata.get("creationdate", ""))
        ref_years = [int(y) for r in paper.references for y in _YEAR.findall(r)]
        newest = max((y for y in ref_years if not created or y <= int(created.group(1))), default=None)
        subject = doc.metadata.get("subject", "")
        subject_years = _YEAR.findall(subject) if _VENUE_WORDS.search(subject) else []
        if edge_years:
            paper.year, paper.provenance["year"] = max(edge_years), "pdf-layout"
        elif subject_years:  # the publisher's record of where it appeared: "2017 IEEE Conference on ..."
            paper.year, paper.provenance["year"] = int(subject_years[0]), "pdf-metadata-subject"
        elif created and newest is not None and int(created.group(1)) > newest + 1:
            # a file made years after its newest reference was re-made later: the paper is at most a year younger
            paper.year, paper.provenance["year"] = newest + 1, "references-latest"
        elif created:
            paper.year, paper.provenance["year"] = int(created.group(1)), "pdf-metadata"
        elif ref_years:
            paper.year, paper.provenance["year"] = max(ref_years), "references-latest"
