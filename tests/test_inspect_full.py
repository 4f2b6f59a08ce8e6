"""`drafter inspect --full` -> each section's text, what the prompts read, with captions and tables apart."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cliutil import cli
from drafter.extract import load_paper


def test_json_full_adds_each_sections_text_and_keeps_every_key(sample_pdf: Path) -> None:
    plain = json.loads(cli("inspect", sample_pdf, "--json", "--no-enrich").stdout)
    run = cli("inspect", sample_pdf, "--json", "--full", "--no-enrich")
    assert run.code == 0, run.stderr
    full = json.loads(run.stdout)
    assert list(full) == list(plain)
    assert all("text" not in s for s in plain["sections"])
    paper = load_paper(sample_pdf)
    assert [s["text"] for s in full["sections"]] == [s.text for s in paper.sections]
    assert [{k: v for k, v in s.items() if k != "text"} for s in full["sections"]] == plain["sections"]
    experiments = next(s["text"] for s in full["sections"] if s["title"] == "Experiments")
    assert "\n\n" in experiments  # paragraphs, not one block
    assert full["tables"][0]["label"] == "Table 1"
    assert "mean of three seeds" not in experiments and "Transformer, 4k window" not in experiments


def test_text_full_prints_sections_and_captions(sample_pdf: Path) -> None:
    run = cli("inspect", sample_pdf, "--full", "--no-enrich")
    assert run.code == 0, run.stderr
    assert "Most of the progress in language modelling" in run.stdout
    assert "Table 1 (p. 3): Main results (mean of three seeds)." in run.stdout
    short = cli("inspect", sample_pdf, "--no-enrich")
    assert "Most of the progress" not in short.stdout and "tables:" in short.stdout
