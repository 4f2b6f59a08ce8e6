"""The built wheel ships every prompt file and a working console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from drafter import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [built] = list(out.glob("drafter-*.whl"))
    return built


def test_wheel_holds_every_prompt_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    prompt_files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "prompts").rglob("*") if p.is_file())
    assert prompt_files, "no prompt files found in the repository"
    for rel in prompt_files:
        assert f"drafter/{rel}" in names, rel
    assert "drafter/cli/__init__.py" in names
    assert "drafter/py.typed" in names  # PEP 561: type checkers read drafter's annotations
    licenses = [n for n in names if n.startswith(f"drafter-{__version__}.dist-info/") and "LICENSE" in n]
    assert licenses, "the MIT licence text is not in the wheel"
    assert b"MIT License" in zipfile.ZipFile(wheel).read(licenses[0])
    assert f"drafter-{__version__}.dist-info/entry_points.txt" in names
    entry_points = zipfile.ZipFile(wheel).read(f"drafter-{__version__}.dist-info/entry_points.txt").decode()
    assert "drafter = drafter.cli:main" in entry_points


def test_python_dash_m_and_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "drafter", "--version"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"drafter {__version__}"
