"""Opt-in: the example paper drafted against a real llama.cpp server with drafter's defaults (bench/llama_server.sh:
llama-cpp-python serving Qwen2.5-Coder-1.5B-Instruct Q4_K_M, one generation at a time).

    bench/llama_server.sh qwen 8765 2>server.log &
    DRAFTER_LLAMA_URL=http://127.0.0.1:8765/v1 DRAFTER_LLAMA_LOG=server.log python -m pytest -m llamacpp -q -s -n 0

No --jobs, no --timeout: a one-slot server on 2 cores must get every section drafted with the defaults, each
generated once. A counting proxy between drafter and the server records every request (its section, tokens, whether
drafter left early); with DRAFTER_LLAMA_LOG the server's own log adds its generation count and token rates. The
numbers are printed (run with -s), never timed: a loaded machine is slower, not wrong. The draft itself must have
the properties a real small model tends to break: every section, parseable markers, no reasoning or chat residue,
no echoed heading, stars that match the rating, no words split by a line-end hyphen.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from cliutil import cli
from conftest import SAMPLE_PDF
from countingproxy import CountingProxy, Exchange
from drafter.assemble import parse_draft
from drafter.plan import BY_ID, LLM_SECTIONS, SECTIONS

# Read at import: the suite's isolation fixture removes DRAFTER_* variables before each test runs.
LLAMA_URL = os.environ.get("DRAFTER_LLAMA_URL", "")
LLAMA_LOG = os.environ.get("DRAFTER_LLAMA_LOG", "")

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.skipif(not LLAMA_URL, reason="set DRAFTER_LLAMA_URL to a llama.cpp server (bench/llama_server.sh)"),
    pytest.mark.timeout(5400),  # a shared 2-core machine: about 40 minutes for the whole draft, seen
]

_RESIDUE = re.compile(r"<\|im_(?:start|end)\|>|</?think(?:ing)?>|<\|endoftext\|>|<\|channel\|>", re.I)
# Chat around the answer: an opener to the user, a closer offering more ("Here's a snippet:" mid-section is prose).
_OPENER = re.compile(r"\A\s*(?:sure\b|certainly\b|of course\b|as an ai\b|(?:here(?:'s| is| are)|below is) (?:the|a|an|"
                     r"your) (?:section|draft|summary|rewritten|revised|requested|markdown)\b)", re.I)
_CLOSER = re.compile(r"\b(?:i hope this helps|let me know if|feel free to (?:ask|reach out))\b", re.I)
# "mem- ory": a word cut at a line end and copied with its hyphen (not "short- and long-range").
_SPLIT_WORD = re.compile(r"\b[a-z]{2,}- (?!(?:and|or|to|as|vs|versus|nor)\b)[a-z]{2,}\b")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$", re.S)


def _served_model() -> str:
    # llama-cpp-python answers GET /models only when no generation is running: give it time.
    with urllib.request.urlopen(f"{LLAMA_URL.rstrip('/')}/models", timeout=900) as answer:
        return str(json.load(answer)["data"][0]["id"])


def _plain(line: str) -> str:
    """A line as words: no Markdown marks, no emoji, no case."""
    kept = "".join(c for c in line if unicodedata.category(c)[0] in "LNZ")
    return " ".join(kept.lower().split())


def _server_log_since(offset: int) -> dict[str, float]:
    """Generations and token rates from llama-cpp-python's perf lines written since `offset` (0s without a log)."""
    if not LLAMA_LOG:
        return {}
    text = Path(LLAMA_LOG).read_bytes()[offset:].decode("utf-8", "replace")
    prompt = re.findall(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens", text)
    gen = re.findall(r"\s eval time =\s*([\d.]+) ms /\s*(\d+) runs", text)
    return {
        "generations": len(prompt),
        "prompt_tokens": sum(int(n) for _, n in prompt), "prompt_s": sum(float(ms) for ms, _ in prompt) / 1000,
        "gen_tokens": sum(int(n) for _, n in gen), "gen_s": sum(float(ms) for ms, _ in gen) / 1000,
    }


def _report(exchanges: list[Exchange], wall: float, server: dict[str, float]) -> None:
    print(f"\nwall time {wall:.0f}s ({wall / 60:.1f} min) for {len(LLM_SECTIONS)} sections")
    print(f"{'section':<16} {'requests':>8} {'generated':>9} {'tokens':>6} {'waited':>7} {'writing':>7} {'tok/s':>6}")
    for section_id in LLM_SECTIONS:
        mine = [e for e in exchanges if e.section == section_id]
        done = [e for e in mine if e.generated]
        tokens = sum(e.tokens for e in done)
        waited = sum((e.first_token or e.ended or e.started) - e.started for e in done)
        writing = sum((e.ended or 0) - (e.first_token or 0) for e in done if e.first_token and e.ended)
        rate = f"{tokens / writing:6.2f}" if writing > 0 else "     -"
        print(f"{section_id:<16} {len(mine):>8} {len(done):>9} {tokens:>6} {waited:6.0f}s {writing:6.0f}s {rate}")
    if server:
        print(f"server: {server['generations']:.0f} generations; prompt {server['prompt_tokens']:.0f} tokens at "
              f"{server['prompt_tokens'] / max(server['prompt_s'], 1e-9):.1f} tok/s; generated "
              f"{server['gen_tokens']:.0f} tokens at {server['gen_tokens'] / max(server['gen_s'], 1e-9):.2f} tok/s")


def _check_section(section_id: str, content: str, paper_text: str) -> None:
    prose = _CODE.sub(" ", content)
    first = next((line for line in content.splitlines() if line.strip()), "")
    assert _plain(first) != _plain(BY_ID[section_id].heading), f"{section_id} echoes its heading: {first!r}"
    assert not _RESIDUE.search(content), f"{section_id}: model tokens or reasoning left in: {content[:300]!r}"
    paragraphs = [p for p in prose.split("\n\n") if p.strip()] or [""]
    assert not _OPENER.search(paragraphs[0]), f"{section_id} opens with chat: {paragraphs[0][:120]!r}"
    assert not _CLOSER.search(paragraphs[-1]), f"{section_id} closes with chat: {paragraphs[-1][:120]!r}"
    for split in _SPLIT_WORD.finditer(prose):
        joined = split.group(0).replace("- ", "")
        assert joined.lower() not in paper_text, f"{section_id}: hyphen-split word {split.group(0)!r}"
    if section_id == "difficulty":
        rating = re.search(r"\*\*Difficulty\*\*: (⭐+) \(([1-5])/5\)", content)
        assert rating and len(rating.group(1)) == int(rating.group(2)), content
    elif section_id == "tags":
        assert re.fullmatch(r"\*\*Tags\*\*:( #\w+)+", content.strip()), content
    else:
        assert len(prose.split()) >= 25, f"{section_id} is too short to be a section: {content!r}"
    for name in BY_ID[section_id].subheadings:
        assert re.search(rf"^### {re.escape(name)}", content, re.M), f"{section_id} lacks ### {name}"


def test_the_example_paper_drafts_with_defaults_against_a_real_small_model(tmp_path: Path) -> None:
    model = _served_model()
    log_offset = Path(LLAMA_LOG).stat().st_size if LLAMA_LOG else 0
    draft = tmp_path / "d.md"
    with CountingProxy(LLAMA_URL) as proxy:
        started = time.monotonic()
        run = cli("new", SAMPLE_PDF, "-o", draft, "--base-url", proxy.url, "--model", model, "--no-cache")
        wall = time.monotonic() - started
        exchanges = proxy.chat()
        server = _server_log_since(log_offset)
        print(run.stderr)
        _report(exchanges, wall, server)
        assert run.code == 0, run.stderr

        text = draft.read_text(encoding="utf-8")
        parsed = parse_draft(text)  # the markers parse: every block begins and ends
        assert list(parsed.blocks) == [s.id for s in SECTIONS]
        assert f'model: "{model}"' in text
        paper = json.loads(cli("inspect", SAMPLE_PDF, "--json", "--full", "--no-enrich").stdout)
        paper_text = " ".join([paper["abstract"], *(s["text"] for s in paper["sections"])]).lower()
        for section_id in LLM_SECTIONS:
            block = parsed.blocks[section_id]
            assert block.source == "llm" and block.attrs.get("model") == model, (section_id, block.attrs)
            if "cut" in block.attrs:  # stopped at its budget: noted and warned
                assert f"warning: {section_id}: the answer was cut off" in run.stderr
            _check_section(section_id, block.content, paper_text)
        rows = json.loads(cli("status", draft, "--json").stdout)
        states = {r["id"]: r["state"] for r in rows if r["id"] in LLM_SECTIONS}
        assert states == dict.fromkeys(LLM_SECTIONS, "generated")

        # Paid once: every section generated, at most one generation more than sections, nothing thrown away.
        generated = Counter(e.section for e in exchanges if e.generated)
        assert set(generated) == set(LLM_SECTIONS), generated
        assert sum(generated.values()) <= len(LLM_SECTIONS) + 1, generated
        wasted = [e for e in exchanges if e.client_left and e.generated]
        assert not wasted, f"drafter left {len(wasted)} generations that were under way: {wasted}"
        if server:
            assert server["generations"] <= len(LLM_SECTIONS) + 1, server

        # redo reads the model and the endpoint from the draft: no --model, no --base-url, no --timeout.
        redo = cli("redo", draft, "tags", "--no-cache")
        print(redo.stderr)
        assert redo.code == 0, redo.stderr
        assert f"with {model} at {proxy.url} (model and base url from the draft)" in redo.stderr
        tags = parse_draft(draft.read_text(encoding="utf-8")).blocks["tags"]
        _check_section("tags", tags.content, paper_text)
