"""PDF file -> RawDocument (page text, positioned text spans, links, outline, metadata).

This is the only module that imports pypdf. Every pypdf failure is turned into a `PdfError` here, with
a message that names the problem and what to do about it.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdf
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError
from pypdf.generic import Destination

from drafter.errors import PdfError

log = logging.getLogger(__name__)

# Below this many characters of text over the whole document there is nothing to draft from.
MIN_TEXT_CHARS = 400
# Above this many pages extraction still works, but the user is warned that it takes a while.
MANY_PAGES = 150


@dataclass
class Span:
    """A run of text drawn with one font at one position (PDF user space, y grows upwards)."""

    text: str
    x: float
    y: float
    size: float
    font: str

    @property
    def bold(self) -> bool:
        name = self.font.lower()
        return any(k in name for k in ("bold", "medi", "black", "heavy", "semibold", "-bd", ".b"))


@dataclass
class RawPage:
    number: int  # 1-based
    text: str
    width: float = 612.0
    height: float = 792.0
    spans: list[Span] = field(default_factory=list)  # filled only for the pages asked for with layout
    links: list[str] = field(default_factory=list)  # URI link annotations, in page order


@dataclass
class OutlineItem:
    title: str
    level: int  # 1 = top
    page: int | None  # 1-based, None when the destination cannot be resolved


@dataclass
class RawDocument:
    path: str
    pages: list[RawPage]
    outline: list[OutlineItem] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.pages)


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs and warns about many harmless quirks of real PDFs; users should not see them."""
    logger = logging.getLogger("pypdf")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(previous)


def check_pdf_path(path: Path) -> None:
    """Reject paths that cannot be a readable PDF, before pypdf sees them."""
    if not path.exists():
        raise PdfError(f"{path}: no such file", "Check the path, or pass an arXiv id or a URL instead.")
    if path.is_dir():
        raise PdfError(f"{path} is a directory, not a PDF file",
                       "Pass one PDF file; to draft a whole folder use `drafter batch DIR`.")
    if not os.access(path, os.R_OK):
        raise PdfError(f"{path}: permission denied", "Make the file readable (chmod +r) or copy it somewhere readable.")
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise PdfError(f"{path}: cannot read file ({exc.strerror})", "Check that the file is readable.") from exc
    if not head:
        raise PdfError(f"{path} is empty (0 bytes)", "Download the PDF again.")
    if b"%PDF-" not in head:
        raise PdfError(f"{path} is not a PDF (no %PDF header)",
                       "Pass the paper's PDF file; if it is HTML or text, download the PDF version.")


def _open(path: Path) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(path, strict=False)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, AssertionError, OverflowError, ZeroDivisionError) as exc:
        raise PdfError(f"{path} is damaged and cannot be parsed ({type(exc).__name__})",
                       "Download the PDF again or re-save it with a PDF viewer.") from exc
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")
        except (FileNotDecryptedError, PdfReadError, PyPdfError, NotImplementedError, ValueError) as exc:
            raise PdfError(f"{path} is encrypted and cannot be decrypted here ({exc})",
                           "Save an unencrypted copy (e.g. print to PDF) and pass that.") from exc
        if not ok:
            raise PdfError(f"{path} is password-protected",
                           "Save an unencrypted copy (e.g. with `qpdf --decrypt`) and pass that.")
    return reader


def _page_links(page: Any) -> list[str]:
    links: list[str] = []
    annots = page.get("/Annots")
    if annots is None:
        return links
    for ref in annots.get_object() or []:
        annot = ref.get_object()
        if annot.get("/Subtype") != "/Link":
            continue
        action = annot.get("/A")
        if action is None:
            continue
        action = action.get_object()
        uri = action.get("/URI")
        if isinstance(uri, bytes):
            uri = uri.decode("latin-1")
        if uri:
            links.append(str(uri).strip())
    return links


def _outline(reader: pypdf.PdfReader) -> list[OutlineItem]:
    items: list[OutlineItem] = []

    def walk(nodes: list[Any], level: int) -> None:
        for node in nodes:
            if isinstance(node, list):
                walk(node, level + 1)
            elif isinstance(node, Destination):
                try:
                    page_index = reader.get_destination_page_number(node)
                except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError):
                    page_index = None
                page = page_index + 1 if isinstance(page_index, int) and page_index >= 0 else None
                items.append(OutlineItem(str(node.title or "").strip(), level, page))

    try:
        walk(reader.outline, 1)
    except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError, RecursionError):
        return []
    return items


def _metadata(reader: pypdf.PdfReader) -> dict[str, str]:
    try:
        meta = reader.metadata
    except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError):
        return {}
    if not meta:
        return {}
    out: dict[str, str] = {}
    for key in ("/Title", "/Author", "/Subject", "/Keywords", "/CreationDate", "/Creator", "/Producer"):
        value = meta.get(key)
        if value:
            out[key.lstrip("/").lower()] = str(value).strip()
    return out


def _spans(page: Any) -> tuple[str, list[Span]]:
    """Extract a page's text together with positioned spans (slower: used for the first pages only)."""
    spans: list[Span] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text or not text.strip():
            return
        scale_y = abs(tm[3]) * abs(cm[3]) or abs(tm[0]) * abs(cm[0]) or 1.0
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        name = str(font.get("/BaseFont", "")) if font else ""
        spans.append(Span(text, x, y, float(size) * scale_y, name))

    text = page.extract_text(visitor_text=visit)
    return text, spans


def read_pdf(path: Path, layout_pages: int = 2) -> RawDocument:
    """Read a PDF into a RawDocument; the first `layout_pages` pages also get positioned spans."""
    path = Path(path)
    check_pdf_path(path)
    with _quiet_pypdf():
        reader = _open(path)
        try:
            count = len(reader.pages)
        except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
            raise PdfError(f"{path} is damaged: its page tree cannot be read ({type(exc).__name__})",
                           "Download the PDF again or re-save it with a PDF viewer.") from exc
        if count == 0:
            raise PdfError(f"{path} has no pages", "Check that the download finished; pass the full paper PDF.")
        doc = RawDocument(str(path), [], _outline(reader), _metadata(reader))
        if count > MANY_PAGES:
            doc.warnings.append(f"{path.name} has {count} pages; extraction may take a while")
        for index in range(count):
            try:
                page = reader.pages[index]
                box = page.mediabox
                width, height = float(box.width), float(box.height)
                if index < layout_pages:
                    text, spans = _spans(page)
                else:
                    text, spans = page.extract_text(), []
                links = _page_links(page)
            except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError, IndexError,
                    RecursionError, AssertionError, OverflowError, ZeroDivisionError, UnicodeDecodeError) as exc:
                doc.warnings.append(f"page {index + 1} could not be read and was skipped ({type(exc).__name__})")
                doc.pages.append(RawPage(index + 1, ""))
                continue
            doc.pages.append(RawPage(index + 1, text or "", width, height, spans, links))
    total = sum(len(p.text.strip()) for p in doc.pages)
    if total == 0:
        raise PdfError(f"{path} has no text layer (it looks like a scan)",
                       "Run OCR first (e.g. `ocrmypdf in.pdf out.pdf`) and pass the result.")
    if total < MIN_TEXT_CHARS:
        raise PdfError(f"{path} holds too little text to draft from ({total} characters)",
                       "Pass the full paper, or run OCR if pages are scanned images.")
    return doc
