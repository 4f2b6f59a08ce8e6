"""RawDocument -> Paper: title, authors, year, venue, arXiv id, abstract, sections, references, URLs.

First version: simple heuristics. (Being replaced by the measured extractor of issue 3.)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from drafter.ingest import RawDocument, read_pdf
from drafter.paper import Paper, Section

_HEADING = re.compile(r"^(?:(\d{1,2})(?:\.(\d{1,2}))?\.?)\s+([A-Z][^\n]{1,70})$")
_URL = re.compile(r"https?://[^\s)\]>,;]+")
_ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5})(v\d+)?")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_paper(doc: RawDocument) -> Paper:
    """Turn the raw document into a Paper."""
    first = doc.pages[0]
    spans = [s for s in first.spans if len(s.text.strip()) > 3]
    title = max(spans, key=lambda s: s.size).text.strip() if spans else first.text.strip().splitlines()[0]
    full = "\n".join(p.text for p in doc.pages)
    lines = [ln.strip() for ln in full.splitlines()]
    abstract = ""
    sections: list[Section] = []
    references: list[str] = []
    current: Section | None = None
    in_abstract = in_refs = False
    for ln in lines:
        if re.fullmatch(r"(?i)abstract\.?", ln):
            in_abstract = True
            continue
        m = _HEADING.match(ln)
        if re.fullmatch(r"(?i)references|bibliography", ln):
            in_refs, in_abstract, current = True, False, None
            continue
        if m and not in_refs:
            in_abstract = False
            current = Section(m.group(3).strip(), 2 if m.group(2) else 1, 1, "")
            sections.append(current)
            continue
        if in_refs:
            if re.match(r"^\[\d+\]", ln) or not references:
                references.append(ln)
            elif references:
                references[-1] += " " + ln
        elif in_abstract:
            abstract += " " + ln
        elif current is not None:
            current.text += ln + "\n"
    urls = sorted({u.rstrip(".") for u in _URL.findall(full)} | {u for p in doc.pages for u in p.links})
    years = [int(y) for y in re.findall(r"\b(19[89]\d|20[0-3]\d)\b", "\n".join(p.text for p in doc.pages[:1]))]
    arxiv = _ARXIV.search(full)
    return Paper(
        title=title,
        authors=[],
        year=max(years) if years else None,
        abstract=abstract.strip(),
        sections=sections,
        references=references,
        urls=urls,
        pages=doc.page_count,
        source=doc.path,
        arxiv_id=arxiv.group(1) if arxiv else None,
        warnings=list(doc.warnings),
    )


def load_paper(path: Path, cache_dir: Path | None = None) -> Paper:
    """Read and extract a PDF (cached by content hash when `cache_dir` is given)."""
    paper = extract_paper(read_pdf(Path(path)))
    paper.sha256 = file_sha256(Path(path))
    return paper
