"""PDF file -> RawDocument (page text, positioned text spans, links, outline, metadata).

This is the only module that imports pypdf. Every pypdf failure is turned into a `PdfError` here, with
a message that names the problem and what to do about it.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import re
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdf
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError, PyPdfError
from pypdf.generic import ArrayObject, Destination, IndirectObject

try:  # pypdf has no public font decoder; its private one appeared in 6.20 (pyproject.toml bounds the range)
    from pypdf.generic._font import Font
except ImportError:  # a pypdf outside the declared range: read_pdf says so in one line
    Font = None  # type: ignore[assignment,misc]

from drafter.errors import DrafterError, PdfError
from drafter.pdfium_text import UNMAPPED, PdfiumText

log = logging.getLogger(__name__)

# Below this many characters of text over the whole document there is nothing to draft from.
MIN_TEXT_CHARS = 400
# Above this many pages extraction still works, but the user is warned that it takes a while.
MANY_PAGES = 150
# Decoded content-stream bytes read per page and per document: the content scanner is pure Python (about a second
# per MB of operators), so a 70 MB stream of "q Q" from a 73 KB file cost a minute, per page that shares it.
PAGE_CONTENT_BUDGET = 8 * 1024 * 1024
DOC_CONTENT_BUDGET = 200 * 1024 * 1024


# Bold font names: "...-Bold", "NimbusRomNo9L-Medi", "Helvetica-Black", TeX's Computer Modern "CMBX10",
# "CMSSBX10", Latin Modern "LMRoman10-Bold", "...-Demi", "Arial-BoldMT", "Vera" bold "VeraBd".
_BOLD_FONT = re.compile(r"(?i)bold|medi(?!um)|black|heavy|demi|semibold|-bd|\.b\b|bd$|cmbx|cmssbx|cmbsy|"
                        r"bx\d+$|lmromandemi")


@dataclass
class Span:
    """A run of text drawn with one font at one position (PDF user space, y grows upwards)."""

    text: str
    x: float
    y: float
    size: float
    font: str
    x1: float = 0.0  # right end of the run (0 when unknown)
    line: int = -1  # index of the text line the span belongs to on its page (-1 when unknown)
    rotated: bool = False  # drawn vertically (e.g. the arXiv margin stamp)
    figure: bool = False  # drawn inside a form XObject (an embedded figure) on a page with its own text

    @property
    def bold(self) -> bool:
        return bool(_BOLD_FONT.search(self.font))


@dataclass
class RawPage:
    number: int  # 1-based
    text: str
    width: float = 612.0
    height: float = 792.0
    spans: list[Span] = field(default_factory=list)  # filled only for the pages asked for with layout
    links: list[str] = field(default_factory=list)  # URI link annotations, in page order
    # (uri, x0, y0, x1, y1) for each URI link annotation, same order as `links`
    link_boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)


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
    if not stat.S_ISREG(path.stat().st_mode):  # opening a FIFO blocks; /dev/zero never ends
        raise PdfError(f"{path} is not a regular file (a pipe, socket or device)",
                       "Pass a PDF file saved on disk.")
    if not os.access(path, os.R_OK):
        raise PdfError(f"{path}: permission denied",
                       "Make the file readable (chmod +r) or copy it somewhere readable.")
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise PdfError(f"{path}: cannot read file ({exc.strerror})",
                       "Check that the file is readable.") from exc
    if not head:
        raise PdfError(f"{path} is empty (0 bytes)", "Download the PDF again.")
    if b"%PDF-" not in head:
        raise PdfError(f"{path} is not a PDF (no %PDF header)",
                       "Pass the paper's PDF file; if it is HTML or text, download the PDF version.")


# What pypdf raises on damaged or unusual PDFs (NotImplementedError: an unsupported stream filter).
# Each is turned into a PdfError, or into a skipped page with a warning.
PDF_FAULTS: tuple[type[BaseException], ...] = (
    PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError, IndexError, RecursionError,
    AssertionError, OverflowError, ZeroDivisionError, UnicodeDecodeError, NotImplementedError,
)


def _open(path: Path) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(path, strict=False)
    except PDF_FAULTS as exc:
        raise PdfError(f"{path} is damaged and cannot be parsed ({type(exc).__name__})",
                       "Download the PDF again or re-save it with a PDF viewer.") from exc
    if reader.is_encrypted:
        if "/AESV" in str(reader.trailer.get("/Encrypt", "")) and importlib.util.find_spec("cryptography") is None:
            # pypdf decrypts AES only through cryptography (a dependency; a broken install may lack it), and
            # would fail page by page with DependencyError.
            raise PdfError(f"{path} is AES-encrypted and this install cannot decrypt it",
                           "Install the cryptography package (pip install cryptography) and run again.")
        try:
            ok = reader.decrypt("")
        except (FileNotDecryptedError, PdfReadError, PyPdfError, NotImplementedError, ValueError) as exc:
            raise PdfError(f"{path} is encrypted and cannot be decrypted here ({exc})",
                           "Save an unencrypted copy (e.g. print to PDF) and pass that.") from exc
        except DependencyError as exc:  # AES without the `cryptography` package (a runtime dependency)
            raise PdfError(f"{path} is AES-encrypted and this install cannot decrypt it ({exc})",
                           "Install the cryptography package (pip install cryptography) and run again.") from exc
        if not ok:
            raise PdfError(f"{path} is password-protected",
                           "Save an unencrypted copy (e.g. with `qpdf --decrypt`) and pass that.")
    return reader


_LINK = re.compile(rb"/Subtype\s*/Link\b")
_URI = re.compile(rb"/URI\s*(\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)|<[0-9A-Fa-f\s]*>)", re.S)
_ACTION_REF = re.compile(rb"/A\s+(\d+)\s+(\d+)\s+R\b")
_RECT = re.compile(rb"/Rect\s*\[([^\]]*)\]")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")


class _RawObjects:
    """Reads the bytes of indirect objects without pypdf parsing them.

    Papers often carry hundreds of highlight annotations (and citation links) packed into object streams;
    pypdf parses every object of such a stream when one is asked for. Looking at the raw bytes first lets
    `_page_links` skip everything that is not a URI link. Returns None whenever unsure (then pypdf decides).
    """

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.streams: dict[int, tuple[bytes, dict[int, tuple[int, int]]] | None] = {}

    def raw(self, ref: Any) -> bytes | None:
        if not isinstance(ref, IndirectObject):
            return None
        reader = self.reader
        try:
            located = reader.xref_objStm.get(ref.idnum) if ref.generation == 0 else None
            if located is not None:
                return self._from_stream(int(located[0]), ref.idnum)
            offset = reader.xref.get(ref.generation, {}).get(ref.idnum)
            if offset is None:
                return None
            stream = reader.stream
            here = stream.tell()
            try:
                stream.seek(offset)
                chunk = stream.read(16384)
            finally:
                stream.seek(here)
        except (AttributeError, KeyError, TypeError, ValueError, OSError, PdfReadError, PyPdfError):
            return None
        end = chunk.find(b"endobj")
        head = re.match(rb"\s*(\d+)\s+(\d+)\s+obj", chunk)
        if end < 0 or head is None or int(head.group(1)) != ref.idnum:
            return None
        return chunk[head.end():end]

    def _from_stream(self, stmnum: int, idnum: int) -> bytes | None:
        if stmnum not in self.streams:
            self.streams[stmnum] = None
            stm: Any = IndirectObject(stmnum, 0, self.reader).get_object()
            data = stm.get_data()
            first = int(stm["/First"])
            numbers = [int(v) for v in data[:first].split()]
            pairs = list(zip(numbers[0::2], numbers[1::2], strict=False))
            bounds = {}
            for i, (num, off) in enumerate(pairs):
                stop = pairs[i + 1][1] if i + 1 < len(pairs) else len(data) - first
                bounds[num] = (first + off, first + stop)
            self.streams[stmnum] = (data, bounds)
        entry = self.streams[stmnum]
        if entry is None or idnum not in entry[1]:
            return None
        data, bounds = entry
        start, stop = bounds[idnum]
        return data[start:stop]


def _link_from_raw(raw: bytes, objects: _RawObjects) -> tuple[str, float, float, float, float] | bool | None:
    """A URI link read from raw annotation bytes; None: not a URI link; False: cannot tell from the bytes."""
    if not _LINK.search(raw):
        return None
    uri = _URI.search(raw)
    if uri is None:
        action = _ACTION_REF.search(raw)
        if action is None:
            return None if b"/A" in raw or b"/Dest" in raw else False
        action_raw = objects.raw(IndirectObject(int(action.group(1)), int(action.group(2)), objects.reader))
        if action_raw is None:
            return False
        uri = _URI.search(action_raw)
        if uri is None:
            return None
    rect = _RECT.search(raw)
    if rect is None:
        return False
    values = [float(v) for v in _NUMBER.findall(rect.group(1))]
    if len(values) != 4:
        return False
    text = _decode_string_token(uri.group(1).strip()).decode("latin-1").strip()
    if text.startswith("\ufeff") or text[:2] == "\xfe\xff":
        return False
    left, bottom, right, top = values
    return (text, left, bottom, right, top) if text else None


def _annotation_refs(page: Any, objects: _RawObjects | None) -> list[Any] | None:
    """The page's /Annots references read from raw bytes when the array is an indirect object; else None."""
    if objects is None:
        return None
    try:
        ref = page.raw_get("/Annots")
    except KeyError:
        return []
    if not isinstance(ref, IndirectObject):
        return None
    raw = objects.raw(ref)
    if raw is None or not raw.strip().startswith(b"[") or not raw.strip().endswith(b"]"):
        return None
    body = raw.strip()[1:-1]
    refs = [IndirectObject(int(a), int(b), objects.reader) for a, b in re.findall(rb"(\d+)\s+(\d+)\s+R\b", body)]
    if re.sub(rb"(\d+)\s+(\d+)\s+R\b|\s", b"", body):  # something else in there: let pypdf read it
        return None
    return refs


