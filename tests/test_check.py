"""The fact check, table-driven: what each kind flags and, as important, what it leaves alone."""

from __future__ import annotations

import pytest

from drafter.assemble import parse_draft
from drafter.check import (
    CALLOUT,
    Finding,
    callout,
    check_draft,
    check_section,
    index_paper,
    latex_problem,
    with_callout,
)
from drafter.paper import Figure, Paper, Section

PAPER = Paper(
    title="Gated Mixing for Small Models",
    abstract="We reach 4.67 bits/dim on the benchmark, 12.5% better than the baseline, with fewer than two "
             "percent extra parameters on a 40M-parameter Transformer.",
    sections=[
        Section("Introduction", 1, 1, "Small models are attractive for on-device settings, but their short "
                "attention windows leave them blind to long-range context [4, 5]. We train for 1,000,000 steps "
                "with β = 0.25 and a learning rate of 3 × 10−4."),
        Section("Method", 1, 2, "The gate is initialised so that the layer starts as the identity. Channels with "
                "λ close to one retain information for many chunks, while chan-\nnels with small λ track only "
                "the recent past. Training takes 3.5 days on 8 GPUs, a 2.5× speed-up over the baseline."),
        Section("Results", 1, 4, "GRM raises retrieval accuracy from under 10 percent to 71.3 percent at 16k tokens."),
    ],
    tables=[Figure("Table 2", "Ablation of the gate.", 5, content="no gate 0.940 62.10\nfull 0.917 71.30")],
    footnotes=["Code and 1.2M-token corpus released under MIT at https://example.org/grm/."],
    references=["A. Vaswani et al. Attention is all you need. NeurIPS, 30:5998–6008, 2017."],
    year=2024,
)
INDEX = index_paper(PAPER)


def _kinds(section: str, text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in check_section(section, text, INDEX)]


@pytest.mark.parametrize("text", [
    "The model reaches 4.67 bits/dim with β = 0.25.",
    "It is 12.5 percent better than the baseline.",  # % / percent
    "Training runs for 1000000 steps.",  # thousands separators
    "It trains for one million steps, i.e. 1M steps.",  # 1M vs 1,000,000
    "The learning rate is 3e-4 on a 40 million parameter model.",  # 3 × 10−4, 40M
    "A 2.5x speed-up in 3.50 days.",  # × / x, trailing zero
    "Accuracy rises from under 10% to 71.3%, or 0.713 as a fraction.",
    "It adds under 2% parameters.",  # "two percent" in the paper
    "About 71% retrieval accuracy at 16,384 tokens.",  # about 71% for 71.3; 16k
    "The full model scores 91.7 on the ablation.",  # 0.917 in a table cell
    "A 1.2 million token corpus.",  # 1.2M in a footnote
    "Accuracy moves by −0.917 points.",  # Unicode minus
    "Accuracy ranges 62.1-71.3% across ablations.",  # a range
    "Transformers (Vaswani et al., 2017) and this 2024 paper.",  # reference years, the paper's year
    "See Section 3.2, Eq. (7), Figures 8 and 9, Table 6 and Appendix B.4; step 11 of Algorithm 12.",
    "1. First point\n2. Second point\n\n### 4.3 A numbered heading",
    "The GPT-4 and ResNet-50 baselines use fp16 on H100s; the 3rd run; hash 8123456789.",
    "Code: `lr = 0.123`, math $x^{97}$ and\n```python\nsteps = 777\n```",
    "See https://example.org/p/31415 and [the code](https://github.com/x/y/tree/271828).",
    "The gate [4, 5] is cited as [12].",
])
def test_true_and_uncheckable_numbers_are_not_flagged(text: str) -> None:
    assert _kinds("problem", text) == []


@pytest.mark.parametrize(("text", "flagged"), [
    ("It reaches 93.2% accuracy.", ["93.2%"]),
    ("The run took 37 days.", ["37 days"]),
    ("A 3.6x speed-up with 4.67 bits/dim.", ["3.6x"]),
    ("Trained on 1.7M tokens.", ["1.7M"]),
    ("It scores 71.8 percent.", ["71.8 percent"]),
    ("Accuracy ranges 62.1-73.9% across ablations.", ["73.9%"]),
    ("The model has 7,340 layers and β = 0.35.", ["7,340 layers", "0.35"]),
    ("It reaches 71% accuracy.", ["71%"]),  # rounding is fine only when the text says "about"
])
def test_invented_numbers_are_flagged_as_written(text: str, flagged: list[str]) -> None:
    assert _kinds("solution", text) == [("number", f) for f in flagged]


