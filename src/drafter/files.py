"""Paths and file writes: safe slugs, atomic writes, backups. Nothing the user wrote is overwritten in place."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path

MAX_SLUG = 80


def slugify(text: str, fallback: str = "paper") -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes, at most MAX_SLUG characters, never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0] or slug[:MAX_SLUG]
    return slug or fallback


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8, or bytes) to `path` through a temporary file in the same folder and an
    atomic rename: readers see the old file or the new one, never half of one. Missing folders are made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A character UTF-8 cannot hold (a lone surrogate) becomes "?" rather than losing the whole write.
    payload = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a draft gets the mode of the file it replaces, or the
        # usual 0666 less the umask, like any file the user creates.
        Path(tmp).chmod(_mode_for(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def backup_file(path: Path) -> Path:
    """Copy `path` into a `.drafter-history/` folder beside it, with a timestamp; return the copy's path."""
    path = Path(path)
    history = path.parent / ".drafter-history"
    history.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    target = history / f"{path.stem}.{stamp}{path.suffix}"
    atomic_write(target, path.read_text(encoding="utf-8"))
    return target