def _page_links(page: Any, objects: _RawObjects | None = None) -> list[tuple[str, float, float, float, float]]:
    """URI link annotations of a page with their rectangles (GoTo links inside the document are skipped)."""
    links: list[tuple[str, float, float, float, float]] = []
    refs = _annotation_refs(page, objects)
    if refs is None:
        annots = page.get("/Annots")
        if annots is None:
            return links
        refs = list(annots.get_object() or [])
    for ref in refs:
        if objects is not None:
            raw = objects.raw(ref)
            if raw is not None:
                try:
                    found = _link_from_raw(raw, objects)
                except (ValueError, TypeError, KeyError, AttributeError):
                    found = False
                if found is None:
                    continue
                if found is not False:
                    links.append(found)  # type: ignore[arg-type]
                    continue
        annot = ref.get_object()
        if not hasattr(annot, "get") or annot.get("/Subtype") != "/Link":
            continue
        action = annot.get("/A")
        if action is None:
            continue
        action = action.get_object()
        uri = action.get("/URI")
        if uri is not None:
            uri = uri.get_object()
        if isinstance(uri, bytes):
            uri = uri.decode("latin-1")
        if not uri:
            continue
        try:
            x0, y0, x1, y1 = (float(v) for v in annot.get("/Rect", [0, 0, 0, 0]))
        except (TypeError, ValueError):
            x0 = y0 = x1 = y1 = 0.0
        links.append((str(uri).strip(), x0, y0, x1, y1))
    return links


