"""PDF page boxes -> PDFium's reading of the text inside them: the fallback for glyphs pypdf cannot map.

pypdf names a glyph it cannot map to a character by its glyph name ("/g99"); Type 3 fonts of dvips and of
some PDF producers do that for every glyph. PDFium falls back on the character codes and reads them. The
ingest scanner marks such glyphs (`UNMAPPED`) and asks here, once per run, for the text in the run's box.
PDFium is opened only for documents that need it, once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# PDFium is not thread-safe: one call at a time in this process, for this text fallback and for figure export
# (drafter.figures) alike, which batch may run side by side in threads.
PDFIUM_LOCK = threading.Lock()
UNMAPPED = "\ufffd"
_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}


class PdfiumText:
    """Reads text in boxes of one PDF's pages with PDFium, opening the document on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.document: Any = None
        self.failed = False
        self.pages: dict[int, Any] = {}
        self.reads = 0  # runs read (for the bench and the tests)

    def read(self, index: int, box: tuple[float, float, float, float]) -> str | None:
        """Text PDFium finds in `box` (x0, y0, x1, y1, PDF user space) on page `index` (0-based), or None
        when PDFium cannot be used or finds no better text (empty, unmapped glyphs again)."""
        textpage = self._textpage(index)
        if textpage is None:
            return None
        x0, y0, x1, y1 = box
        with PDFIUM_LOCK:
            try:
                text = textpage.get_text_bounded(left=x0, bottom=y0, right=x1, top=y1)
            except (ValueError, TypeError, OSError, RuntimeError) as exc:
                log.debug("PDFium could not read text on page %d (%s)", index + 1, exc)
                return None
        self.reads += 1
        text = " ".join(text.split())
        if not text or UNMAPPED in text or any(ch in _CONTROL for ch in text):
            return None
        return text

    def _textpage(self, index: int) -> Any:
        if self.failed:
            return None
        if index in self.pages:
            return self.pages[index]
        with PDFIUM_LOCK:
            try:
                if self.document is None:
                    import pypdfium2

                    self.document = pypdfium2.PdfDocument(str(self.path))
                page = self.document[index]
                self.pages[index] = page.get_textpage()
            except (ImportError, ValueError, TypeError, OSError, RuntimeError, IndexError) as exc:
                log.debug("PDFium cannot open %s (%s): unmapped glyphs stay unmapped", self.path, exc)
                self.failed = True
                return None
        return self.pages[index]

    def close(self) -> None:
        with PDFIUM_LOCK:
            for textpage in self.pages.values():
                textpage.close()
            self.pages.clear()
            if self.document is not None:
                self.document.close()
                self.document = None
