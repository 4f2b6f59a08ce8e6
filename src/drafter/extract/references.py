"""Reference-list lines -> reference entries; prose and link annotations -> the paper's URLs."""

from __future__ import annotations

import re

from drafter.extract.layout import Line
from drafter.ingest import RawDocument
from drafter.text import expand_ligatures, normalize_text, unwrap_lines, url_continues

_URL = re.compile(
    r"(?:https?://|ftp://|www\.|(?<![\w@./-])(?:github\.com|gitlab\.com|bitbucket\.org|huggingface\.co)/)"
    r"[^\s<>\"'{}|\\^\[\]]+")


def split_references(lines: list[Line]) -> list[str]:
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



def find_urls(text: str) -> list[str]:
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
                if not token or not url_continues(url, token):  # a dot after a path ends a sentence
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



def collect_urls(doc: RawDocument, prose: list[str], reference_lines: list[Line]) -> list[str]:
    """URLs printed in the prose (not the reference list) plus link annotations outside the references."""
    ref_pages = {ln.page for ln in reference_lines}
    first_ref_page = min(ref_pages) if ref_pages else doc.page_count + 1
    urls = find_urls(expand_ligatures("\n".join(prose)))
    for page in doc.pages:
        if page.number in ref_pages and page.number != first_ref_page:
            continue
        for uri, _x0, y0, _x1, _y1 in page.link_boxes:
            if page.number == first_ref_page and reference_lines and y0 < reference_lines[0].y:
                continue
            if uri.startswith(("http", "ftp", "www")) and "doi.org" not in uri and uri not in urls:
                urls.append(uri)
    return urls
