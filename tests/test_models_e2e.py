"""End to end through the CLI against what real 2026 endpoints do: thinking, chatter, reasoning models, cut-offs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from cliutil import Run, cli, model_flags
from drafter.assemble import parse_draft
from drafter.plan import LLM_SECTIONS
from fakeserver import CHATTY_CLOSER, THOUGHT, FakeOpenAI, default_reply

CODE = "```python\n# the gate\ndef gate(x):\n    return x * sigmoid(x)  # Let me know if you'd like more\n```"
LATEX = "$$h_t = g_t \\odot x_t + (1 - g_t) \\odot h_{t-1}$$"


def _thinking_chatty(body: dict[str, Any]) -> str:
    return ("<think>\nSECRET-REASONING: the user wants a blog section, keep it short.\n</think>\n\n"
            "Sure! Here's the section for your post:\n\n```markdown\n" + default_reply(body) + "\n" + LATEX
            + "\n\n" + CODE + "\n```\n\nI hope this helps! Let me know if you'd like any changes.")


def test_thinking_and_chatter_never_reach_the_draft(fake_server_factory, sample_pdf: Path, tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(reply=_thinking_chatty)
    out = tmp_path / "d.md"
    run = cli("new", sample_pdf, "-o", out, *model_flags(server.url))
    assert run.code == 0, run.stderr
    text = out.read_text(encoding="utf-8")
    assert "SECRET-REASONING" not in text and "<think>" not in text
    assert "Sure!" not in text and "I hope this helps" not in text and "```markdown" not in text
    blocks = parse_draft(text).blocks
    for section_id in LLM_SECTIONS:
        if section_id not in ("tags", "difficulty"):  # normalised to one line whatever the model says
            assert LATEX in blocks[section_id].content
            assert CODE in blocks[section_id].content  # byte for byte, comments and all


# -- reasoning models: parameters, hidden reasoning, remembered profiles -----------------------------


def _cache_dir() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "drafter"


def _new(server: FakeOpenAI, pdf: Path, out: Path, *extra: str, model: str = "fake-model") -> Run:
    return cli("new", pdf, "-o", out, "--base-url", server.url, "--model", model, *extra)


def test_unknown_reasoning_deployment_drafts_in_at_most_twice_the_calls(fake_server_factory, sample_pdf: Path,
                                                                      tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(rejects=("max_tokens", "temperature"), reasoning_tokens=1000)
    run = _new(server, sample_pdf, tmp_path / "d.md", model="team-writer-prod")  # an Azure-style name
    assert run.code == 0, run.stderr
    assert len(server.requests) <= 2 * len(LLM_SECTIONS)
    answered = server.completions()
    assert len(answered) == len(LLM_SECTIONS)
    for request in answered:
        assert "max_tokens" not in request.body and "temperature" not in request.body
        assert request.body["max_completion_tokens"] > 1000
    blocks = parse_draft((tmp_path / "d.md").read_text(encoding="utf-8")).blocks
    assert all("cut" not in blocks[s].attrs for s in LLM_SECTIONS)
    assert "Fake draft for problem." in blocks["problem"].content
    assert "hidden reasoning" in run.stderr
    # The switch is remembered in the cache folder: the next run (cache bypassed) is right from the first call.
    assert "team-writer-prod" in (_cache_dir() / "endpoints.json").read_text(encoding="utf-8")
    before = len(server.requests)
    again = _new(server, sample_pdf, tmp_path / "d2.md", "--no-cache", model="team-writer-prod")
    assert again.code == 0, again.stderr
    assert [r.status for r in server.requests[before:]] == [200] * len(LLM_SECTIONS)


def test_known_reasoning_names_start_with_the_reasoning_profile(fake_server_factory, sample_pdf: Path,
                                                                tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(rejects=("max_tokens", "temperature"), reasoning_tokens=500)
    run = _new(server, sample_pdf, tmp_path / "d.md", "--reasoning-effort", "low", model="openai/gpt-5-mini")
    assert run.code == 0, run.stderr
    assert [r.status for r in server.requests] == [200] * len(LLM_SECTIONS)
    assert all(r.body["reasoning_effort"] == "low" for r in server.requests)


def test_rejected_reasoning_effort_is_dropped_and_remembered(fake_server_factory, sample_pdf: Path,
                                                             tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(rejects=("reasoning_effort",))
    run = _new(server, sample_pdf, tmp_path / "d.md", "--reasoning-effort", "high")
    assert run.code == 0, run.stderr
    assert len(server.requests) <= 2 * len(LLM_SECTIONS)
    assert all("reasoning_effort" not in r.body and r.body["max_tokens"] < 2000 for r in server.completions())


def test_budget_spent_on_hidden_reasoning_is_retried_once_with_more_room(fake_server_factory, sample_pdf: Path,
                                                                          tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(reasoning_tokens=6000)
    run = _new(server, sample_pdf, tmp_path / "d.md", model="o4-mini")
    assert run.code == 0, run.stderr
    assert len(server.requests) <= 2 * len(LLM_SECTIONS)
    assert "```" not in run.stderr and "Traceback" not in run.stderr
    roomy = [r for r in server.requests if r.body["max_completion_tokens"] > 6000]
    assert len(roomy) == len(LLM_SECTIONS)  # one answer per section once the headroom was raised


def test_budget_spent_twice_fails_with_one_line_saying_what_to_change(fake_server_factory, sample_pdf: Path,
                                                                       tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(reasoning_tokens=100_000)
    run = _new(server, sample_pdf, tmp_path / "d.md", model="o3")
    assert run.code == 1
    assert not (tmp_path / "d.md").exists()
    error = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "--max-tokens" in error[0] and "--reasoning-effort low" in error[0]
    assert len(server.requests) <= 2 * len(LLM_SECTIONS)


def test_local_thinking_model_cut_inside_its_think_block_gets_more_room(fake_server_factory, sample_pdf: Path,
                                                                         tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(thinking="content")
    run = _new(server, sample_pdf, tmp_path / "d.md", "--max-tokens", "20")  # the thought alone is ~40 tokens
    assert run.code == 0, run.stderr
    text = (tmp_path / "d.md").read_text(encoding="utf-8")
    assert THOUGHT[:30] not in text and "<think>" not in text
    assert len(server.requests) <= 2 * len(LLM_SECTIONS)


def test_reasoning_fields_are_ignored(fake_server_factory, sample_pdf: Path, tmp_path: Path) -> None:
    for field_name in ("reasoning_content", "reasoning"):
        server: FakeOpenAI = fake_server_factory(thinking=field_name)
        out = tmp_path / f"{field_name}.md"
        run = _new(server, sample_pdf, out)
        assert run.code == 0, run.stderr
        text = out.read_text(encoding="utf-8")
        assert THOUGHT[:30] not in text
        assert "Fake draft for math." in text


def test_chatty_model_mode(fake_server_factory, sample_pdf: Path, tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(chatty=True)
    run = _new(server, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    text = (tmp_path / "d.md").read_text(encoding="utf-8")
    assert "Sure!" not in text and CHATTY_CLOSER[:20] not in text
    assert "Fake draft for solution." in text


# -- cut-off answers ---------------------------------------------------------------------------------


def test_a_server_that_ignores_the_token_limit_is_held_to_it(fake_server_factory, sample_pdf: Path,
                                                             tmp_path: Path) -> None:
    # A server that never stops (it ignores max_tokens): drafter reads up to the limit it sent, closes the stream
    # and keeps what came as a cut-off answer, instead of reading (and checking) megabytes.
    endless = "token " * 50_000
    server: FakeOpenAI = fake_server_factory(reply=lambda body: endless if "id: math" in json.dumps(body) else "ok")
    draft = tmp_path / "d.md"
    run = _new(server, sample_pdf, draft, "--max-tokens", "40")
    assert run.code == 0, run.stderr
    assert "warning: math: the answer was cut off at its limit of 40 tokens" in run.stderr
    math = parse_draft(draft.read_text(encoding="utf-8")).blocks["math"]
    assert math.attrs["cut"] == "40"
    assert 0 < math.content.count("token") <= 8 * 40


def test_cut_off_answers_are_kept_noted_marked_and_warned(fake_server_factory, sample_pdf: Path,
                                                          tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(enforce_limit=True)
    draft = tmp_path / "d.md"
    run = _new(server, sample_pdf, draft, "--max-tokens", "4")
    assert run.code == 0, run.stderr
    assert all(r.body["max_tokens"] == 4 for r in server.requests)
    assert "warning: math: the answer was cut off at its limit of 4 tokens" in run.stderr
    blocks = parse_draft(draft.read_text(encoding="utf-8")).blocks
    assert blocks["math"].attrs["cut"] == "4"
    assert "Fake dra" in blocks["math"].content  # the text that came is kept
    assert "cut off at its limit of 4 tokens" in blocks["math"].content
    assert "redo DRAFT.md math --max-tokens 8" in blocks["math"].content
    status = cli("status", draft, "--json")
    rows = {row["id"]: row for row in json.loads(status.stdout)}
    assert rows["math"]["cut"] == 4 and rows["math"]["state"] == "generated"
    assert rows["overview"]["cut"] is None
    table = cli("status", draft)
    assert "at 4" in table.stdout
    # A larger budget, only for that section, gets the whole answer and clears the mark.
    redo = cli("redo", draft, "math", "--max-tokens", "400")
    assert redo.code == 0, redo.stderr
    blocks = parse_draft(draft.read_text(encoding="utf-8")).blocks
    assert "cut" not in blocks["math"].attrs and "Fake draft for math." in blocks["math"].content
    assert blocks["problem"].attrs["cut"] == "4"


def test_per_section_budgets_from_the_config_file(fake_server: FakeOpenAI, sample_pdf: Path, tmp_path: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "drafter" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[max_tokens]\nmath = 1234\n", encoding="utf-8")
    run = _new(fake_server, sample_pdf, tmp_path / "d.md")
    assert run.code == 0, run.stderr
    budgets = {re.search(r"Section id: ([a-z-]+)", r.messages[-1]["content"]).group(1): r.body["max_tokens"]
               for r in fake_server.requests}
    assert budgets["math"] == 1234 and budgets["tags"] < 1000
    config.write_text("max_tokens = 700\n", encoding="utf-8")
    assert _new(fake_server, sample_pdf, tmp_path / "d2.md", "--no-cache").code == 0
    assert {r.body["max_tokens"] for r in fake_server.requests[len(LLM_SECTIONS):]} == {700}
    config.write_text("[max_tokens]\nmaths = 1234\n", encoding="utf-8")
    typo = _new(fake_server, sample_pdf, tmp_path / "d3.md")
    assert typo.code == 2 and "maths" in typo.stderr and "math" in typo.stderr


# -- redo and status read the draft's own settings ---------------------------------------------------


def test_redo_uses_the_model_and_endpoint_the_draft_was_made_with(fake_server_factory, sample_pdf: Path,
                                                                  tmp_path: Path) -> None:
    server: FakeOpenAI = fake_server_factory(model_ids=("my-local-model",))
    draft = tmp_path / "d.md"
    assert _new(server, sample_pdf, draft, model="my-local-model").code == 0
    assert f'base_url: "{server.url}"' in draft.read_text(encoding="utf-8")
    status = cli("status", draft)
    assert f"drafted with my-local-model at {server.url}" in status.stderr
    before = len(server.requests)
    run = cli("redo", draft, "math", "--hint", "shorter", "--no-cache")
    assert run.code == 0, run.stderr
    assert f"with my-local-model at {server.url} (model and base url from the draft)" in run.stderr
    assert [r.body["model"] for r in server.requests[before:]] == ["my-local-model"]
    # A flag still wins over the draft.
    flagged = cli("redo", draft, "math", "--model", "other", "--no-cache")
    assert flagged.code == 0, flagged.stderr
    assert server.requests[-1].body["model"] == "other"


def test_the_recorded_endpoint_never_carries_credentials(fake_server: FakeOpenAI, sample_pdf: Path,
                                                         tmp_path: Path) -> None:
    url = fake_server.url.replace("http://", "http://user:s3cret@")
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md", "--base-url", url, "--model", "m")
    assert run.code == 0, run.stderr
    text = (tmp_path / "d.md").read_text(encoding="utf-8")
    assert "s3cret" not in text and f'base_url: "{fake_server.url}"' in text


def test_batch_warns_about_cut_off_sections(fake_server_factory, sample_pdf: Path, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    server: FakeOpenAI = fake_server_factory(enforce_limit=True)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{sample_pdf}\n", encoding="utf-8")
    run = cli("batch", listing, "--out", tmp_path / "out", "--base-url", server.url, "--model", "m",
              "--max-tokens", "4")
    assert run.code == 0, run.stderr
    assert "math was cut off at its limit of 4 tokens" in caplog.text  # a warning line on stderr
    assert {r.body["max_tokens"] for r in server.requests} == {4}


def _files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_credentials_in_the_base_url_reach_no_file_and_no_message(fake_server_factory, sample_pdf: Path,
                                                                  tmp_path: Path, _isolate_machine: Path) -> None:
    # A reasoning-style endpoint that rejects max_tokens, so the learned profile is saved to endpoints.json.
    server = fake_server_factory(rejects=("max_tokens",))
    url = server.url.replace("http://", "http://user:hunter2SECRETPW@")
    run = cli("new", sample_pdf, "-o", tmp_path / "d.md", "--base-url", url, "--model", "m", "--no-figures")
    assert run.code == 0, run.stderr
    assert list(_isolate_machine.rglob("endpoints.json")), "the profile switch was not saved"
    assert _files_holding(_isolate_machine, "hunter2SECRETPW") == []
    assert _files_holding(tmp_path, "hunter2SECRETPW") == []
    shown = cli("config", "--base-url", url, "--model", "m")
    assert shown.code == 0 and "hunter2SECRETPW" not in shown.stdout + shown.stderr
    missing_model = cli("new", sample_pdf, "-o", tmp_path / "e.md", "--base-url", url)
    assert missing_model.code == 2 and "hunter2SECRETPW" not in missing_model.stderr


def test_batch_api_state_never_holds_the_base_urls_credentials(tmp_path: Path, sample_pdf: Path) -> None:
    from fakebatchapi import FakeBatchAPI

    listing = tmp_path / "list.txt"
    listing.write_text(f"{sample_pdf}\n", encoding="utf-8")
    with FakeBatchAPI() as server:
        url = server.url.replace("http://", "http://user:hunter2SECRETPW@")
        run = cli("batch", listing, "-o", tmp_path / "out", "--batch-api", "--base-url", url, "--model", "fake-model",
                  "--no-figures", "--poll", "0.01")
        public = server.url
    assert run.code == 0, run.stderr
    state = json.loads((tmp_path / "out" / ".drafter-batch.json").read_text(encoding="utf-8"))
    assert state["endpoint"] == public
    assert _files_holding(tmp_path, "hunter2SECRETPW") == []
