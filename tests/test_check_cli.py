"""`drafter check` end to end: the draft as it is now against the paper it came from."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from cliutil import cli
from conftest import EXAMPLES_DIR

EXAMPLE_DRAFT = EXAMPLES_DIR / "gated-residual-mixing.draft.md"


def _copy_example(tmp_path: Path) -> Path:
    """The committed offline draft and its paper, side by side in a temp folder (the draft records the PDF's
    path relative to the repository root, so --paper is not needed from the root; here the copy moves)."""
    draft = tmp_path / "post.md"
    shutil.copy(EXAMPLE_DRAFT, draft)
    shutil.copy(EXAMPLES_DIR / "gated-residual-mixing.pdf", tmp_path / "paper.pdf")
    text = draft.read_text(encoding="utf-8").replace('source: "examples/gated-residual-mixing.pdf"',
                                                     'source: "paper.pdf"')
    draft.write_text(text, encoding="utf-8")
    return draft


def test_the_offline_example_draft_checks_clean() -> None:
    run = cli("check", EXAMPLE_DRAFT, "--paper", EXAMPLES_DIR / "gated-residual-mixing.pdf")
    assert (run.code, run.stdout) == (0, ""), run.stderr
    assert "no findings" in run.stderr
    run = cli("check", EXAMPLE_DRAFT, "--json", "--paper", EXAMPLES_DIR / "gated-residual-mixing.pdf")
    assert run.code == 0 and json.loads(run.stdout) == []


def test_an_edited_section_is_checked_as_it_is_now(tmp_path: Path) -> None:
    draft = _copy_example(tmp_path)
    text = draft.read_text(encoding="utf-8")
    invented = "On the PG-19 benchmark GRM reaches 91.7% accuracy after 37 days of training."
    quote = 'The authors call it "a layer that makes every small model as good as a large one".'
    text = text.replace("\n<!-- drafter:end id=problem -->", f"\n{invented}\n{quote}\n<!-- drafter:end id=problem -->")
    end = "\n<!-- drafter:end id=lessons -->"
    text = text.replace(end, f"\nMy own run took 12 hours.{end}")  # the author's own section: not checked
    draft.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    number_line = lines.index(invented) + 1

    run = cli("check", draft)
    assert run.code == 1, run.stderr
    assert run.stdout.splitlines() == [
        f'{draft}:{number_line}: problem: "91.7%" does not appear in the paper',
        f'{draft}:{number_line}: problem: "37 days" does not appear in the paper',
        f'{draft}:{number_line + 1}: problem: the quote "a layer that makes every small model as good as a large '
        'one" is not in the paper\'s words',
    ]
    assert "3 findings in 1 section" in run.stderr

    run = cli("check", draft, "--json")
    assert run.code == 1
    data = json.loads(run.stdout)
    assert [(d["section"], d["kind"], d["text"], d["line"]) for d in data] == [
        ("problem", "number", "91.7%", number_line), ("problem", "number", "37 days", number_line),
        ("problem", "quote", '"a layer that makes every small model as good as a large one"', number_line + 1)]
    assert all(set(d) == {"section", "kind", "text", "line", "message"} for d in data)

    # The author deletes the invented sentences: nothing is left to report.
    draft.write_text(text.replace(f"\n{invented}\n{quote}", ""), encoding="utf-8")
    run = cli("check", draft)
    assert (run.code, run.stdout) == (0, ""), run.stdout


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain.md"
    plain.write_text("# Just a note\n", encoding="utf-8")
    run = cli("check", plain)
    assert run.code == 2 and "no drafter section markers" in run.stderr and "Traceback" not in run.stderr
    draft = _copy_example(tmp_path)
    (tmp_path / "paper.pdf").unlink()
    run = cli("check", draft)
    assert run.code == 2 and "--paper" in run.stderr
    run = cli("check", tmp_path / "missing.md")
    assert run.code == 2


def test_terminal_control_sequences_in_a_draft_reach_no_terminal(tmp_path: Path) -> None:
    """An escape sequence in a flagged quote (from a model, or pasted) is shown as \\x1b, never sent raw."""
    draft = _copy_example(tmp_path)
    text = draft.read_text(encoding="utf-8")
    hostile = '"\x1b]0;pwned\x07 these are six words or more quoted here \x9b2J"'
    text = re.sub(r"(<!-- drafter:begin id=problem [^\n]*\n)", lambda m: m.group(1) + hostile + "\n\n", text, count=1)
    draft.write_text(text, encoding="utf-8")
    run = cli("check", draft)
    assert run.code == 1, run.stderr
    assert "\\x1b]0;pwned\\x07 these are six words" in run.stdout
    assert not any(ch in run.stdout for ch in "\x1b\x07\x9b")