# -- fast text layer ---------------------------------------------------------------------------------
# pypdf's extract_text() parses every operator of a content stream into Python objects, which is what it
# spends most of its time on. Only the text operators matter here, so content streams are scanned with one
# regular expression; runs of numbers (path coordinates of figures) become a single token.

_TOKEN = re.compile(
    rb"""(?P<nums>(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:\s+|(?=[^\d.])|\Z))+)
    |(?P<arr>\[(?:[^\[\]()<>]|\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)|<[0-9A-Fa-f\s]*>)*\])
    |(?P<str>\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\))
    |(?P<hex><[0-9A-Fa-f\s]*>)
    |(?P<name>/[^\s/\[\]()<>{}%]*)
    |(?P<op>[A-Za-z'"][A-Za-z0-9*'"]*)
    |(?P<cmt>%[^\r\n]*)
    |(?P<dict><<|>>|[\[\]{}])""",
    re.S | re.X,
)
_ARRAY_ITEM = re.compile(
    rb"\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)|<[0-9A-Fa-f\s]*>|[+-]?(?:\d+\.?\d*|\.\d+)", re.S)
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|(\r\n|\r|\n)|(.))", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_END_IMAGE = re.compile(rb"\sEI(?=[\s]|\Z)")
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
# Text nested deeper than this many form XObjects is figure content (plot labels), not prose; reading
# thousands of tiny nested forms is also where pypdf spends its time on figure-heavy pages.
_MAX_FORM_DEPTH = 2

Matrix = tuple[float, float, float, float, float, float]


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """m x n in the PDF row-vector convention (apply m first, then n)."""
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s, e * p + f * r + t, e * q + f * s + u)


def _advance(tm: Matrix, tx: float) -> Matrix:
    """Move the text matrix `tx` text-space units along its baseline."""
    return (tm[0], tm[1], tm[2], tm[3], tm[4] + tx * tm[0], tm[5] + tx * tm[1])


def _unescape(raw: bytes) -> bytes:
    if b"\\" not in raw:
        return raw

    def repl(m: re.Match[bytes]) -> bytes:
        if m.group(1):
            return bytes([int(m.group(1), 8) & 0xFF])
        if m.group(2):
            return b""
        ch = m.group(3)
        return _ESCAPES.get(ch, ch)

    return _ESCAPE.sub(repl, raw)


def _decode_string_token(token: bytes) -> bytes:
    if token[:1] == b"(":
        return _unescape(token[1:-1])
    hexdigits = re.sub(rb"\s", b"", token[1:-1])
    if len(hexdigits) % 2:
        hexdigits += b"0"
    return bytes.fromhex(hexdigits.decode("ascii"))


# Codes 11-15 are ff, fi, fl, ffi, ffl in TeX's OT1 encoding; a font that maps them to nothing leaves
# control characters there ("classi\x0cers"), never text.
_TEX_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0d": "fl", "\x0e": "ffi", "\x0f": "ffl"}
_TEX_LIGATURE = re.compile("[\x0b-\x0f]")


