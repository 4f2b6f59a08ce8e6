"""Model-output clean-up: thinking, chatter and wrappers go; code, LaTeX, lists and sub-headings stay verbatim."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drafter.cleanup import (
    clean_model_text,
    join_split_words,
    paper_vocabulary,
    strip_chatter,
    strip_thinking,
    unwrap_fence,
)
from drafter.plan import LLM_SECTIONS

BODY = "The gate decides what to keep.\n\n- one\n- two\n\n$$h_t = g_t \\odot x_t$$"


@pytest.mark.parametrize(("raw", "expected"), [
    ("<think>\nThe user wants a section.\n</think>\n\n" + BODY, BODY),
    ("<thinking>plan it</thinking>\n" + BODY, BODY),
    ("<THINK>\nshouting\n</THINK>" + BODY, BODY),
    ("<think>\n\n</think>\n\n" + BODY, BODY),  # Qwen3 with thinking switched off still sends an empty block
    ("Okay, the user wants X. Let me plan.\n</think>\n\n" + BODY, BODY),  # opening tag was in the prompt
    (BODY + "\n<think>\nstill thinking when the budget ran ou", BODY + "\n"),  # left open at the cut
    ("<think>\nonly thinking, cut off", ""),
    ("<think>a</think>\n" + BODY + "\n<think>b</think>\nmore", BODY + "\nmore"),
    ("<|channel|>analysis<|message|>We need a section.<|end|><|start|>assistant<|channel|>final<|message|>"
     + BODY + "<|return|>", BODY),
    ("<|channel|>analysis<|message|>We need a sect", ""),
])
def test_thinking_is_stripped(raw: str, expected: str) -> None:
    assert strip_thinking(raw) == expected


@pytest.mark.parametrize("kept", [
    "Reasoning models wrap their chain of thought in `<think>` tags before answering.",
    "```xml\n<think>\nthis is an example in code\n</think>\n```\nAfter.",
    "Models emit <think>...</think> inline, as the paper's Figure 2 shows.",
])
def test_thinking_tags_as_content_stay(kept: str) -> None:
    assert strip_thinking(kept) == kept


@pytest.mark.parametrize(("raw", "expected"), [
    ("Sure! Here's the opening section for your post:\n\n" + BODY, BODY),
    ("Here is the section:\n\n" + BODY, BODY),
    ("Here is the section:\n" + BODY, BODY),
    ("**Here's the rewritten section:**\n\n" + BODY, BODY),
    ("Certainly.\n\nBelow is a draft of the math section.\n\n" + BODY, BODY),
    (BODY + "\n\nI hope this helps!", BODY),
    (BODY + "\n\n---\n\nLet me know if you'd like me to adjust the tone or length.", BODY),
    (BODY + "\n\nFeel free to tweak the analogies.\n\nWould you like me to add a code example?", BODY),
    ("Some text ends here. I hope this helps!", "Some text ends here."),
    ("Sure! Here's the section:\n\n```markdown\n" + BODY + "\n```\n\nLet me know if you need changes.", BODY),
])
def test_chatty_wrappers_are_dropped(raw: str, expected: str) -> None:
    assert unwrap_fence(strip_chatter(raw)) == expected


@pytest.mark.parametrize("kept", [
    "Here is the key insight: gates are cheap.\n\nMore text.",
    "Here's what happens when the gate saturates:\n\n- it stops learning",
    "Let me know in the comments how you would extend this.",
    "Would you like to try it? The code is twenty lines.",
    "Feel free to ask questions in the comments.",
    "I can also imagine a version with two gates.",
    "Sure enough, the baseline collapses at 8k tokens.",
    "```python\nprint('I hope this helps!')\n```",
    "Text.\n\n```python\n# Let me know if you'd like more\nx = 1\n```",
    "| a | b |\n|---|---|\n| I hope this helps | 1 |",
])
def test_real_content_is_not_chatter(kept: str) -> None:
    assert strip_chatter(kept) == kept


@pytest.mark.parametrize(("raw", "expected"), [
    ("```markdown\nHello\n```", "Hello"),
    ("```\nHello\n```", "Hello"),
    ("```md\nText\n\n```python\nx = 1\n```\n\nMore\n```", "Text\n\n```python\nx = 1\n```\n\nMore"),
    ("```markdown\nText cut off at the budget", "Text cut off at the budget"),
    ("```python\nx = 1\n```", "```python\nx = 1\n```"),  # a code answer is not a wrapper
    ("```\na\n```\nb\n```\nc\n```", "```\na\n```\nb\n```\nc\n```"),  # two blocks, not one wrapper
])
def test_wrapping_fence(raw: str, expected: str) -> None:
    assert unwrap_fence(raw) == expected


def test_whole_clean_up_of_a_thinking_chatty_answer() -> None:
    raw = ("<think>\nThey want the problem section. I should mention the math.\n</think>\n\n"
           "Sure! Here's the problem section for your post:\n\n```markdown\n## The Problem They Solved\n"
           "Long contexts are expensive.\n\n### Why it matters\n$O(n^2)$ attention.\n```\n\nI hope this helps!")
    assert clean_model_text("problem", raw) == "Long contexts are expensive.\n\n**Why it matters**\n$O(n^2)$ attention."


def test_unclosed_code_block_at_a_cut_keeps_its_comments() -> None:
    raw = "Intro.\n\n```python\n# gate\ndef gate(x):\n    # mix"
    assert clean_model_text("math", raw) == raw


def test_subheading_names_inside_code_are_not_touched() -> None:
    raw = "```text\n# For Practitioners\n```\n### For Practitioners\n- a\n### For Researchers\n- b"
    assert clean_model_text("takeaways", raw) == raw


# -- properties --------------------------------------------------------------------------------------

_WORDS = st.sampled_from(["gate", "mixing", "the", "model", "cost", "$x_t$", "**bold**", "- item", "1.", "###",
                          "Sure!", "Here's", "section:", "I", "hope", "helps", ":", "\\(", "Let", "me", "know"])
_PROSE = st.lists(st.lists(_WORDS, min_size=1, max_size=8).map(" ".join), min_size=0, max_size=4).map("\n".join)
_CODE_LINE = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40).filter(
    lambda line: not line.lstrip().startswith("`"))
_CODE = st.lists(_CODE_LINE, min_size=1, max_size=6).map("\n".join)
_SECTIONS = st.sampled_from([s for s in LLM_SECTIONS if s not in ("tags", "difficulty")])


@settings(max_examples=200, deadline=None)
@given(section=_SECTIONS, before=_PROSE, code=_CODE, after=_PROSE,
       lang=st.sampled_from(["python", "latex", "bash", "text"]))
def test_clean_up_never_changes_a_fenced_code_block(section: str, before: str, code: str, after: str,
                                                    lang: str) -> None:
    block = f"```{lang}\n{code}\n```"
    raw = f"{before}\n\n{block}\n\n{after}"
    assert block in clean_model_text(section, raw)


@settings(max_examples=200, deadline=None)
@given(section=_SECTIONS, body=_PROSE, thought=_PROSE)
def test_no_thinking_reaches_the_text(section: str, body: str, thought: str) -> None:
    secret = "SECRET-CHAIN-OF-THOUGHT"
    for raw in (f"<think>{thought} {secret}</think>\n{body}", f"<think>\n{secret} {thought}",
                f"{secret} {thought}\n</think>\n\n{body}"):
        assert secret not in clean_model_text(section, raw)


@settings(max_examples=200, deadline=None)
@given(body=st.lists(st.one_of(_WORDS, st.sampled_from(["<think>", "</think>", "\n", "\n\n", "```"])),
                     max_size=30).map(" ".join))
@example(body="### :")  # once became "****", which a second pass emptied
@example(body="### Sure!")  # once became "**Sure!**", which a second pass dropped as an opener
def test_clean_up_is_idempotent(body: str) -> None:
    once = clean_model_text("problem", body)
    assert clean_model_text("problem", once) == once


# -- what real small models do (issue 17: seen with Qwen2.5-Coder-1.5B) -----------------------------------------


@pytest.mark.parametrize("echo", ["Why This Paper Matters", "**Why This Paper Matters**",
                                  "🎯 Why This Paper Matters:", "## 🎯 Why This Paper Matters",
                                  "# Why This Paper Matters\n**Why This Paper Matters**"])
def test_the_sections_heading_echoed_as_its_first_line_goes(echo: str) -> None:
    assert clean_model_text("summary", f"{echo}\n\nGated mixing makes long contexts cheap.") == (
        "Gated mixing makes long contexts cheap.")


def test_a_first_line_that_only_starts_like_the_heading_stays() -> None:
    text = "Why this paper matters to practitioners is simple: it is cheap."
    assert clean_model_text("summary", text) == text


@pytest.mark.parametrize(("raw", "expected"), [
    ("⭐⭐ (3/5) - needs linear algebra", "**Difficulty**: ⭐⭐⭐ (3/5) - needs linear algebra"),
    ("**Difficulty**: ⭐⭐⭐⭐⭐ (2/5)\n\nThe maths is light.", "**Difficulty**: ⭐⭐ (2/5) - The maths is light."),
    ("Difficulty: 4 out of 5 stars. Heavy on probability.", "**Difficulty**: ⭐⭐⭐⭐ (4/5) - Heavy on probability."),
    ("⭐⭐⭐\nMostly intuition.", "**Difficulty**: ⭐⭐⭐ (3/5) - Mostly intuition."),
])
def test_the_difficulty_stars_are_drawn_from_the_number(raw: str, expected: str) -> None:
    assert clean_model_text("difficulty", raw) == expected


def test_words_a_line_end_split_are_joined_again() -> None:
    vocabulary = paper_vocabulary("Quantised-Variational coding keeps long-range memory; an interesting result.")
    raw = "The Quantised- Variational coder saves mem- ory and keeps long- range context, an inter- esting trick."
    assert clean_model_text("problem", raw, vocabulary).startswith(
        "The Quantised-Variational coder saves memory and keeps long-range context, an interesting trick.")
    # Without the paper's words: a capital keeps the hyphen, lower case is the rest of the word.
    assert join_split_words("Quantised- Variational and mem- ory") == "Quantised-Variational and memory"


@pytest.mark.parametrize("kept", ["short- and long-range models", "first- or second-order terms",
                                  "`mem- ory` in code", "$a- b$ in maths", "Code:\n```\nmem- ory\n```\nDone."])
def test_suspended_hyphens_code_and_maths_keep_their_hyphen(kept: str) -> None:
    assert kept in clean_model_text("math", kept)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("It loads <script>alert(1)</script> here.", "It loads &lt;script>alert(1)&lt;/script> here."),
        ("A figure <img src=x onerror=alert(1)> there.", "A figure &lt;img src=x onerror=alert(1)> there."),
        ('See <a href="javascript:run()">this</a>.', 'See &lt;a href="javascript:run()">this</a>.'),
        ("Embedded <IFRAME src=//example.com></iframe>.", "Embedded &lt;IFRAME src=//example.com>&lt;/iframe>."),
        ("A <style>body{display:none}</style> trick.", "A &lt;style>body{display:none}&lt;/style> trick."),
    ],
)
def test_active_html_in_an_answer_is_written_as_text(raw: str, expected: str) -> None:
    assert clean_model_text("problem", raw) == expected


@pytest.mark.parametrize(
    "kept",
    [
        "H<sub>2</sub>O and a line<br>break stay.",
        "In code `<script>alert(1)</script>` stays.",
        "```html\n<script>alert(1)</script>\n```",
        "Math $a<b$ and $c>d$ and $x < y$ stay.",
        "An image <img src=\"fig.png\" alt=\"a\"> stays.",
    ],
)
def test_harmless_html_code_and_math_stay(kept: str) -> None:
    assert clean_model_text("problem", kept) == kept
