"""arXiv id -> the display equations (with labels and sections) and section titles of the paper's LaTeX source.

The e-print comes from DRAFTER_ARXIV_EPRINT (default https://arxiv.org/e-print) + "/<id>", through the same
polite request gate as every other arXiv request (`sources.arxiv_get`). It is a gzipped tar or a single
gzipped .tex file, and untrusted: it is read in memory only (nothing is written from it), only regular .tex
files are read, names that are absolute or climb out with `..` are refused, links are skipped, and the
download, the unpacked size and the number of files are capped. The main file is the one with
`\\documentclass`; `\\input`/`\\include` are followed inside the archive; comments are dropped; pylatexenc parses
the body. Results are cached under `<cache_dir>/enrich` (a versioned id for good, a bare id for a day).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import posixpath
import re
import tarfile
import time
import zlib
from pathlib import Path

from pylatexenc.latexwalker import (
    LatexEnvironmentNode,
    LatexGroupNode,
    LatexMacroNode,
    LatexMathNode,
    LatexNode,
    LatexWalker,
    LatexWalkerError,
)

from drafter.errors import DrafterError, EnrichError
from drafter.files import atomic_write
from drafter.paper import Equation
from drafter.sources import arxiv_get

DEFAULT_EPRINT = "https://arxiv.org/e-print"
log = logging.getLogger(__name__)
TIMEOUT = 15.0
MAX_DOWNLOAD = 50 * 1024 * 1024  # bytes of e-print (compressed)
MAX_UNPACKED = 100 * 1024 * 1024  # bytes after gunzip
MAX_FILES = 3000  # archive members looked at
MAX_TEX = 8 * 1024 * 1024  # bytes of .tex read in all
MAX_DEPTH = 12  # \input nesting
MAX_PARSE = 2 * 1024 * 1024  # characters of the document body parsed for equations (a long paper is ~300 KB)
MAX_EQUATIONS = 300
CACHE_AGE = 24 * 3600  # default seconds a bare id's result is reused

DISPLAY_ENVS = {f"{name}{star}" for name in ("equation", "align", "gather", "multline", "eqnarray", "flalign")
                for star in ("", "*")}
MULTILINE_ENVS = {e for e in DISPLAY_ENVS if not e.startswith("equation")}
SECTION_MACROS = {"section", "subsection", "subsubsection", "chapter"}
_TEX_NAMES = (".tex", ".ltx")


def eprint_url(arxiv_id: str) -> str:
    return f"{(os.environ.get('DRAFTER_ARXIV_EPRINT') or DEFAULT_EPRINT).rstrip('/')}/{arxiv_id}"


# -- unpacking ----------------------------------------------------------------------------------------


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_UNPACKED)
    except zlib.error as exc:
        raise EnrichError(f"the e-print is not valid gzip ({exc})") from exc
    if inflater.unconsumed_tail:
        raise EnrichError(f"the e-print unpacks to more than {MAX_UNPACKED >> 20} MB")
    return out


def _safe_name(name: str) -> str | None:
    """The member's normalised relative path, or None when it is absolute or climbs out of the archive."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return None
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return None
    clean = posixpath.normpath("/".join(p for p in parts if p not in ("", ".")))
    return None if clean in (".", "") else clean


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_LATEX = re.compile(r"\\(?:documentclass|begin\{|section\*?\{|input\{|usepackage)")


def read_eprint(data: bytes) -> dict[str, str]:
    """The .tex files of an e-print (gzipped tar, plain tar, or one gzipped .tex) as {relative path: text}."""
    if data[:5] == b"%PDF-":
        raise EnrichError("arXiv has no LaTeX source for this paper (PDF only)")
    raw = _gunzip(data) if data[:2] == b"\x1f\x8b" else data
    archive = _open_tar(raw)
    if archive is None:
        text = _text(raw[:MAX_TEX])
        if "\x00" in text or not _LATEX.search(text):  # random bytes often hold a backslash
            raise EnrichError("the e-print is neither a tar archive nor a .tex file")
        return {"main.tex": text}
    try:
        with archive:
            files = _tex_members(archive)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise EnrichError(f"the e-print archive is damaged ({exc})") from exc
    if not files:
        raise EnrichError("the e-print holds no .tex file")
    return files


def _open_tar(raw: bytes) -> tarfile.TarFile | None:
    try:
        return tarfile.open(fileobj=io.BytesIO(raw), mode="r:")  # the caller closes it
    except tarfile.TarError:
        return None  # not a tar: a single .tex file


