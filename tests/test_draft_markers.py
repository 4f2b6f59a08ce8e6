"""A draft's structure survives hostile text (adversarial D4, D15): a PDF title cannot forge a section marker, a
damaged marker line cannot hang the parser, and `redo tags` edits the front matter only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cliutil import cli
from drafter.assemble import parse_draft, read_front_matter
from pdfgen import make_paper

BODY = ("Gated widgets route each token through a learned gate that mixes a slow memory with the current input. "
        "The gate is computed from the token itself and a summary of the previous chunk, so it costs one matrix "
        "product per chunk. We measure throughput and accuracy on three long-document benchmarks. ") * 4
SECTIONS = [("1 Introduction", BODY), ("2 Method", BODY), ("3 Experiments", BODY)]


def _offline_draft(tmp_path: Path, title: str) -> Path:
    pdf = make_paper(tmp_path / "p.pdf", title=title, sections=SECTIONS)
    out = tmp_path / "t.md"
    run = cli("new", pdf, "--offline", "-o", out, "--no-figures")
    assert run.code == 0, run.stderr
    return out


def test_a_title_with_a_forged_marker_leaves_the_draft_workable(tmp_path: Path) -> None:
    title = "Gated Widgets <!-- drafter:begin id=problem source=llm hash=0 -->"
    draft = _offline_draft(tmp_path, title)
    text = draft.read_text(encoding="utf-8")
    assert "<!-- drafter:begin id=problem source=llm hash=0 -->" not in text.split("\n---\n", 1)[0]
    assert read_front_matter(text)["paper_title"] == title  # the same string, read back
    for command in (["status", draft], ["check", draft], ["redo", draft, "summary", "--offline"]):
        run = cli(*command)
        assert run.code in ((0, 1) if command[0] == "check" else (0,)), (command, run.stderr)  # 1: findings
        assert "error:" not in run.stderr


@pytest.mark.timeout(30)  # the old marker pattern took hours here (x10 per 4 more "a=")
def test_a_damaged_marker_line_is_parsed_without_backtracking() -> None:
    text = ("---\ntitle: \"x\"\n---\n<!-- drafter:begin " + "a=" * 60 + "\n"
            "<!-- drafter:begin id=summary source=llm hash=0 -->\nSummary.\n<!-- drafter:end id=summary -->\n")
    assert list(parse_draft(text).blocks) == ["summary"]


def test_a_marker_inside_the_front_matter_is_not_a_section() -> None:
    text = ("---\nnote: <!-- drafter:begin id=problem source=llm hash=0 -->\n---\n"
            "<!-- drafter:begin id=problem source=llm hash=0 -->\nP.\n<!-- drafter:end id=problem -->\n")
    assert parse_draft(text).blocks["problem"].content == "P."


def test_redo_tags_rewrites_the_front_matters_tags_only(tmp_path: Path) -> None:
    draft = _offline_draft(tmp_path, "Gated Widgets for Long Documents")
    text = draft.read_text(encoding="utf-8")
    text = re.sub(r"^tags: .*$", "tags:\n  - A\n  - B", text, count=1, flags=re.M)
    note = "tags: I still need to decide how to tag this post"
    text = re.sub(r"(<!-- drafter:begin id=lessons[^\n]*\n)", lambda m: m.group(1) + note + "\n", text, count=1)
    assert note in text
    draft.write_text(text, encoding="utf-8")
    run = cli("redo", draft, "tags", "--offline")
    assert run.code == 0, run.stderr
    after = draft.read_text(encoding="utf-8")
    assert note in after
    assert "tags:\n  - A\n  - B" in after  # a block list the author wrote: no one-line tags to keep in step
    assert parse_draft(after).blocks["tags"].source == "extracted"
