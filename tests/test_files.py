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


def test_a_write_that_cannot_start_names_the_target_not_the_temporary_file(tmp_path: Path) -> None:
    import pytest

    from drafter.errors import os_error

    target = tmp_path / "blocked" / "post.md"
    target.parent.mkdir()
    target.parent.chmod(0o500)  # the folder exists but takes no new file
    try:
        if os.access(target.parent, os.W_OK):
            pytest.skip("permissions are not enforced (running as root)")
        with pytest.raises(PermissionError) as caught:
            atomic_write(target, "text")
    finally:
        target.parent.chmod(0o700)
    assert caught.value.filename == str(target)
    assert str(target) in os_error(caught.value).one_line() and ".tmp" not in os_error(caught.value).one_line()


def test_a_place_that_takes_no_file_is_named_as_the_user_wrote_it() -> None:
    # /proc exists but no file can be made in it (even as root): the temporary file is what fails first.
    import pytest

    from drafter.errors import os_error

    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    target = Path("/proc/drafter-test-post.html")
    with pytest.raises(OSError) as caught:
        atomic_write(target, "text")
    assert caught.value.filename == str(target)
    line = os_error(caught.value).one_line()
    assert line.startswith(f"{target}: ") and ".tmp" not in line, line
