"""Paths and file writes: safe slugs, atomic writes, backups. Nothing the user wrote is overwritten in place."""

from __future__ import annotations

import logging
import os
import re
import secrets
import unicodedata
from datetime import datetime
from pathlib import Path

from drafter.errors import InputError

MAX_SLUG = 80
log = logging.getLogger(__name__)


def slugify(text: str, fallback: str = "paper") -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes, at most MAX_SLUG characters, never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0] or slug[:MAX_SLUG]
    return slug or fallback


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8, or bytes) to `path` through a temporary file in the same folder and an
    atomic rename: readers see the old file or the new one, never half of one, and after a crash the rename is
    on disk (the folder is synced too). Missing folders are made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _written_temp(path, _utf8(data) if isinstance(data, str) else data, keep_mode=True)
    try:
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _written_temp(path: Path, payload: bytes, keep_mode: bool) -> Path:
    """A temporary file beside `path` holding `payload`, on disk (fsynced); with `keep_mode`, `path`'s mode."""
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            if keep_mode:
                _keep_mode(fh.fileno(), path)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def create_new(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` only if nothing is there at the moment of writing (FileExistsError otherwise):
    the whole file appears at once, through a hard link of a complete temporary file, which fails rather than
    replace a file another process wrote meanwhile (two `drafter new` to one name cannot both win)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = _utf8(data) if isinstance(data, str) else data
    tmp = _written_temp(path, payload, keep_mode=False)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: an exclusive create, then the bytes
            with path.open("xb") as out:
                out.write(payload)
    finally:
        tmp.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new file beside `path`, created with mode 0666 so the kernel applies the umask: the usual mode of a file
    the user creates, without reading the umask (os.umask sets it process-wide, racing other threads' writes)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            exc.filename = str(path)  # the error names the file the user asked for, not our temporary one
            raise


def _keep_mode(fd: int, path: Path) -> None:
    """A file that replaces another keeps that one's mode (a draft the author made private stays private)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if hasattr(os, "fchmod"):  # POSIX; Windows has no such modes
        os.fchmod(fd, mode)


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the rename itself survives a power cut (it records paid batches, drafts)."""
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals the rename
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems (network shares) refuse fsync on a folder: the data is synced
        log.debug("cannot fsync %s: %s", folder, exc)
    finally:
        os.close(fd)


def _utf8(text: str) -> bytes:
    """Text as UTF-8. What UTF-8 cannot hold (a lone surrogate: half an emoji from a model, or a byte of a file
    name that is not UTF-8, kept by Python as \\udcXX) becomes U+FFFD rather than losing the whole write."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", "\ufffd", text).encode("utf-8")


def read_draft(path: Path) -> str:
    """A draft's text exactly as on disk (CRLF line ends stay CRLF: no newline translation); a file that is not
    UTF-8 (a PDF passed by mistake) is bad input, not a crash."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not a Markdown draft (not UTF-8 text: byte {exc.start} is "
                         f"0x{exc.object[exc.start]:02x})",
                         "Pass the .md draft `drafter new` wrote, not the paper's PDF.") from exc


def backup_file(path: Path) -> Path:
    """Copy `path` into a `.drafter-history/` folder beside it, with a timestamp; return the copy's path."""
    path = Path(path)
    history = path.parent / ".drafter-history"
    history.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    target = history / f"{path.stem}.{stamp}{path.suffix}"
    atomic_write(target, path.read_bytes())  # byte for byte: whatever it holds, the author wrote it
    return target
