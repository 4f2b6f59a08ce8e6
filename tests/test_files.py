"""Atomic writes keep normal permissions and never leave temp files behind."""

from __future__ import annotations

import os
from pathlib import Path

from drafter.files import atomic_write, backup_file


def test_new_files_get_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "draft.md", "text")
    finally:
        os.umask(old)
    assert (tmp_path / "draft.md").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["draft.md"]


def test_replacing_keeps_the_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "draft.md"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    atomic_write(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o640


def test_backup_keeps_the_old_text(tmp_path: Path) -> None:
    target = tmp_path / "draft.md"
    target.write_text("my words", encoding="utf-8")
    kept = backup_file(target)
    assert kept.parent.name == ".drafter-history"
    assert kept.read_text(encoding="utf-8") == "my words"
