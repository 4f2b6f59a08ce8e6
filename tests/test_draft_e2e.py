"""End to end: `drafter new` against the fake OpenAI-compatible server (real client, real socket)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cliutil import TEMPLATE, cli, heading_pattern, headings, model_flags
from conftest import require_shared
from drafter.plan import LLM_SECTIONS, SECTIONS
from fakeserver import FakeOpenAI, Fault

NORMALISED = ("tags", "difficulty")  # clean-up rewrites these into one fixed format


def _draft(server: FakeOpenAI, pdf: Path, out: Path, *extra: str) -> str:
    run = cli("new", pdf, "-o", out, *model_flags(server.url), *extra)
    assert run.code == 0, run.stderr
    assert run.stdout == ""  # stdout carries only what the user asked for
    return out.read_text(encoding="utf-8")


def test_every_section_is_requested_once_with_its_budget(fake_server: FakeOpenAI, sample_pdf: Path,
                                                        tmp_path: Path) -> None:
    text = _draft(fake_server, sample_pdf, tmp_path / "d.md")
    ids = [re.search(r"Section id: ([a-z-]+)", r.messages[-1]["content"]).group(1) for r in fake_server.requests]
    assert sorted(ids) == sorted(LLM_SECTIONS)
    for request in fake_server.requests:
        body = request.body
        assert body["model"] == "fake-model"
        assert 50 <= body["max_tokens"] <= 2000
        roles = [m["role"] for m in body["messages"]]
        assert roles == ["system", "user", "user"]
        assert body["messages"][1]["content"].count("<paper>") == 1
    for section_id in LLM_SECTIONS:
        if section_id in NORMALISED:
            continue  # one fixed format whatever the model says (see test_assemble)
        assert f"Fake draft for {section_id}." in text
    assert "**Difficulty**: ⭐⭐⭐ (3/5)" in text and "**Tags**: #" in text


def test_sections_reading_the_same_parts_share_a_byte_identical_context(fake_server: FakeOpenAI,
                                                                       sample_pdf: Path, tmp_path: Path) -> None:
    _draft(fake_server, sample_pdf, tmp_path / "d.md")
    by_id = {re.search(r"Section id: ([a-z-]+)", r.messages[-1]["content"]).group(1): r.body["messages"]
             for r in fake_server.requests}
    # summary, problem, impact and tags all read abstract + introduction + conclusion.
    contexts = {by_id[s][1]["content"] for s in ("summary", "problem", "impact", "tags")}
    systems = {m[0]["content"] for m in by_id.values()}
    assert len(contexts) == 1
    assert len(systems) == 1
    assert by_id["math"][1]["content"] != by_id["summary"][1]["content"]


def test_requests_overlap_and_a_draft_takes_well_under_two_calls(fake_server_factory, sample_pdf: Path,
                                                                tmp_path: Path) -> None:
    latency = 1.0
    server = fake_server_factory(latency=latency)
    _draft(server, sample_pdf, tmp_path / "d.md")
    assert len(server.requests) == len(LLM_SECTIONS)
    # Sections go out together (not one after another), so many are in flight at once...
    assert server.max_in_flight >= len(LLM_SECTIONS) // 2
    # ...and none waits for a whole answer: every request is sent before the first one is answered (the
    # first-contact gate holds the others for at most half a second; eleven calls in sequence would take 11 s).
    first_answer = min(r.finished for r in server.requests)
    assert all(r.started < first_answer for r in server.requests)


def test_three_429s_in_a_row_are_survived(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    fake_server.enqueue(Fault.rate_limit(retry_after=0.05), Fault.rate_limit(retry_after=0.05),
                        Fault.rate_limit(retry_after=0.05))
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md", *model_flags(fake_server.url), "--jobs", "1")
    assert run.code == 0, run.stderr
    statuses = [r.status for r in fake_server.requests]
    assert statuses[:3] == [429, 429, 429]
    assert len(fake_server.completions()) == len(LLM_SECTIONS)


def test_draft_has_every_template_heading_in_order(fake_server: FakeOpenAI, sample_pdf: Path,
                                                  tmp_path: Path) -> None:
    text = _draft(fake_server, sample_pdf, tmp_path / "d.md")
    got = headings(text)
    source = require_shared(TEMPLATE, "../shared/TEMPLATE.md")
    want = headings(source.read_text(encoding="utf-8"))
    assert len(got) == len(want), (got, want)
    for have, template in zip(got, want, strict=True):
        assert heading_pattern(template).match(have), (have, template)


def test_author_sections_carry_visible_todo_and_markers(fake_server: FakeOpenAI, sample_pdf: Path,
                                                       tmp_path: Path) -> None:
    text = _draft(fake_server, sample_pdf, tmp_path / "d.md")
    for spec in SECTIONS:
        begin = re.search(rf"<!-- drafter:begin id={spec.id} source=(\w+)[^>]*-->\n(.*?)\n<!-- drafter:end "
                          rf"id={spec.id} -->", text, re.S)
        assert begin, spec.id
        assert begin.group(1) == spec.source
        if spec.source == "author":
            assert "TODO (author)" in begin.group(2)


def test_front_matter_is_complete(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    text = _draft(fake_server, sample_pdf, tmp_path / "d.md")
    front = text.split("---\n")[1]
    fields = {line.split(":", 1)[0]: json.loads(line.split(":", 1)[1]) for line in front.strip().splitlines()}
    for key in ("title", "authors", "year", "venue", "arxiv_id", "source", "model", "drafter_version", "tags",
                "date"):
        assert key in fields
    assert fields["model"] == "fake-model"
    assert fields["source"] == str(sample_pdf)
    assert isinstance(fields["authors"], list) and fields["authors"]


def test_stdout_output_is_the_draft_alone(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = cli("new", sample_pdf, "-o", "-", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("---\ntitle: ")
    assert "wrote stdout" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_default_output_is_slug_in_cwd_and_never_overwritten(fake_server: FakeOpenAI, sample_pdf: Path,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("new", sample_pdf, *model_flags(fake_server.url)).code == 0
    [draft] = list(tmp_path.glob("*.md"))
    assert re.fullmatch(r"[a-z0-9-]+\.md", draft.name)
    draft.write_text("my own words", encoding="utf-8")
    again = cli("new", sample_pdf, *model_flags(fake_server.url))
    assert again.code == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert draft.read_text(encoding="utf-8") == "my own words"
    forced = cli("new", sample_pdf, *model_flags(fake_server.url), "--force")
    assert forced.code == 0
    [kept] = list((tmp_path / ".drafter-history").iterdir())
    assert kept.read_text(encoding="utf-8") == "my own words"


def test_usage_is_recorded_per_section(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    text = _draft(fake_server, sample_pdf, tmp_path / "d.md")
    for section_id in LLM_SECTIONS:
        tokens = re.search(rf"drafter:begin id={section_id} source=llm model=fake-model tokens=(\d+)", text)
        assert tokens and int(tokens.group(1)) > 0, section_id


def test_rerun_makes_zero_requests(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    _draft(fake_server, sample_pdf, tmp_path / "a.md")
    first = len(fake_server.requests)
    assert first == len(LLM_SECTIONS)
    second = _draft(fake_server, sample_pdf, tmp_path / "b.md")
    assert len(fake_server.requests) == first
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == second
    _draft(fake_server, sample_pdf, tmp_path / "c.md", "--no-cache")
    assert len(fake_server.requests) == 2 * first


def test_model_failure_is_one_line_and_exit_1(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    fake_server.enqueue(*[Fault.invalid_api_key()] * len(LLM_SECTIONS))
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md", *model_flags(fake_server.url))
    assert run.code == 1
    assert run.stderr.count("\n") >= 1 and "error:" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "d.md").exists()


def test_chain_passes_takeaways_to_discussion(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    _draft(fake_server, sample_pdf, tmp_path / "d.md", "--chain")
    [discussion] = [r for r in fake_server.requests if "Section id: discussion" in r.messages[-1]["content"]]
    [takeaways] = [r for r in fake_server.requests if "Section id: takeaways" in r.messages[-1]["content"]]
    assert "Fake draft for takeaways." in discussion.messages[-1]["content"]
    assert discussion.started >= takeaways.finished


def test_headings_a_model_invents_do_not_break_the_template_outline(fake_server_factory, sample_pdf: Path,
                                                                   tmp_path: Path) -> None:
    require_shared(TEMPLATE, "../shared/TEMPLATE.md")
    server = fake_server_factory(reply=lambda body: "## Overview\nText.\n# My Title\n### Technical Deep Dive:\nMore.")
    text = _draft(server, sample_pdf, tmp_path / "d.md")
    got, want = headings(text), headings(TEMPLATE.read_text(encoding="utf-8"))
    assert len(got) == len(want), got
    assert all(heading_pattern(w).match(g) for g, w in zip(got, want, strict=True))
