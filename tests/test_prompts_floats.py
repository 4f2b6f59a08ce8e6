"""Figures, tables and captions as prompt parts -> routed to the sections that use them, context shared."""

from __future__ import annotations

from pathlib import Path

from drafter.paper import Figure, Paper, Section
from drafter.prompts import PromptSet


def _paper(floats: bool = True) -> Paper:
    return Paper(
        title="A Paper", authors=["Ada Lovelace"], year=2020, abstract="We study things.",
        sections=[Section("Introduction", 1, 1, "Intro sentence."), Section("Method", 1, 2, "Method sentence."),
                  Section("Experiments", 1, 4, "Results sentence."), Section("Conclusion", 1, 5, "We conclude.")],
        figures=[Figure("Figure 1", "Overview of the gated mixing layer.", 2, (72, 400, 540, 420)),
                 Figure("Figure 2", "Loss curves.", 4)] if floats else [],
        tables=[Figure("Table 1", "Main results on the test set.", 3, None, "Model  Acc\nOurs  75.9")]
        if floats else [])


def _context(paper: Paper, section: str, prompts: PromptSet | None = None) -> str:
    return (prompts or PromptSet()).render(paper, section, context_tokens=10_000).messages[1]["content"]


def test_results_tables_go_to_takeaways_with_their_cells() -> None:
    context = _context(_paper(), "takeaways")
    assert "=== TABLES ===\nTable 1: Main results on the test set.\nModel  Acc\nOurs  75.9" in context
    assert "Overview of the gated" not in context


def test_figure_captions_go_to_innovations_and_solution_only() -> None:
    paper = _paper()
    for section in ("innovations", "solution"):
        context = _context(paper, section)
        assert "=== FIGURES ===\nFigure 1: Overview of the gated mixing layer.\nFigure 2: Loss curves." in context
        assert "Ours  75.9" not in context
    for section in ("summary", "problem", "math", "tags"):
        context = _context(paper, section)
        assert "Overview of the gated" not in context and "Ours  75.9" not in context


def test_sections_reading_the_same_parts_share_a_byte_identical_context() -> None:
    paper, prompts = _paper(), PromptSet()
    assert _context(paper, "innovations", prompts) == _context(paper, "solution", prompts)
    assert _context(paper, "takeaways", prompts) == _context(paper, "discussion", prompts)


def test_a_paper_without_floats_gets_no_empty_parts() -> None:
    context = _context(_paper(floats=False), "takeaways")
    assert "=== TABLES" not in context and "=== CONCLUSION ===" in context


def test_captions_part_lists_figures_and_tables_by_page(tmp_path: Path) -> None:
    assert _paper().part_text("captions").splitlines() == [
        "Figure 1: Overview of the gated mixing layer.", "Table 1: Main results on the test set.",
        "Figure 2: Loss curves."]
    (tmp_path / "tags.md.j2").write_text(
        "{#-\ndescription: tags from captions\nreads: abstract, captions\nmax_tokens: 50\n-#}\nSection id: tags\n",
        encoding="utf-8")
    context = _context(_paper(), "tags", PromptSet(tmp_path))
    assert "=== CAPTIONS ===\nFigure 1: Overview" in context
