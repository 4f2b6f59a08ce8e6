"""Opt-in: a whole draft against a real llama.cpp server (llama-cpp-python + SmolLM2-135M, bench/llama_server.sh).

    bench/llama_server.sh .venv-llama 8765 &
    DRAFTER_LLAMA_URL=http://127.0.0.1:8765/v1 python -m pytest -m llamacpp -q

The 135M model is tiny and often wrong: these tests check the protocol (requests the server accepts, budgets
that stop a rambling model, cut-off answers noted, clean-up, redo from the draft's own settings), not quality.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from cliutil import cli
from drafter.assemble import parse_draft
from drafter.plan import LLM_SECTIONS

# Read at import: the suite's isolation fixture removes DRAFTER_* variables before each test runs.
LLAMA_URL = os.environ.get("DRAFTER_LLAMA_URL", "")
MODEL = "SmolLM2-135M-Instruct"
BUDGET = 48  # tokens per section: small, so the run takes minutes on 2 cores and answers get cut

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.skipif(not LLAMA_URL, reason="set DRAFTER_LLAMA_URL to a llama.cpp server (bench/llama_server.sh)"),
    pytest.mark.timeout(1800),
]


def test_a_small_paper_drafts_against_a_real_llama_cpp_server(sample_pdf: Path, tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    run = cli("new", sample_pdf, "-o", draft, "--base-url", LLAMA_URL, "--model", MODEL, "--context-tokens", "600",
              "--max-tokens", str(BUDGET), "--jobs", "2", "--timeout", "900", "--no-cache")
    print(run.stderr)
    assert run.code == 0, run.stderr
    text = draft.read_text(encoding="utf-8")
    parsed = parse_draft(text)
    assert f'base_url: "{LLAMA_URL}"' in text and f'model: "{MODEL}"' in text
    assert "<think>" not in text
    for section_id in LLM_SECTIONS:
        block = parsed.blocks[section_id]
        assert block.source == "llm" and block.content.strip(), section_id
        if "cut" in block.attrs:  # a rambling model stopped at the budget: noted, marked and warned
            assert block.attrs["cut"] == str(BUDGET)
            assert f"cut off at its limit of {BUDGET} tokens" in block.content
            assert f"warning: {section_id}: the answer was cut off" in run.stderr
    calls = int(re.search(r"(\d+) model calls", run.stderr).group(1))
    assert calls == len(LLM_SECTIONS)  # llama.cpp takes max_tokens and temperature: no adaptation needed
    rows = json.loads(cli("status", draft, "--json").stdout)
    assert all(r["state"] == "generated" for r in rows if r["id"] in LLM_SECTIONS)

    # redo reads the model and the endpoint from the draft: no --model, no --base-url.
    redo = cli("redo", draft, "math", "--max-tokens", str(2 * BUDGET), "--timeout", "900", "--no-cache")
    print(redo.stderr)
    assert redo.code == 0, redo.stderr
    assert f"with {MODEL} at {LLAMA_URL} (model and base url from the draft)" in redo.stderr
    math = parse_draft(draft.read_text(encoding="utf-8")).blocks["math"]
    assert math.attrs.get("cut") in (None, str(2 * BUDGET))
