"""Source string (PDF path, arXiv id or URL) -> Paper. Local paths for now; remote sources extend this."""

from __future__ import annotations

from pathlib import Path

from drafter.config import Settings
from drafter.extract import load_paper
from drafter.paper import Paper


def load_source(source: str, settings: Settings) -> Paper:
    """Read a paper from a local PDF path (extraction cached by content hash)."""
    return load_paper(Path(source), settings.cache_dir)
