"""RawDocument -> Paper: title, authors, year, venue, arXiv id, abstract, sections, figures, tables,
footnotes, references, URLs.

One module per part of a page: `layout` (lines and page furniture), `header` (title, authors, venue),
`floats` (captions, tables, figure text, footnotes), `headings` (headings and the body paragraphs under
them), `references` (reference list and URLs), `diagnose` (what could not be found, as warning lines).
Extracted Papers are cached as JSON keyed by the PDF's sha256 (see `load_paper`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from drafter.extract.diagnose import diagnose
from drafter.extract.floats import find_floats
from drafter.extract.header import mark_front_furniture, pick_year, read_arxiv_stamp, read_front, read_venue
from drafter.extract.headings import read_body
from drafter.extract.layout import Line, build_lines, read_layout
from drafter.extract.references import collect_urls, split_references
from drafter.files import atomic_write
from drafter.ingest import RawDocument, check_pdf_path, read_pdf
from drafter.paper import Paper

log = logging.getLogger(__name__)

# Bump whenever extraction output changes: cached Papers from another version are ignored.
EXTRACTOR_VERSION = "4.24"


def extract_paper(doc: RawDocument) -> Paper:
    """Turn the raw document into a Paper."""
    layout = read_layout(doc)
    paper = Paper(title="", pages=doc.page_count, source=doc.path, warnings=list(doc.warnings))
    front = read_front(doc, layout, paper)
    stamp_year = read_arxiv_stamp(layout, paper)
    venue_texts, venue_year, cover = read_venue(layout, front, paper)
    floats = find_floats(layout, front.title_lines)
    paper.figures, paper.tables, paper.footnotes = floats.figures, floats.tables, floats.footnotes
    mark_front_furniture(layout, front)
    body = read_body(doc, layout, front.title_lines, front.abstract_line)
    paper.abstract, paper.sections = body.abstract, body.sections
    paper.references = split_references(body.reference_lines)
    cover_text = [ln.text for lns in layout.pages[:layout.first] for ln in lns]
    paper.urls = collect_urls(doc, cover_text + body.url_text, body.reference_lines)
    pick_year(doc, paper, venue_texts, venue_year, stamp_year, cover)
    paper.warnings.extend(diagnose(paper))  # what was not found: printed once by new, batch and inspect
    return paper


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