def _tex_members(archive: tarfile.TarFile) -> dict[str, str]:
    files: dict[str, str] = {}
    total = 0
    for count, member in enumerate(archive):
        if count >= MAX_FILES:
            raise EnrichError(f"the e-print holds more than {MAX_FILES} files")
        if not member.isreg():  # links, devices and folders are never followed
            continue
        name = _safe_name(member.name)
        if name is None or not name.lower().endswith(_TEX_NAMES):
            continue
        total += member.size
        if total > MAX_TEX:
            raise EnrichError(f"the e-print holds more than {MAX_TEX >> 20} MB of .tex")
        handle = archive.extractfile(member)
        if handle is not None:
            files[name] = _text(handle.read(member.size))
    return files


# -- one document from many files --------------------------------------------------------------------


def strip_comments(text: str) -> str:
    """LaTeX without comments: `%` to the end of the line (unless escaped), comment environments, \\iffalse."""
    text = re.sub(r"(?<!\\)((?:\\\\)*)%[^\n]*", r"\1", text)
    text = re.sub(r"\\begin\{comment\}.*?\\end\{comment\}", "", text, flags=re.S)
    return re.sub(r"\\iffalse\b.*?\\fi\b", "", text, flags=re.S)


def main_file(files: dict[str, str]) -> str:
    """The file with `\\documentclass` (with `\\begin{document}` preferred, then the usual names, then size)."""
    def rank(name: str) -> tuple[bool, bool, int]:
        text = strip_comments(files[name])
        return ("\\begin{document}" in text, posixpath.basename(name).lower() in ("main.tex", "ms.tex", "paper.tex"),
                len(text))

    candidates = [n for n, t in files.items() if re.search(r"^\s*\\documentclass", strip_comments(t), re.M)]
    if not candidates:
        if len(files) == 1:
            return next(iter(files))
        raise EnrichError("no .tex file of the e-print has \\documentclass")
    return max(sorted(candidates), key=rank)


_INPUT = re.compile(r"\\(?:input|include|subfile)\s*(?:\{([^{}]+)\}|([^\s{}\\]+))")


def expand_inputs(files: dict[str, str], name: str, root: str | None = None, depth: int = 0,
                  seen: frozenset[str] = frozenset(), budget: list[int] | None = None) -> str:
    """The file's text, comments dropped, with every `\\input`/`\\include` of a file in the archive put in place
    (paths as LaTeX resolves them: from the main file's folder; a missing `.tex` suffix is added).

    The whole expansion holds at most MAX_TEX characters (`budget`, shared by the recursion): ten files that each
    \\input the next ten times would otherwise expand to gigabytes from a few kilobytes (a "billion laughs")."""
    budget = [MAX_TEX] if budget is None else budget
    text = strip_comments(files[name])
    budget[0] -= len(text)
    if depth >= MAX_DEPTH or budget[0] <= 0:
        return text
    base = posixpath.dirname(name) if root is None else root

    def include(match: re.Match[str]) -> str:
        if budget[0] <= 0:
            return ""  # past the budget: the rest of the document stays out
        wanted = (match.group(1) or match.group(2) or "").strip()
        for candidate in (wanted, f"{wanted}.tex"):
            path = _safe_name(posixpath.join(base, candidate) if base else candidate)
            if path and path in files and path not in seen and path != name:
                return expand_inputs(files, path, base, depth + 1, seen | {name}, budget)
        return ""  # a figure, a missing or a refused file

    return _INPUT.sub(include, text)


# -- equations and section titles ---------------------------------------------------------------------


def _verbatim(nodes: list[LatexNode] | None) -> str:
    return "".join(n.latex_verbatim() for n in nodes or [] if n is not None)


def _plain(latex: str) -> str:
    text = re.sub(r"\\[a-zA-Z]+\*?\s*", " ", latex.strip("{}"))
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "").replace("~", " ")).strip()


def _equation(latex: str, env: str, section: str) -> Equation | None:
    labels = re.findall(r"\\label\s*\{([^{}]*)\}", latex)
    body = re.sub(r"\\label\s*\{[^{}]*\}", "", latex).strip()
    if not re.sub(r"\\(?:nonumber|notag)\b|\\\\|\s|&", "", body):
        return None
    if env in MULTILINE_ENVS:
        body = f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"
    return Equation(body, env, ", ".join(labels), section)


