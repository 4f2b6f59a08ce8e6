"""The embedded offline drafter: every section filled from the paper's own text, no network."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from cliutil import cli, headings
from conftest import require_shared
from drafter.extract import load_paper
from drafter.offline import NOTE, cited_references, draft_offline, sentences
from drafter.plan import LLM_SECTIONS


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline mode opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_offline_cli_drafts_everything_without_network(sample_pdf: Path, tmp_path: Path, no_network: None) -> None:
    out = tmp_path / "d.md"
    run = cli("new", sample_pdf, "-o", out)
    assert run.code == 0, run.stderr
    assert "no model configured" in run.stderr and "OPENAI_API_KEY" in run.stderr
    text = out.read_text(encoding="utf-8")
    assert text.count("source=extracted model=offline") == len(LLM_SECTIONS)
    assert "### Core Innovation #1: " in text and "### For Practitioners" in text
    assert NOTE in text


def test_offline_sections_quote_the_paper(sample_pdf: Path) -> None:
    paper = load_paper(sample_pdf)
    body = paper.full_text()
    flat = re.sub(r"\s+", " ", body)
    summary = draft_offline(paper, "summary")
    quick = summary.split("**Quick Summary**: ")[1].strip()
    assert quick in flat
    for section_id in LLM_SECTIONS:
        text = draft_offline(paper, section_id)
        assert text.strip(), section_id
    assert headings(draft_offline(paper, "takeaways")) == ["### For Practitioners", "### For Researchers"]
    assert re.match(r"\*\*Difficulty\*\*: ⭐+ \([1-5]/5\)", draft_offline(paper, "difficulty"))
    assert draft_offline(paper, "tags").startswith("**Tags**: #")


def test_sentence_splitter_keeps_abbreviations() -> None:
    text = ("Prior work (e.g. Smith et al. 2019, see Fig. 2) failed on long inputs. "
            "We propose a gated residual mixer for long inputs.")
    assert sentences(text) == ["Prior work (e.g. Smith et al. 2019, see Fig. 2) failed on long inputs.",
                               "We propose a gated residual mixer for long inputs."]


def test_further_reading_prefers_most_cited(sample_pdf: Path) -> None:
    paper = load_paper(sample_pdf)
    paper.references = ["[1] One.", "[2] Two.", "[3] Three."]
    paper.sections[0].text += " As shown in [3] and [3, 2], ..."
    assert cited_references(paper, 2)[0] == "[3] Three."


def test_numbered_equations_are_found_inline() -> None:
    from drafter.offline import equations

    text = ("The memory is an average of summaries: m_k = λ · m_{k−1} + (1 − λ) · c_k (2) where λ is learned. "
            "The gate is computed from the state: g_t = σ(W_g [x_t ; m_k] + b) (3) and mixes the memory in. "
            "We use 8 layers (4) in all runs.")
    assert equations(text) == ["m_k = λ · m_{k−1} + (1 − λ) · c_k    (2)", "g_t = σ(W_g [x_t ; m_k] + b)    (3)"]


def test_committed_example_draft_is_what_drafter_makes_today(sample_pdf: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/ holds the offline draft of the sample paper; regenerate it when this fails (see examples/README)."""
    committed = sample_pdf.with_name("gated-residual-mixing.draft.md")
    monkeypatch.chdir(sample_pdf.parents[1])
    out = tmp_path / "fresh.md"
    assert cli("new", "examples/gated-residual-mixing.pdf", "--offline", "-o", out).code == 0

    def without_date(text: str) -> str:
        return re.sub(r'^date: ".*"$', "date: -", text, count=1, flags=re.M)

    assert without_date(out.read_text(encoding="utf-8")) == without_date(committed.read_text(encoding="utf-8"))


def test_redo_offline_warns_that_the_hint_is_ignored(sample_pdf: Path, tmp_path: Path) -> None:
    draft = tmp_path / "d.md"
    assert cli("new", sample_pdf, "-o", draft).code == 0
    run = cli("redo", draft, "problem", "--hint", "shorter")
    assert run.code == 0, run.stderr
    assert "--hint is ignored offline" in run.stderr


