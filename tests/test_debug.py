"""A bug in drafter is told apart from a model failure (exit 70, not 1), and --debug shows the tracebacks of the
errors that enrichment, figure export and batch entries otherwise turn into one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliutil import cli


def _bug(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug planted by the test")


def test_a_bug_exits_70_in_one_line_and_debug_shows_where(sample_pdf: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drafter.pipeline.assemble_draft", _bug)
    run = cli("new", sample_pdf, "--offline", "-o", tmp_path / "post.md")
    assert run.code == 70, run.stderr
    [line] = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert "internal error (RuntimeError: a bug planted by the test)" in line and "bug in drafter" in line
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "post.md").exists()
    loud = cli("--debug", "new", sample_pdf, "--offline", "-o", tmp_path / "post.md")
    assert loud.code == 70
    assert "Traceback (most recent call last)" in loud.stderr and "in _bug" in loud.stderr


def test_a_bug_in_one_batch_entry_exits_70_and_debug_shows_its_traceback(sample_pdf: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drafter.batch.check_draftable", _bug)
    reading_list = tmp_path / "list.txt"
    reading_list.write_text(f"{sample_pdf}\n", encoding="utf-8")
    quiet = cli("batch", reading_list, "--offline", "-o", tmp_path / "a")
    assert quiet.code == 70, quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = cli("--debug", "batch", reading_list, "--offline", "-o", tmp_path / "b")
    assert loud.code == 70
    assert "Traceback (most recent call last)" in loud.stderr and "in _bug" in loud.stderr


def test_debug_shows_the_traceback_of_a_lookup_that_cost_one_warning(sample_pdf: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drafter.enrich.lookup_s2", _bug)
    monkeypatch.setenv("DRAFTER_ENRICH", "1")
    quiet = cli("inspect", sample_pdf)
    assert quiet.code == 0, quiet.stderr
    assert "RuntimeError: a bug planted by the test" in quiet.stderr and "Traceback" not in quiet.stderr
    loud = cli("--debug", "inspect", sample_pdf)
    assert loud.code == 0
    assert "Traceback (most recent call last)" in loud.stderr and "in _bug" in loud.stderr