def _unmapped_glyph(name: str, type3: bool) -> str:
    """Text for a glyph pypdf knows only by its name: a ligature named by its letters ("f_l"), or in a Type 3
    font (arbitrary names: "/g99") a mark for PDFium to read; other fonts' unknown glyphs are symbols."""
    if re.fullmatch(r"[A-Za-z](?:_[A-Za-z])+", name):
        return name.replace("_", "")
    return UNMAPPED if type3 else ""


class _FontInfo:
    """Decodes the bytes of one font's strings to text and their advance width (in 1/1000 em)."""

    def __init__(self, font_dict: Any) -> None:
        self.name = str(font_dict.get("/BaseFont", "")) if hasattr(font_dict, "get") else ""
        try:
            font = Font.from_font_resource(font_dict)
        except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError, IndexError):
            font = None
        self.font = font
        # Type3 glyphs live in their own space (/FontMatrix): widths and the drawn size scale with it
        self.scale = self.vscale = 1.0
        if font is not None and font.sub_type == "Type3":
            matrix = font_dict.get("/FontMatrix")
            try:
                if matrix:
                    self.scale = float(matrix[0]) * 1000
                    self.vscale = abs(float(matrix[3])) * 1000 or 1.0
            except (TypeError, ValueError, IndexError):
                self.scale = self.vscale = 1.0
        self.two_byte = font is not None and isinstance(font.encoding, str) and font.sub_type == "Type0"
        self._cache: dict[bytes, tuple[str, float]] = {}
        # single-byte fonts: code -> (text, width), filled on first use
        self._table: list[tuple[str, float] | None] | None = None
        if font is not None and not self.two_byte:
            self._table = [None] * 256

    def _decode_code(self, data: bytes) -> tuple[str, float]:
        font = self.font
        if font is None:
            return data.decode("latin-1"), 500.0 * len(data)
        if isinstance(font.encoding, str):
            try:
                raw = data.decode(font.encoding, "surrogatepass")
            except (UnicodeDecodeError, LookupError):
                raw = data.decode("latin-1")
            keys = raw
        else:
            raw = "".join(font.encoding.get(b, chr(b)) for b in data)
            keys = "".join(chr(b) for b in data)
        widths = font.character_widths
        default = widths.get("default", 500)
        width = sum(widths.get(k, default) for k in keys) * self.scale
        if len(raw) > len(data) and raw.startswith("/") and len(data) == 1 and raw not in font.character_map:
            return _unmapped_glyph(raw[1:], font.sub_type == "Type3"), float(width)
        text = "".join(font.character_map.get(ch, ch) for ch in raw)
        if _TEX_LIGATURE.search(text):  # TeX's ligature slots, left unmapped by fonts without a ToUnicode
            text = _TEX_LIGATURE.sub(lambda m: _TEX_LIGATURES[m.group()], text)
        return text, float(width)

    def spaced(self, data: bytes, text: str) -> str:
        """The text of `data` with a space between glyphs (single-byte fonts; others keep `text`)."""
        if self._table is None:
            return text
        return " ".join(self.decode(bytes([code]))[0] for code in data)

    def decode(self, data: bytes) -> tuple[str, float, int, int]:
        """Text, width in 1/1000 text-space units, glyph count, count of single-byte spaces."""
        if self._table is not None:
            table = self._table
            text = ""
            width = 0.0
            for code in data:
                entry = table[code]
                if entry is None:
                    entry = table[code] = self._decode_code(bytes([code]))
                text += entry[0]
                width += entry[1]
            return text, width, len(data), data.count(32)
        cached = self._cache.get(data)
        if cached is None:
            cached = self._decode_code(data)
            if len(self._cache) < 20000:
                self._cache[data] = cached
        return cached[0], cached[1], max(1, len(data) // 2), 0


_SHOW_OPS = frozenset((b"Tj", b"TJ", b"'", b'"'))
_STATE_OPS = frozenset((b"Td", b"TD", b"Tm", b"T*", b"Tf", b"BT", b"cm", b"q", b"Q", b"Tc", b"Tw", b"Tz", b"TL",
                        b"Ts", b"Do"))


def _numbers(operands: list[bytes], k: int) -> list[float]:
    """The last `k` numeric operands (runs of numbers arrive as one token), or [] when there are fewer."""
    vals: list[float] = []
    for tok in operands:
        if tok[:1] not in (b"(", b"<", b"/", b"["):
            vals.extend(float(v) for v in tok.split())
    return vals[-k:] if len(vals) >= k else []


class _TextState:
    """The part of the graphics state text positions depend on; q/Q save and restore all but the matrices."""

    __slots__ = ("ctm", "font", "fs", "saved", "tc", "th", "tl", "tlm", "tm", "ts", "tw")

    def __init__(self, ctm: Matrix) -> None:
        self.ctm = ctm
        self.tm: Matrix = _IDENTITY  # text matrix
        self.tlm: Matrix = _IDENTITY  # text line matrix
        self.font: _FontInfo | None = None
        self.fs = 1.0  # font size operand
        self.tc = self.tw = self.ts = 0.0  # character spacing, word spacing, rise
        self.th = 1.0  # horizontal scaling
        self.tl = 0.0  # leading
        self.saved: list[tuple[Any, ...]] = []

    def next_line(self) -> None:
        """T* (and ' and "): start the next line, `tl` below the current one."""
        tlm, tl = self.tlm, self.tl
        self.tm = self.tlm = (tlm[0], tlm[1], tlm[2], tlm[3], tlm[4] - tl * tlm[2], tlm[5] - tl * tlm[3])

    def save(self) -> None:
        self.saved.append((self.ctm, self.font, self.fs, self.tc, self.tw, self.th, self.tl, self.ts))

    def restore(self) -> None:
        if self.saved:
            self.ctm, self.font, self.fs, self.tc, self.tw, self.th, self.tl, self.ts = self.saved.pop()


class _TextRun:
    __slots__ = ("figure", "font", "rotated", "size", "text", "x0", "x1", "y")

    def __init__(self, text: str, x0: float, x1: float, y: float, size: float, font: str,
                 rotated: bool, figure: bool = False) -> None:
        self.text, self.x0, self.x1, self.y = text, x0, x1, y
        self.size, self.font, self.rotated, self.figure = size, font, rotated, figure


class _ContentScanner:
    """Walks a page's content stream (and its form XObjects) and records positioned text runs."""

    def __init__(self, fonts: dict[Any, _FontInfo], budget: _ContentBudget | None = None) -> None:
        self.fonts = fonts
        self.budget = budget or _ContentBudget()
        self.form_bytes = 0  # decoded bytes of the page's form XObjects, counted against the page's budget
        self.runs: list[_TextRun] = []
        self.seen_forms: set[int] = set()
        self.by_name: dict[tuple[int, str], _FontInfo | None] = {}  # (id of resources, /Fn) -> font

    def _font(self, resources: Any, name: str) -> _FontInfo | None:
        local = (id(resources), name)
        if local in self.by_name:
            return self.by_name[local]
        info = self._resolve_font(resources, name)
        self.by_name[local] = info
        return info

    def _resolve_font(self, resources: Any, name: str) -> _FontInfo | None:
        try:
            ref = resources["/Font"].get_object().raw_get(name)
        except (KeyError, AttributeError, TypeError):
            return None
        key = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else id(ref)
        info = self.fonts.get(key)
        if info is None:
            info = _FontInfo(ref.get_object())
            self.fonts[key] = info
        return info

    def scan(self, data: bytes, resources: Any, ctm: Matrix = _IDENTITY, depth: int = 0) -> None:
        """Read one content stream: operands are collected until their operator, which the handlers apply."""
        state = _TextState(ctm)
        operands: list[bytes] = []
        pos = 0
        search = _TOKEN.search
        n = len(data)
        while pos < n:
            m = search(data, pos)
            if m is None:
                break
            pos = m.end()
            kind = m.lastgroup
            if kind != "op":
                if kind != "cmt":
                    operands.append(m.group())
                continue
            op = m.group()
            if op in _SHOW_OPS:
                self._show(op, operands, state, depth)
            elif op in _STATE_OPS:
                self._change_state(op, operands, state, resources, depth)
            elif op == b"BI":  # inline image: skip its binary data
                start = data.find(b"ID", pos)
                end = _END_IMAGE.search(data, start + 3) if start >= 0 else None
                pos = end.end() if end else n
            operands = []  # path painting, colours, marked content: nothing for text

    def _show(self, op: bytes, operands: list[bytes], state: _TextState, depth: int) -> None:
        """Tj, TJ, ' and ": record the shown strings as runs and move the text matrix past them."""
        if op == b"'" or op == b'"':
            if op == b'"':
                vals = _numbers(operands, 2)
                if vals:
                    state.tw, state.tc = vals
            state.next_line()
        font = state.font
        if font is None or not operands:
            return
        last = operands[-1]
        items = _ARRAY_ITEM.findall(last[1:-1]) if last[:1] == b"[" else [last]
        # the text matrix only moves along its baseline inside one show operator: the scale, rotation and
        # size are computed once, the position is tracked as (te, tf)
        ta, tb, tcm, td, te, tf = state.tm
        ca, cb, cc, cd, ce, cf = state.ctm
        fs, tc, tw, th, ts = state.fs, state.tc, state.tw, state.th, state.ts
        size = abs(fs) * math.hypot(tcm * ca + td * cc, tcm * cb + td * cd) * font.vscale
        is_rotated = abs(ta * cb + tb * cd) > abs(ta * ca + tb * cc)
        figure = depth > 0
        name = font.name
        decode = font.decode
        per_unit = fs / 1000.0 * th
        runs = self.runs
        for item in items:
            first = item[:1]
            if first == b"(" or first == b"<":
                data = _decode_string_token(item)
                text, width, count, spaces = decode(data)
                advance = (width * per_unit) + (tc * count + tw * spaces) * th
                x0 = te * ca + tf * cc + ce
                y0 = te * cb + tf * cd + cf
                te += advance * ta
                tf += advance * tb
                if not text:
                    continue
                if count > 1 and tc >= 0.5 * abs(fs):  # glyphs set half an em or more apart read as words
                    text = font.spaced(data, text)
                # the run ends at its last glyph, not after the character spacing that follows it
                end_e, end_f = te - tc * th * ta, tf - tc * th * tb
                x1 = end_e * ca + end_f * cc + ce
                if is_rotated:
                    y1 = end_e * cb + end_f * cd + cf
                    runs.append(_TextRun(text, y0, y1, x0, size, name, True, figure))
                    continue
                y0 += ts
                prev = runs[-1] if runs else None
                # glyph-by-glyph positioning: extend the previous run instead of a new one
                if (prev is not None and prev.y == y0 and prev.size == size and prev.font is name
                        and not prev.rotated and prev.figure == figure
                        and -0.05 * size < x0 - prev.x1 < 0.1 * size):
                    prev.text += text
                    prev.x1 = x1
                else:
                    runs.append(_TextRun(text, x0, x1, y0, size, name, False, figure))
            else:
                advance = -float(item) * per_unit
                te += advance * ta
                tf += advance * tb
        state.tm = (ta, tb, tcm, td, te, tf)

    def _change_state(self, op: bytes, operands: list[bytes], state: _TextState, resources: Any,
                      depth: int) -> None:
        """Every other operator text depends on: positioning, font, spacing, the CTM and its stack, forms."""
        if op == b"Td" or op == b"TD":
            vals = _numbers(operands, 2)
            if vals:
                tx, ty = vals
                if op == b"TD":
                    state.tl = -ty
                tlm = state.tlm
                state.tm = state.tlm = (tlm[0], tlm[1], tlm[2], tlm[3], tlm[4] + tx * tlm[0] + ty * tlm[2],
                                        tlm[5] + tx * tlm[1] + ty * tlm[3])
        elif op == b"Tf":
            vals = _numbers(operands, 1)
            names = [t for t in operands if t[:1] == b"/"]
            if vals:
                state.fs = vals[0]
            if names:
                state.font = self._font(resources, names[-1].decode("latin-1"))
        elif op == b"Tm":
            vals = _numbers(operands, 6)
            if vals:
                state.tm = state.tlm = tuple(vals)  # type: ignore[assignment]
        elif op == b"T*":
            state.next_line()
        elif op == b"BT":
            state.tm = state.tlm = _IDENTITY
        elif op == b"cm":
            vals = _numbers(operands, 6)
            if vals:
                state.ctm = _multiply(tuple(vals), state.ctm)  # type: ignore[arg-type]
        elif op == b"q":
            state.save()
        elif op == b"Q":
            state.restore()
        elif op == b"Do":
            names = [t for t in operands if t[:1] == b"/"]
            if names and depth < _MAX_FORM_DEPTH:
                self._form(resources, names[-1].decode("latin-1"), state.ctm, depth)
        else:  # Tc, Tw, Tz, TL, Ts: one number each
            vals = _numbers(operands, 1)
            if vals:
                if op == b"Tc":
                    state.tc = vals[0]
                elif op == b"Tw":
                    state.tw = vals[0]
                elif op == b"Tz":
                    state.th = vals[0] / 100.0
                elif op == b"TL":
                    state.tl = vals[0]
                else:
                    state.ts = vals[0]


    def _form(self, resources: Any, name: str, ctm: Matrix, depth: int) -> None:
        try:
            ref = resources["/XObject"].get_object().raw_get(name)
        except (KeyError, AttributeError, TypeError):
            return
        key = ref.idnum if isinstance(ref, IndirectObject) else id(ref)
        xobj = ref.get_object()
        if xobj.get("/Subtype") != "/Form" or key in self.seen_forms:
            return
        self.seen_forms.add(key)
        matrix = xobj.get("/Matrix")
        try:
            form_m = tuple(float(v) for v in matrix) if matrix else _IDENTITY
        except (TypeError, ValueError):
            form_m = _IDENTITY
        sub_resources = xobj.get("/Resources")
        sub_resources = sub_resources.get_object() if sub_resources is not None else resources
        data = self.budget.take(ref, self.form_bytes)
        self.form_bytes += len(data)
        self.scan(data, sub_resources, _multiply(form_m, ctm), depth + 1)  # type: ignore[arg-type]
        self.seen_forms.discard(key)


class _ContentRefused(Exception):
    """A page's content is over the budget, or a stream of it hit pypdf's decoding limit (a Flate bomb): the page is
    skipped, and a stream shared by other pages is not decoded again for each."""


@dataclass
class _ContentBudget:
    left: int = field(default_factory=lambda: DOC_CONTENT_BUDGET)
    refused: dict[int, str] = field(default_factory=dict)  # stream object number -> why it is not read
    skipped: int = 0  # pages skipped for that

    def take(self, ref: Any, size_so_far: int) -> bytes:
        """One content or form stream's decoded bytes, counted against the page's and the document's budget."""
        key = ref.idnum if isinstance(ref, IndirectObject) else None
        if key is not None and key in self.refused:
            raise _ContentRefused(self.refused[key])
        try:
            data = ref.get_object().get_data()
        except LimitReachedError as exc:
            why = f"a content stream decodes past pypdf's limit ({exc})"
            self._refuse(key, why)
            raise _ContentRefused(why) from exc
        size = size_so_far + len(data)
        if size > PAGE_CONTENT_BUDGET or size > self.left:
            limit = PAGE_CONTENT_BUDGET if size > PAGE_CONTENT_BUDGET else self.left
            why = f"its content is {size / 1e6:.0f} MB decoded, over the {limit / 1e6:.0f} MB read per page"
            self._refuse(key, why)
            raise _ContentRefused(why)
        return data

    def _refuse(self, key: int | None, why: str) -> None:
        if key is not None:
            self.refused[key] = why


def _read_page_content(page: Any, budget: _ContentBudget) -> bytes:
    ref = page.get("/Contents")
    if ref is None:
        return b""
    contents = ref.get_object()
    parts, size, out = (list(contents) if isinstance(contents, ArrayObject) else [ref]), 0, []
    for part in parts:
        data = budget.take(part, size)
        size += len(data)
        out.append(data)
    budget.left -= size
    return b"\n".join(out)


def _group_runs(runs: list[_TextRun]) -> tuple[str, list[Span]]:
    """Merge text runs into spans (same font and baseline) and lines; return the page text and the spans."""
    spans: list[Span] = []
    lines: list[list[Span]] = []
    upright = [r for r in runs if not r.rotated]
    rotated = [r for r in runs if r.rotated]
    for group in (upright, rotated):
        prev: Span | None = None
        ref_x1 = 0.0  # right end of the line's last full-size span (superscripts may overlap it)
        for run in group:
            size = run.size or 1.0
            if prev is not None:
                gap = run.x0 - prev.x1
                dy = abs(run.y - prev.y)
                big = max(size, prev.size)
                full_gap = run.x0 - ref_x1
                same_line = (dy < 0.6 * big and gap < 4 * big
                             and (gap >= -0.4 * big or full_gap >= -0.4 * size))
                if (same_line and run.font == prev.font and abs(run.size - prev.size) < 0.05
                        and run.figure == prev.figure
                        and dy < 0.1 * size and gap < 0.8 * size and not run.text.isspace()):
                    if gap > 0.15 * size and not prev.text.endswith(" ") and not run.text.startswith(" "):
                        prev.text += " "
                    prev.text += run.text
                    prev.x1 = run.x1
                    ref_x1 = max(ref_x1, run.x1)
                    continue
                if not same_line:
                    prev = None
            span = Span(run.text, run.x0, run.y, run.size, run.font, run.x1, -1, run.rotated, run.figure)
            if prev is None:
                lines.append([span])
                ref_x1 = run.x1
            else:
                lines[-1].append(span)
                if size >= 0.85 * max(s.size for s in lines[-1]):
                    ref_x1 = max(ref_x1, run.x1)
            span.line = len(lines) - 1
            spans.append(span)
            prev = span
    out_lines: list[str] = []
    for line in lines:
        parts: list[str] = []
        last: Span | None = None
        for span in line:
            if last is not None and span.x - last.x1 > 0.15 * min(span.size, last.size):
                parts.append("  " if span.x - last.x1 > 0.8 * min(span.size, last.size) else " ")
            parts.append(span.text)
            last = span
        text = "".join(parts).strip()
        if text:
            out_lines.append(text)
    return "\n".join(out_lines), spans


def _scan_page(page: Any, fonts: dict[Any, _FontInfo], budget: _ContentBudget, pdfium: PdfiumText | None = None,
               index: int = 0) -> tuple[str, list[Span]]:
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else {}
    scanner = _ContentScanner(fonts, budget)
    scanner.scan(_read_page_content(page, budget), resources)
    runs = scanner.runs
    if pdfium is not None:
        _read_unmapped(runs, pdfium, index)
    in_forms = sum(len(r.text) for r in runs if r.figure)
    if in_forms * 2 > sum(len(r.text) for r in runs):  # the page itself is wrapped in a form: not a figure
        for r in runs:
            r.figure = False
    return _group_runs(runs)


def _read_unmapped(runs: list[_TextRun], pdfium: PdfiumText, index: int) -> None:
    """Runs with glyphs pypdf cannot map take PDFium's text for their box; without it the glyphs go."""
    for run in runs:
        if UNMAPPED not in run.text:
            continue
        text = None
        if not run.rotated:
            text = pdfium.read(index, (run.x0 - 0.1, run.y - 0.25 * run.size, run.x1 + 0.1, run.y + 0.8 * run.size))
        run.text = text if text is not None else run.text.replace(UNMAPPED, "")


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
        for k, part in enumerate(p for p in text.split("\n") if p.strip()):
            em = float(size) * scale_y
            # pypdf reports no end position: estimate it (half an em per character)
            spans.append(Span(part.strip(), x, y - k * em * 1.2, em, name, x + 0.5 * em * len(part.strip())))

    text = page.extract_text(visitor_text=visit)
    line = -1
    for i, span in enumerate(spans):  # number the lines: a new line wherever the baseline moves
        if i == 0 or abs(span.y - spans[i - 1].y) > 0.5 * max(span.size, 1.0) or span.x < spans[i - 1].x:
            line += 1
        span.line = line
    return text, spans


def _read_pages(doc: RawDocument, reader: pypdf.PdfReader, count: int, fallback_layout: int,
                fonts: dict[Any, _FontInfo], objects: _RawObjects, pdfium: PdfiumText,
                budget: _ContentBudget) -> None:
    """Every page's text, spans and links into `doc`; a page that cannot be read is skipped with a warning."""
    for index in range(count):
        try:
            page = reader.pages[index]
            box = page.mediabox
            width, height = float(box.width), float(box.height)
            try:
                text, spans = _scan_page(page, fonts, budget, pdfium, index)
            except _ContentRefused as exc:  # never handed to pypdf's extract_text: it would decode it again
                budget.skipped += 1
                doc.warnings.append(f"page {index + 1} was skipped: {exc}")
                doc.pages.append(RawPage(index + 1, "", width, height))
                continue
            except PDF_FAULTS as exc:
                log.debug("fast text scan failed on page %d (%s); using pypdf", index + 1, exc)
                if index < fallback_layout:
                    text, spans = _spans(page)
                else:
                    text, spans = page.extract_text(), []
            try:
                link_boxes = _page_links(page, objects)
            except (PdfReadError, PyPdfError, KeyError, ValueError, TypeError, AttributeError, IndexError,
                    RecursionError) as exc:  # broken annotations must not cost the page its text
                log.debug("links of page %d unreadable (%s)", index + 1, exc)
                link_boxes = []
        except PDF_FAULTS as exc:
            doc.warnings.append(
                f"page {index + 1} could not be read and was skipped ({type(exc).__name__})")
            doc.pages.append(RawPage(index + 1, ""))
            continue
        doc.pages.append(RawPage(index + 1, text or "", width, height, spans, [b[0] for b in link_boxes],
                                 link_boxes))


def read_pdf(path: Path, layout_pages: int | None = None) -> RawDocument:
    """Read a PDF into a RawDocument with positioned spans for every page.

    `layout_pages` is accepted for compatibility: the fast content scanner gives every page its spans. Pages
    the scanner cannot read fall back to pypdf's extract_text() (spans only for the first `layout_pages`).
    """
    if Font is None:
        raise DrafterError(f"pypdf {pypdf.__version__} is not supported (it lacks pypdf.generic._font)",
                           "Install a supported version: pip install 'pypdf>=6.20,<8'.")
    path = Path(path)
    check_pdf_path(path)
    fallback_layout = 2 if layout_pages is None else layout_pages
    with _quiet_pypdf():
        reader = _open(path)
        try:
            count = len(reader.pages)
        except PDF_FAULTS as exc:
            raise PdfError(f"{path} is damaged: its page tree cannot be read ({type(exc).__name__})",
                           "Download the PDF again or re-save it with a PDF viewer.") from exc
        if count == 0:
            raise PdfError(f"{path} has no pages",
                           "Check that the download finished; pass the full paper PDF.")
        doc = RawDocument(str(path), [], _outline(reader), _metadata(reader))
        if count > MANY_PAGES:
            doc.warnings.append(f"{path.name} has {count} pages; extraction may take a while")
        fonts: dict[Any, _FontInfo] = {}
        objects = _RawObjects(reader)
        pdfium = PdfiumText(path)
        budget = _ContentBudget()
        try:
            _read_pages(doc, reader, count, fallback_layout, fonts, objects, pdfium, budget)
        finally:
            pdfium.close()
        if pdfium.reads:
            log.debug("%s: PDFium read %d text runs pypdf could not map", path.name, pdfium.reads)
    total = sum(len(p.text.strip()) for p in doc.pages)
    if total == 0 and budget.skipped:
        raise PdfError(f"{path}: every page with content was skipped, none for lack of a text layer: "
                       f"{next(iter(budget.refused.values()), 'over the budget')}",
                       "The PDF is built to exhaust readers; re-save it with a PDF viewer (print to PDF), or "
                       "pass another copy.")
    if total == 0:
        raise PdfError(f"{path} has no text layer (it looks like a scan)",
                       "Run OCR first (e.g. `ocrmypdf in.pdf out.pdf`) and pass the result.")
    if total < MIN_TEXT_CHARS:
        raise PdfError(f"{path} holds too little text to draft from ({total} characters)",
                       "Pass the full paper, or run OCR if pages are scanned images.")
    return doc
