"""End to end through the CLI against what real 2026 endpoints do: thinking, chatter, reasoning models, cut-offs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cliutil import cli, model_flags
from drafter.assemble import parse_draft
from drafter.plan import LLM_SECTIONS
from fakeserver import FakeOpenAI, default_reply

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