def test_numbers_are_left_alone_where_they_are_not_claims_about_the_paper() -> None:
    assert _kinds("impact", "Later work reached 99.1% (verify).") == []
    assert _kinds("difficulty", "**Difficulty**: ⭐⭐⭐⭐ (4/5) - needs 17 hours of background") == []
    assert _kinds("tags", "**Tags**: #GPT4 #Top5") == []
    # further-reading may quote the reference list's numbers (volume, pages), other sections may not
    assert _kinds("further-reading", "- *Attention is all you need* (NeurIPS 30, 5998-6008)") == []
    assert _kinds("problem", "Attention reached 5998 citations.") == [("number", "5998")]


@pytest.mark.parametrize("text", [
    'The authors write: "Channels with λ close to one retain information for many chunks."',
    'They note that “channels with small λ track only the recent past”.',  # line-end hyphenation in the paper
    '"Small models are attractive for on-device settings, but their short attention windows leave them blind '
    'to long-range context."',  # the citation mark [4, 5] dropped
    '"The gate is initialised so that the layer starts ... as the identity."',  # an ellipsis
    '"The gate is initialised so that the layer starts [...] as the identity."',
    '"Small models are attractive for on-device settings, but their short attention windows leave them blind '
    'to long-range context [4, ... the gate is initialised so that the layer starts as the identity"',
    'A "short quote of five words" is fine.',  # under six words: not presented as the paper's words
    '"Code and 1.2M-token corpus released under MIT at https://example.org/grm/"',  # a URL inside the quote
    'The ﬁle says "THE GATE IS INITIALISED SO THAT THE LAYER".',  # case
])
def test_verbatim_quotes_are_not_flagged(text: str) -> None:
    assert _kinds("summary", text) == []


@pytest.mark.parametrize("text", [
    'The authors write: "Channels with λ close to one keep information for many chunks."',
    'They say “the gate makes small models as good as large ones on every task”.',
    'The paper states: "The gate is initialised so that the layer starts as a residual block."',
    '"Code and 1.2M-token corpus published under MIT at https://example.org/grm/"',  # a URL inside the quote
    '"We reach 4.67 bits/dim on the benchmark [.5, .95], 12.5% worse than the baseline"',  # not an ellipsis
])
def test_misquotes_are_flagged(text: str) -> None:
    found = _kinds("summary", text)
    assert [kind for kind, _ in found] == ["quote"], found
    assert found[0][1][0] in "\"“" and found[0][1][-1] in "\"”"


@pytest.mark.parametrize(("latex", "problem"), [
    (r"\frac{QK^T}{\sqrt{d_k}}", None),
    (r"\mathcal{L} = \mathbb{E}_{x \sim p}\left[\log D(x)\right] + \beta \lVert z \rVert_2^2", None),
    (r"\begin{aligned} a &= b \\ c &= d \end{aligned}", None),
    (r"\begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}", None),
    (r"\frac{QK^T}{\sqrt{d_k}", "unbalanced braces"),
    (r"a}b", "unbalanced braces"),
    (r"\left( \frac{a}{b}", "\\left without \\right"),
    (r"\frac{a}{b} \right)", "\\right without \\left"),
    (r"\begin{foo} x \end{foo}", "unknown environment foo"),
    (r"\begin{cases} a \end{bcases}", "unexpected mismatching closing environment"),
    ("", "empty math"),
])
def test_latex_problems(latex: str, problem: str | None) -> None:
    found = latex_problem(latex)
    assert (found is None) if problem is None else (found is not None and found.lower().startswith(problem.lower()))


def test_math_blocks_in_a_section() -> None:
    text = ("Inline $x_{t}$ is fine, $x_{t$ is not.\n\n$$\n\\frac{a}{b\n$$\n\nThe price is $5 and \\(a^2\\) "
            "renders; a $ stray dollar.")
    found = check_section("math", text, INDEX)
    assert [(f.kind, f.text, f.line) for f in found] == [
        ("math", "$x_{t$", 1), ("math", "$$\n\\frac{a}{b\n$$", 3), ("math", "$", 7)]


