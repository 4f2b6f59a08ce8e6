"""Dependencies are declared honestly: floors derived for the min-versions check, the installed versions inside the
declared ranges, and a pypdf without the private font module refused in one line."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from cliutil import cli
from drafter import ingest

ROOT = Path(__file__).resolve().parents[1]


def _min_versions() -> ModuleType:
    spec = importlib.util.spec_from_file_location("min_versions", ROOT / ".ci" / "min_versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["min_versions"] = module
    spec.loader.exec_module(module)
    return module


def test_every_runtime_dependency_has_a_floor_and_the_pins_are_the_floors() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = _min_versions().minimum_pins()
    assert len(pins) == len(declared)
    for requirement, pin in zip(declared, pins, strict=True):
        parsed = Requirement(requirement)
        name, _, version = pin.partition("==")
        assert name == parsed.name
        assert version in parsed.specifier, (pin, requirement)  # the floor itself is allowed
        assert any(s.operator == ">=" and s.version == version for s in parsed.specifier)


def test_a_dependency_without_a_floor_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["typer>=0.28", "rich"]\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="'rich' declares no '>=' floor"):
        _min_versions().minimum_pins(pyproject)


def test_the_installed_versions_are_inside_the_declared_ranges() -> None:
    for requirement in metadata.requires("drafter") or []:
        parsed = Requirement(requirement)
        if parsed.marker is not None:  # extras (test tools)
            continue
        installed = metadata.version(parsed.name)
        assert parsed.specifier.contains(installed, prereleases=True), (parsed.name, installed, str(parsed.specifier))


def test_a_pypdf_without_its_font_module_is_refused_in_one_line(sample_pdf: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "Font", None)
    run = cli("inspect", sample_pdf)
    assert run.code == 2
    assert run.stderr.strip().splitlines() == [
        f"error: pypdf {ingest.pypdf.__version__} is not supported (it lacks pypdf.generic._font). Install a "
        "supported version: pip install 'pypdf>=6.20,<8'."]
