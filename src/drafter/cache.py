"""Request -> cached response (JSON files keyed by a hash of everything that shapes the answer)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from drafter.files import atomic_write


def request_key(payload: dict[str, Any]) -> str:
    """A stable key for a request: endpoint, model, parameters and messages (never the API key)."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """A directory of JSON responses; a completed answer is on disk the moment it arrives."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "responses"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            # A damaged entry is a miss; it is rewritten on the next answer.
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        atomic_write(self._path(key), json.dumps(value, ensure_ascii=False, sort_keys=True))