@pytest.mark.parametrize(("text", "slots"), [
    ("- **<premise 1>**: <how it applies to real work>", ["<premise 1>", "<how it applies to real work>"]),
    ("### Core Innovation #1: [Main Technical Contribution]", ["[Main Technical Contribution]"]),
    ("**Tags**: #MachineLearning #<SpecificTopic>", ["<SpecificTopic>"]),
    ("- *<title of the referenced work>* (<first author>, <year>)", ["<title of the referenced work>",
                                                                     "<first author>", "<year>"]),
    # not slots: links, citations, checkboxes, comments, HTML, autolinks, tokens, math and code
    ("See [the code](https://x.org), [ref][1], [1], [4, 5], [Smith et al., 2017] and <https://x.org/a>.", []),
    ("- [ ] todo\n- [x] done <!-- a <note> here --> with <sub>2</sub> and <br> and [CLS] [SEP]", []),
    ("When $a<b$ and `List<int>` or x<y>z, and [ ; ] denotes concatenation.", []),
])
def test_placeholders(text: str, slots: list[str]) -> None:
    assert _kinds("takeaways", text) == [("placeholder", s) for s in slots]


def test_drafters_own_callouts_and_notes_are_skipped() -> None:
    text = ("It reaches 93.2% accuracy.\n\n" + CALLOUT + ' "93.2%" does not appear in the paper; `<premise 1>` '
            'is a slot.\n> "a quote of at least six words that is invented"\n\n*drafter: the paper was cut to '
            "fit 12000 tokens (3,141 of 9,999 characters kept).*\n\n> 📝 *Offline draft: 99 sentences.*")
    assert _kinds("problem", text) == [("number", "93.2%")]


def test_callout_groups_findings_by_kind_and_lists_them() -> None:
    text = 'It reaches 93.2% after 37 days. "We beat every baseline on every task by far." $\\frac{a}{b$\n\n<x y>'
    new_text, findings = with_callout("solution", text, INDEX)
    assert [f.kind for f in findings] == ["number", "number", "quote", "math", "placeholder"]
    assert new_text.startswith(text)
    note = new_text[len(text):].strip()
    assert note == (f'{CALLOUT} "93.2%" and "37 days" do not appear in the paper; the quote "We beat every '
                    'baseline on every task by far." is not the paper\'s words; `$\\frac{a}{b$` does not parse '
                    "(unbalanced braces); `<x y>` is a slot still to fill in.")
    assert check_section("solution", new_text, INDEX) == findings  # the callout itself is never re-flagged
    assert callout([]) == "" and with_callout("solution", "All 4.67 bits/dim.", INDEX)[1] == []


def test_check_draft_counts_lines_in_the_whole_file_and_skips_author_sections() -> None:
    draft = ("---\ntitle: x\n---\n\n<!-- drafter:begin id=problem source=llm model=m hash=0 -->\nFirst line.\n"
             "It reaches 93.2% accuracy.\n<!-- drafter:end id=problem -->\n\n"
             "<!-- drafter:begin id=lessons source=author hash=0 -->\nMy run took 37 days.\n"
             "<!-- drafter:end id=lessons -->\n<!-- drafter:begin id=overview source=extracted hash=0 -->\n"
             "**Citations**: [Number if known]\n<!-- drafter:end id=overview -->\n"
             "<!-- drafter:begin id=math source=extracted model=offline hash=0 -->\n\n$\\frac{a$\n"
             "<!-- drafter:end id=math -->\n")
    found = check_draft(parse_draft(draft), PAPER)
    assert found == [
        Finding("problem", "number", "93.2%", 7, '"93.2%" does not appear in the paper'),
        Finding("math", "math", "$\\frac{a$", 18, "$\\frac{a$ does not parse: unbalanced braces"),
    ]
    assert found[0].to_json() == {"section": "problem", "kind": "number", "text": "93.2%", "line": 7,
                                  "message": '"93.2%" does not appear in the paper'}
    assert draft.splitlines()[6] == "It reaches 93.2% accuracy." and draft.splitlines()[17] == "$\\frac{a$"


def test_findings_keep_their_lines_across_many_blanked_spans() -> None:
    """The one-pass blanking and the bisected line numbers give what the per-match copies gave."""
    unit = 'Inline $x_{t}$ and `code 7.5` and "a quote of 99.9 words that is not there" then 31337 here.\n'
    found = check_section("problem", unit * 300, INDEX)
    # Math, code and the quote's own 99.9 are blanked; the quote and 31337 are flagged, on their own line.
    assert [(f.kind, f.text, f.line) for f in found] == [
        pair for n in range(1, 301) for pair in (("quote", '"a quote of 99.9 words that is not there"', n),
                                                 ("number", "31337", n))]


def test_a_section_past_the_checked_length_is_checked_up_to_it(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from drafter import check

    monkeypatch.setattr(check, "MAX_CHECKED", 1000)
    text = "Plain words here. " * 100 + "The gain is 31337 points."
    assert check_section("problem", text, INDEX) == []
    assert "only the first 1000 characters" in caplog.text
    assert [f.text for f in check_section("problem", text[-40:], INDEX)] == ["31337 points"]
