"""The layout rules of issue 19, kept: no function in src/ over 80 lines, no import cycle (.ci/layout.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("layout", ROOT / ".ci" / "layout.py")
assert _spec is not None and _spec.loader is not None
layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layout)


def test_no_function_in_src_is_over_80_lines() -> None:
    assert layout.long_functions() == []


def test_no_import_cycle_between_modules() -> None:
    assert layout.import_cycles() == []


def test_the_checks_can_fail(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "drafter"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a.py").write_text("from drafter import b\n\n\ndef f():\n" + "    x = 1\n" * 90, encoding="utf-8")
    (package / "b.py").write_text("def g():\n    from drafter.a import f\n", encoding="utf-8")
    monkeypatch.setattr(layout, "ROOT", tmp_path)
    assert [where.split()[-1] for where, _ in layout.long_functions()] == ["f"]
    assert layout.import_cycles() == [["drafter.a", "drafter.b", "drafter.a"]]