def test_offline_draft_follows_the_template_heading_for_heading(sample_pdf: Path, tmp_path: Path) -> None:
    from cliutil import TEMPLATE, heading_pattern

    require_shared(TEMPLATE, "../shared/TEMPLATE.md")
    out = tmp_path / "d.md"
    assert cli("new", sample_pdf, "--offline", "-o", out).code == 0
    got, want = headings(out.read_text(encoding="utf-8")), headings(TEMPLATE.read_text(encoding="utf-8"))
    assert len(got) == len(want)
    assert all(heading_pattern(w).match(g) for g, w in zip(got, want, strict=True)), list(zip(got, want, strict=True))
    assert out.read_text(encoding="utf-8").count("> **✍️ TODO (author):**") == 8


def _tiny_paper(**kw: object):  # type: ignore[no-untyped-def]
    from drafter.paper import Paper, Section
    body = ("Batch normalization keeps activations stable. We propose domain adaptation by batch normalization "
            "statistics. Domain adaptation with batch normalization needs no extra parameters. ") * 2
    paper = Paper(title="MobileNets: Efficient Networks for Domain Adaptation", pages=3,
                  abstract="We propose a simple method for domain adaptation based on batch normalization. "
                           "It allows adaptation to a target domain without labels.",
                  sections=[Section("Introduction", 1, 1, body), Section("Results", 1, 2, body)])
    for key, value in kw.items():
        setattr(paper, key, value)
    return paper


def test_innovations_never_leave_a_slot_when_the_method_has_no_subsections() -> None:
    text = draft_offline(_tiny_paper(), "innovations")
    assert "[Second Key Contribution]" not in text and "[" not in text.split("```")[-1]
    assert "### Core Innovation #1: " in text and "### Core Innovation #2: " in text


def test_tags_are_the_papers_frequent_terms_not_title_bigrams() -> None:
    tags = draft_offline(_tiny_paper(), "tags")
    assert "#MobilenetsEfficient" not in tags and "#MobileNetsEfficient" not in tags
    assert "#DomainAdaptation" in tags and "#BatchNormalization" in tags


def test_only_the_papers_own_code_link_is_its_implementation() -> None:
    from drafter.assemble import reference_implementations_text
    paper = _tiny_paper(urls=["https://github.com/someone/imagenet-tools", "github.com/ada/adabn",
                              "https://github.com/ada/adabn/LICENSE"])
    paper.sections[1].text += (" We use the data from github.com/someone/imagenet-tools as a dataset. "
                               "Our code is available at github.com/ada/adabn for everyone.")
    text = reference_implementations_text(paper)
    assert "- Official implementation (linked in the paper): <https://github.com/ada/adabn>" in text
    assert "Official implementation (linked in the paper): <https://github.com/someone" not in text
    assert "LICENSE>" not in text.split("Code linked")[0]
    assert "- Code linked in the paper: <https://github.com/someone/imagenet-tools>" in text



@pytest.mark.parametrize("claim", [
    'We present a method that runs on a 24" screen and compresses large ensembles into smaller models.',
    'We present a method for \\compressing" large ensembles into smaller models with no loss.',
    "We present a method for \u201ccompressing\u201d large ensembles into smaller models with no loss.",
], ids=["inch-mark", "unmapped-tex-quotes", "curly"])
def test_a_quoted_sentence_holding_quotes_passes_the_check(claim: str) -> None:
    # The discussion quotes a sentence of the abstract; a quotation mark inside it must not end the quote early, or
    # `drafter check` pairs the marks wrongly and reads half a question as "not in the paper's words".
    from drafter.check import check_section, index_paper
    from drafter.paper import Section

    base = _tiny_paper()
    conclusion = Section("Conclusion", 1, 3, "In future work we will extend the method to speech models and to "
                                             "larger ensembles of many kinds.")
    paper = _tiny_paper(abstract=f"{claim} It allows adaptation to a target domain.",
                        sections=[*base.sections, conclusion])
    text = draft_offline(paper, "discussion")
    assert "ensembles into smaller models" in text and "The authors write: \"In future work" in text, text
    assert check_section("discussion", text, index_paper(paper)) == []


def test_a_sections_first_sentence_is_not_lost_to_its_heading() -> None:
    # Paper.part_text puts each section's heading on a line of its own; the first sentence ran on from it
    # ("## Conclusion In future work ...") and was dropped as not starting with a capital.
    text = "## Conclusion\nIn future work we will extend the method to speech models.\n\n## Outlook\nNo more tricks."
    assert sentences(text) == ["In future work we will extend the method to speech models."]