_SECTION_START = re.compile(r"(?=\\(?:chapter|section|subsection|subsubsection)\*?\s*[\[{])")


def extract_equations(document: str) -> tuple[list[Equation], list[str]]:
    """Display equations in order (with the section each sits in) and the section titles of a LaTeX document."""
    start = document.find("\\begin{document}")
    body = document[start + len("\\begin{document}"):] if start >= 0 else document
    body = body.split("\\end{document}")[0]
    if len(body) > MAX_PARSE:  # the parse is pure Python (about 3 s a MB): a budget of its own, not the caller's
        log.warning("the LaTeX source is %.1f MB: equations are read from its first %d MB only", len(body) / 1e6,
                    MAX_PARSE >> 20)
        body = body[:MAX_PARSE]
    equations: list[Equation] = []
    sections: list[str] = []
    current = [""]

    def walk(items: list[LatexNode] | None) -> None:
        for node in items or []:
            if len(equations) >= MAX_EQUATIONS:
                return
            if isinstance(node, LatexMacroNode):
                if node.macroname in SECTION_MACROS and node.nodeargd is not None:
                    args = [a for a in node.nodeargd.argnlist if a is not None]
                    title = _plain(args[-1].latex_verbatim()) if args else ""
                    if title:
                        sections.append(title)
                        current[0] = title
            elif isinstance(node, LatexEnvironmentNode):
                if node.environmentname in DISPLAY_ENVS:
                    found = _equation(_verbatim(node.nodelist), node.environmentname, current[0])
                    if found:
                        equations.append(found)
                else:
                    walk(node.nodelist)
            elif isinstance(node, LatexMathNode):
                if node.displaytype == "display":
                    found = _equation(_verbatim(node.nodelist), "displaymath", current[0])
                    if found:
                        equations.append(found)
            elif isinstance(node, LatexGroupNode):
                walk(node.nodelist)

    # Parsed a section at a time: a stray brace or an odd macro costs that section's equations, not all of them.
    chunks = [c for c in _SECTION_START.split(body) if c.strip()]
    failed = 0
    for chunk in chunks:
        try:
            nodes, _, _ = LatexWalker(chunk, tolerant_parsing=True).get_latex_nodes()
        except (LatexWalkerError, RecursionError, IndexError, ValueError):
            failed += 1
            continue
        walk(nodes)
    if chunks and failed == len(chunks):
        raise EnrichError("the LaTeX source could not be parsed")
    return equations, sections


# -- the whole lookup, cached -------------------------------------------------------------------------


def _cache_path(cache_dir: Path, url: str) -> Path:
    return Path(cache_dir) / "enrich" / f"eprint-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:40]}.json"


def _cached(path: Path, versioned: bool, max_age: float) -> tuple[list[Equation], list[str]] | None:
    """A cached result (a versioned id's source never changes; a bare id's is refreshed after `max_age` s)."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if versioned or time.time() - float(entry["time"]) <= max_age:
            return [Equation(**e) for e in entry["equations"]], list(entry["sections"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: download again
    return None


def source_equations(arxiv_id: str, cache_dir: Path, *, cached_only: bool = False,
                     max_age: float = CACHE_AGE) -> tuple[list[Equation], list[str]]:
    """The display equations and section titles of an arXiv paper's LaTeX source (EnrichError when unavailable;
    with `cached_only`, also when they are not in the cache: nothing is downloaded). A bare id's cached result is
    reused for `max_age` seconds (Settings.lookup_age); a versioned id's for good."""
    url = eprint_url(arxiv_id)
    cache = _cache_path(cache_dir, url)
    cached = _cached(cache, bool(re.search(r"v\d+$", arxiv_id)), max_age)
    if cached is not None:
        return cached
    if cached_only:
        raise EnrichError("the source's equations are not in the cache")
    try:
        data, _ = arxiv_get(url, "application/gzip, application/x-eprint-tar, */*", timeout=TIMEOUT,
                            limit=MAX_DOWNLOAD)
    except DrafterError as exc:
        raise EnrichError(exc.message) from exc
    files = read_eprint(data)
    equations, sections = extract_equations(expand_inputs(files, main_file(files)))
    atomic_write(cache, json.dumps({"time": time.time(), "sections": sections,
                                    "equations": [e.__dict__ for e in equations]}, ensure_ascii=False))
    return equations, sections


__all__ = ["eprint_url", "expand_inputs", "extract_equations", "main_file", "read_eprint", "source_equations",
           "strip_comments"]
