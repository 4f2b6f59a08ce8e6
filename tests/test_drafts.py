"""The library core's write sequence (drafter.drafts): nothing the author wrote is lost, a failed draft leaves
nothing behind, and CRLF drafts keep every byte outside the section redone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cliutil import cli, model_flags
from drafter.assemble import parse_draft
from drafter.config import load_settings
from drafter.drafts import output_path, read_draft, recorded_settings, redo_in_file, write_new_draft
from drafter.errors import InputError, ModelError
from drafter.llm import Request
from drafter.plan import LLM_SECTIONS
from drafter.sources import load_source
from fakebackend import FakeBackend
from fakeserver import FakeOpenAI, default_reply


def _model_settings(tmp_path: Path):
    return load_settings({"model": "fake-model", "base_url": "http://127.0.0.1:9/v1",
                          "cache_dir": str(tmp_path / "cache")})


def _edit_inside(text: str, section_id: str, old: str, new: str) -> str:
    block = parse_draft(text).blocks[section_id]
    inner = text[block.start:block.end]
    assert old in inner, (section_id, inner)
    return text[:block.start] + inner.replace(old, new, 1) + text[block.end:]


@pytest.fixture
def drafted(sample_pdf: Path, tmp_path: Path) -> Path:
    settings = _model_settings(tmp_path)
    paper = load_source(str(sample_pdf), settings)
    written = asyncio.run(write_new_draft(paper, settings, tmp_path / "post.md", backend=FakeBackend()))
    assert written.path == tmp_path / "post.md" and written.kept is None
    return written.path


# -- redo while the author edits (adversarial D2) --------------------------------------------------------


def _saving_while_answering(draft: Path, section_id: str, old: str, new: str, reply_text: str):
    """A model answer during which the author saves the draft with one edit."""

    def answer(_: object) -> str:
        draft.write_bytes(_edit_inside(read_draft(draft), section_id, old, new).encode("utf-8"))
        return reply_text

    return answer


def test_redo_keeps_an_edit_the_author_saved_while_the_model_answered(drafted: Path, tmp_path: Path) -> None:
    backend = FakeBackend().enqueue("summary", _saving_while_answering(
        drafted, "lessons", "- [Success story from implementation]", "- Saved during the redo.", "A new summary."))
    redone = asyncio.run(redo_in_file(drafted, "summary", _model_settings(tmp_path), backend=backend))
    text = drafted.read_text(encoding="utf-8")
    assert "- Saved during the redo." in text and "A new summary." in text
    assert redone.merged
    assert "- Saved during the redo." in redone.kept.read_text(encoding="utf-8")


def test_redo_refuses_when_the_author_edited_that_very_section_meanwhile(drafted: Path, tmp_path: Path) -> None:
    backend = FakeBackend().enqueue("summary", _saving_while_answering(
        drafted, "summary", "Fake draft for summary.", "My summary, typed during the redo.", "A new summary."))
    with pytest.raises(InputError, match="changed while 'summary' was redrafted"):
        asyncio.run(redo_in_file(drafted, "summary", _model_settings(tmp_path), backend=backend))
    text = drafted.read_text(encoding="utf-8")
    assert "My summary, typed during the redo." in text and "A new summary." not in text


def test_cli_redo_keeps_an_edit_saved_while_it_waited(fake_server_factory, sample_pdf: Path,
                                                      tmp_path: Path) -> None:
    draft = tmp_path / "post.md"
    server: FakeOpenAI = fake_server_factory()
    assert cli("new", sample_pdf, "-o", draft, *model_flags(server.url), "--no-figures").code == 0

    def reply(body: dict) -> str:  # runs in the server while redo waits for this answer
        draft.write_text(_edit_inside(draft.read_text(encoding="utf-8"), "lessons",
                                      "- [Success story from implementation]", "- Typed meanwhile."),
                         encoding="utf-8")
        return default_reply(body) + "again"

    waiting = fake_server_factory(reply=reply)
    run = cli("redo", draft, "summary", "--no-cache", *model_flags(waiting.url))
    assert run.code == 0, run.stderr
    text = draft.read_text(encoding="utf-8")
    assert "- Typed meanwhile." in text and "again" in text


# -- a new draft: figures, and two runs to one name (adversarial D17) ---------------------------------------


def test_a_draft_written_meanwhile_is_not_replaced_without_force(sample_pdf: Path, tmp_path: Path) -> None:
    settings = _model_settings(tmp_path)
    paper = load_source(str(sample_pdf), settings)
    target = tmp_path / "post.md"

    def another_run_finishes_first(_: Request) -> str:
        target.write_text("the other run's draft\n", encoding="utf-8")
        return "A summary."

    backend = FakeBackend().enqueue("summary", another_run_finishes_first)
    with pytest.raises(InputError, match=r"already exists \(it was written while this draft ran"):
        asyncio.run(write_new_draft(paper, settings, target, backend=backend))
    assert target.read_text(encoding="utf-8") == "the other run's draft\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "post.md"]  # no temporary file left


def test_cli_two_runs_to_one_output_cannot_both_win(fake_server_factory, sample_pdf: Path, tmp_path: Path) -> None:
    target = tmp_path / "post.md"

    def reply(body: dict) -> str:
        if not target.exists():
            target.write_text("the other run's draft\n", encoding="utf-8")
        return default_reply(body)

    server = fake_server_factory(reply=reply)
    run = cli("new", sample_pdf, "-o", target, *model_flags(server.url), "--no-figures")
    assert run.code == 2, run.stderr
    assert "already exists" in run.stderr
    assert target.read_text(encoding="utf-8") == "the other run's draft\n"
    assert not (tmp_path / ".drafter-history").exists()


def test_a_failed_draft_model_error_writes_nothing(sample_pdf: Path, tmp_path: Path) -> None:
    settings = _model_settings(tmp_path)
    paper = load_source(str(sample_pdf), settings)
    backend = FakeBackend().enqueue("math", ModelError("the model is gone"))
    with pytest.raises(ModelError):
        asyncio.run(write_new_draft(paper, settings, tmp_path / "post.md", backend=backend))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
    assert {r.section_id for r in backend.history} == set(LLM_SECTIONS)  # every section was still asked


# -- CRLF drafts and CR in answers (adversarial D3) ---------------------------------------------------------


def test_redo_of_a_crlf_draft_keeps_every_other_byte(sample_pdf: Path, tmp_path: Path) -> None:
    draft = tmp_path / "post.md"
    assert cli("new", sample_pdf, "--offline", "-o", draft).code == 0
    crlf = draft.read_bytes().replace(b"\n", b"\r\n")
    draft.write_bytes(crlf)
    status = cli("status", draft, "--json")
    assert status.code == 0 and '"edited"' not in status.stdout  # CRLF is not an edit
    run = cli("redo", draft, "summary", "--offline")
    assert run.code == 0, run.stderr
    after = draft.read_bytes()
    text_before, text_after = crlf.decode("utf-8"), after.decode("utf-8")
    before_block = parse_draft(text_before).blocks["summary"]
    after_block = parse_draft(text_after).blocks["summary"]
    assert text_after[:after_block.start] == text_before[:before_block.start]
    assert text_after[after_block.end:] == text_before[before_block.end:]
    assert after.count(b"\n") == after.count(b"\r\n")  # the new section has CRLF line ends too
    [kept] = (tmp_path / ".drafter-history").iterdir()
    assert kept.read_bytes() == crlf  # the history copy is byte for byte


def test_an_answer_with_carriage_returns_is_generated_not_edited(fake_server_factory, sample_pdf: Path,
                                                                 tmp_path: Path) -> None:
    def reply(body: dict) -> str:
        return "Line one\r\nLine two\r\nLone CR\rhere\r\n" if "Section id: impact" in str(body) else default_reply(body)

    server = fake_server_factory(reply=reply)
    draft = tmp_path / "post.md"
    assert cli("new", sample_pdf, "-o", draft, *model_flags(server.url), "--no-figures").code == 0
    assert b"\r" not in draft.read_bytes()
    status = cli("status", draft, "--json")
    assert '"edited"' not in status.stdout


# -- naming and recorded settings ---------------------------------------------------------------------------


def test_output_names(tmp_path: Path) -> None:
    assert output_path("-", "T") is None
    assert output_path(None, "A Title!", cwd=tmp_path) == tmp_path / "a-title.md"
    assert output_path(str(tmp_path), "A Title") == tmp_path / "a-title.md"
    assert output_path(str(tmp_path / "x.md"), "A Title") == tmp_path / "x.md"
    with pytest.raises(InputError, match=r"a \.pdf name"):
        output_path(str(tmp_path / "paper.pdf"), "t")


def test_recorded_settings_rules() -> None:
    assert recorded_settings({"model": "offline"}) == {}
    assert recorded_settings({}) == {}
    assert recorded_settings({"model": "m", "base_url": "https://api.openai.com/v1"}) == {"model": "m"}
    assert recorded_settings({"model": "m", "base_url": "http://h/v1"}) == {"model": "m", "base_url": "http://h/v1"}
