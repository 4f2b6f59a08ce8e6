"""Section-by-section iteration: status, redo with a hint, response cache, dry run, custom prompts."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from cliutil import cli, model_flags
from drafter.assemble import parse_draft
from drafter.plan import LLM_SECTIONS, SECTIONS
from fakeserver import FakeOpenAI


def _new(server: FakeOpenAI, pdf: Path, out: Path) -> str:
    run = cli("new", pdf, "-o", out, *model_flags(server.url))
    assert run.code == 0, run.stderr
    return out.read_text(encoding="utf-8")


def _status(draft: Path) -> dict[str, dict]:
    run = cli("status", draft, "--json")
    assert run.code == 0, run.stderr
    return {row["id"]: row for row in json.loads(run.stdout)}


def _edit_inside(text: str, section_id: str, old: str, new: str) -> str:
    block = parse_draft(text).blocks[section_id]
    inner = text[block.start:block.end]
    assert old in inner, (section_id, inner)
    return text[:block.start] + inner.replace(old, new, 1) + text[block.end:]


def test_fresh_draft_status(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    _new(fake_server, sample_pdf, draft)
    rows = _status(draft)
    assert list(rows) == [s.id for s in SECTIONS]
    for spec in SECTIONS:
        assert rows[spec.id]["state"] == ("todo" if spec.source == "author" else "generated")
        assert rows[spec.id]["heading"]
    assert rows["problem"]["model"] == "fake-model" and rows["problem"]["tokens"] > 0


def test_redo_touches_only_its_section_and_respects_edits(fake_server: FakeOpenAI, sample_pdf: Path,
                                                         tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    text = _new(fake_server, sample_pdf, draft)
    text = _edit_inside(text, "solution", "Fake draft for solution.", "My own explanation of the solution.")
    text = _edit_inside(text, "lessons", "- [Success story from implementation]", "- Residual gates trained fine.")
    draft.write_text(text, encoding="utf-8")

    rows = _status(draft)
    assert rows["solution"]["state"] == "edited"
    assert rows["lessons"]["state"] == "written"
    assert rows["problem"]["state"] == "generated"

    before = draft.read_text(encoding="utf-8")
    requests_before = len(fake_server.requests)
    run = cli("redo", draft, "problem", "--hint", "use an analogy with traffic", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    after = draft.read_text(encoding="utf-8")
    assert len(fake_server.requests) == requests_before + 1
    assert "use an analogy with traffic" in fake_server.requests[-1].messages[-1]["content"]

    # The file differs only inside the problem section (markers included).
    old_block = parse_draft(before).blocks["problem"]
    new_block = parse_draft(after).blocks["problem"]
    assert before[:old_block.start] == after[:new_block.start]
    assert before[old_block.end:] == after[new_block.end:]
    assert old_block.content != new_block.content
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)
               if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    assert changed and all("problem" in line or "Fake draft" in line or "fake-hash" in line for line in changed)

    rows = _status(draft)
    assert rows["solution"]["state"] == "edited"
    assert rows["lessons"]["state"] == "written"
    assert rows["problem"]["state"] == "generated"

    # Redo of the edited section is refused without --force, and the file is untouched.
    refused = cli("redo", draft, "solution", *model_flags(fake_server.url))
    assert refused.code == 2
    assert "edited" in refused.stderr and "--force" in refused.stderr
    assert draft.read_text(encoding="utf-8") == after

    forced = cli("redo", draft, "solution", "--force", *model_flags(fake_server.url))
    assert forced.code == 0, forced.stderr
    assert "My own explanation" not in draft.read_text(encoding="utf-8")
    history = list((tmp_path / ".drafter-history").iterdir())
    assert any("My own explanation of the solution." in p.read_text(encoding="utf-8") for p in history)


def test_redo_refuses_author_and_unknown_sections(fake_server: FakeOpenAI, sample_pdf: Path,
                                                 tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    _new(fake_server, sample_pdf, draft)
    for section_id, words in (("lessons", "author writes"), ("nonsense", "unknown section"),
                              ("overview", "metadata"), ("sumary", "did you mean 'summary'?")):
        run = cli("redo", draft, section_id, *model_flags(fake_server.url))
        assert run.code == 2
        assert words in run.stderr
        assert run.stderr.startswith("error:"), run.stderr  # refused before any note about the model


def test_redo_finds_a_moved_paper_with_paper_flag(fake_server: FakeOpenAI, sample_pdf: Path,
                                                 tmp_path: Path) -> None:
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(sample_pdf.read_bytes())
    draft = tmp_path / "d.md"
    _new(fake_server, pdf, draft)
    moved = tmp_path / "moved.pdf"
    pdf.rename(moved)
    lost = cli("redo", draft, "tags", *model_flags(fake_server.url))
    assert lost.code == 2 and "--paper" in lost.stderr
    run = cli("redo", draft, "tags", "--paper", moved, "--hint", "fewer tags", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr


def test_redo_of_tags_keeps_front_matter_in_step(fake_server_factory, sample_pdf: Path, tmp_path: Path) -> None:
    def reply(body: dict) -> str:
        return "**Tags**: #Only" if "fewer" in body["messages"][-1]["content"] else "**Tags**: #Alpha #BetaGamma"

    server = fake_server_factory(reply=reply)
    draft = tmp_path / "d.md"
    before = _new(server, sample_pdf, draft)
    assert 'tags: ["Alpha", "BetaGamma"]' in before
    run = cli("redo", draft, "tags", "--hint", "fewer tags", *model_flags(server.url))
    assert run.code == 0, run.stderr
    after = draft.read_text(encoding="utf-8")
    assert 'tags: ["Only"]' in after
    old, new = parse_draft(before).blocks["tags"], parse_draft(after).blocks["tags"]
    assert new.content == "**Tags**: #Only"
    # Outside the section, only the front-matter tags line changed.
    assert before[old.end:] == after[new.end:]
    assert before[:old.start].replace('tags: ["Alpha", "BetaGamma"]', 'tags: ["Only"]') == after[:new.start]


def test_status_reports_missing_sections(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    text = _new(fake_server, sample_pdf, draft)
    block = parse_draft(text).blocks["impact"]
    draft.write_text(text[:block.start] + text[block.end:], encoding="utf-8")
    assert _status(draft)["impact"]["state"] == "missing"


def test_status_of_a_file_drafter_did_not_write(tmp_path: Path) -> None:
    other = tmp_path / "notes.md"
    other.write_text("# just notes\n", encoding="utf-8")
    run = cli("status", other)
    assert run.code == 2
    assert "no drafter section markers" in run.stderr


def test_broken_marker_is_reported_with_its_line(fake_server: FakeOpenAI, sample_pdf: Path,
                                                tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    text = _new(fake_server, sample_pdf, draft)
    draft.write_text(text.replace("<!-- drafter:end id=math -->", ""), encoding="utf-8")
    run = cli("status", draft)
    assert run.code == 2
    assert re.search(r"d\.md:\d+: section 'math'", run.stderr)


def test_dry_run_prints_messages_and_makes_no_call(fake_server: FakeOpenAI, sample_pdf: Path,
                                                  tmp_path: Path) -> None:
    run = cli("new", sample_pdf, "--dry-run", *model_flags(fake_server.url), "-o", tmp_path / "d.md")
    assert run.code == 0, run.stderr
    assert fake_server.requests == []
    assert not (tmp_path / "d.md").exists()
    for section_id in LLM_SECTIONS:
        assert re.search(rf"===== section {section_id}: ~\d+ prompt tokens", run.stdout)
    assert "Section id: math" in run.stdout
    assert "nothing was sent" in run.stderr
    # The prompts that carry looked-up data say so, since a dry run fetches none of it.
    assert "looks nothing up" in run.stderr and "math (" in run.stderr and "impact (" in run.stderr


def test_prompt_of_a_section_without_looked_up_data_has_no_lookup_note(sample_pdf: Path) -> None:
    run = cli("prompt", sample_pdf, "problem")
    assert run.code == 0, run.stderr
    assert "nothing was sent" in run.stderr and "looks nothing up" not in run.stderr


def test_prompt_command_matches_what_new_sends(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    run = cli("prompt", sample_pdf, "math", "--json")
    assert run.code == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["estimated_prompt_tokens"] > 0
    _new(fake_server, sample_pdf, tmp_path / "d.md")
    [sent] = [r for r in fake_server.requests if "Section id: math" in r.messages[-1]["content"]]
    assert sent.body["messages"] == shown["messages"]
    assert sent.body["max_tokens"] == shown["max_tokens"]


def test_custom_prompt_override_is_used_and_changes_the_request(fake_server: FakeOpenAI, sample_pdf: Path,
                                                               tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "tags.md.j2").write_text(
        "{#-\ndescription: custom tags\nreads: abstract\nmax_tokens: 50\n-#}\nSection id: tags\n"
        "Give three hashtags for {{ paper.title }}.", encoding="utf-8")
    _new(fake_server, sample_pdf, tmp_path / "a.md")
    run = cli("new", sample_pdf, "-o", tmp_path / "b.md", "--prompts", prompts, *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    # Only the overridden section is a new request; the rest come from the cache.
    assert len(fake_server.requests) == len(LLM_SECTIONS) + 1
    last = fake_server.requests[-1]
    assert last.body["max_tokens"] == 50
    assert "Give three hashtags for" in last.messages[-1]["content"]
    listing = cli("sections", "--prompts", prompts, "--json")
    assert {r["id"]: r["description"] for r in json.loads(listing.stdout)}["tags"] == "custom tags"


@pytest.mark.parametrize(("body", "expected"), [
    ("{#-\nreads: abstract\n-#}\n{% if %}", r"tags\.md\.j2:4: template syntax error"),
    ("{#-\nreads: abstract\n-#}\nline\n{{ secret_var }}", r"tags\.md\.j2:5: unknown template variable"),
    ("{#-\nreads: abstract\n-#}\n\n{{ paper.no_such_field }}", r"tags\.md\.j2:5: UndefinedError"),
    ("{#-\nreads: nowhere\n-#}\nx", r"tags\.md\.j2:1: 'reads' must list paper parts"),
    ("no header", r"tags\.md\.j2:1: missing header"),
])
def test_invalid_override_names_file_and_line_before_any_call(fake_server: FakeOpenAI, sample_pdf: Path,
                                                              tmp_path: Path, body: str, expected: str) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "tags.md.j2").write_text(body, encoding="utf-8")
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md", "--prompts", prompts, *model_flags(fake_server.url))
    assert run.code == 2
    assert re.search(expected, run.stderr), run.stderr
    assert fake_server.requests == []


def test_sections_lists_every_section_and_what_it_reads() -> None:
    run = cli("sections", "--json")
    assert run.code == 0
    rows = json.loads(run.stdout)
    assert [r["id"] for r in rows] == [s.id for s in SECTIONS]
    by_id = {r["id"]: r for r in rows}
    assert by_id["math"]["reads"] == ["method", "equations"]
    assert "introduction" in by_id["problem"]["reads"]
    assert by_id["lessons"]["source"] == "author"
    table = cli("sections")
    assert "further-reading" in table.stdout
