"""drafter.markup: math, code, links and prose dollars found by the CommonMark parser, at their exact offsets."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from drafter.errors import InputError
from drafter.export import convert
from drafter.markup import apply, scan


def _math(text: str) -> list[str]:
    found = scan(text)
    return [text[s.start:s.end] for s in found.math]


def test_prose_dollars_are_not_math_and_math_is():
    text = "It costs $20,000, or $5 and $10; the loss is $x^2$ and $ a $ is not math, nor \\$y\\$.\n"
    assert _math(text) == ["$x^2$"]
    found = scan(text)
    # the escaped \\$ are the author's own escapes: already text, nothing to do
    assert [text[s.start - 1:s.end + 2] for s in found.dollars] == [" $20", " $5 ", " $10", " $ a", " $ i"]


def test_display_math_inside_a_paragraph_in_lists_quotes_and_tables():
    text = ("Then $$y = Wx$$ follows.\n\n"
            "> quoted $a$ and\n> continued $b\n> c$ here\n\n"
            "- item $m$\n  more $n$\n\n"
            "| a | $c$ |\n|---|---|\n| $d$ | $c$ |\n\n"
            "$$\n\\frac{1}{2}\n$$\n")
    assert _math(text) == ["$$y = Wx$$", "$a$", "$b\n> c$", "$m$", "$n$", "$c$", "$d$", "$c$",
                           "$$\n\\frac{1}{2}\n$$\n"]
    kinds = [s.kind for s in scan(text).math]
    assert kinds[0] == "math_display" and kinds[-1] == "math_block"


def test_code_is_never_math_and_alt_text_is_left_alone():
    text = "Code `$x$` and\n\n```\n$y$ {{ z }}\n```\n\n    $indented$\n\n![alt $q$](fig.png) after $r$\n"
    assert _math(text) == ["$r$"]
    found = scan(text)
    assert [text[s.start:s.end] for s in found.links] == ["fig.png"]
    assert [s.kind for s in found.code] == ["code", "fence", "code_block"]


def test_latex_delimiters_are_math_and_escaped_ones_are_not():
    text = "Inline \\(a+b\\) and display \\[c\\] but \\\\(d) is not.\n"
    assert _math(text) == ["\\(a+b\\)", "\\[c\\]"]
    assert convert(text, "md", lambda p: None, Path()) == "Inline $a+b$ and display $$c$$ but \\\\(d) is not.\n"


def test_hugo_shortcodes_in_code_are_escaped_once():
    text = "Use `{{< figure src=\"x\" >}}`:\n\n```\n{{% note %}}hi{{% /note %}}\n```\n\nkept {{</* ok */>}}\n"
    hugo = convert(text, "hugo", lambda p: None, Path())
    assert '`{{</* figure src="x" */>}}`' in hugo and "{{%/* note */%}}hi{{%/* /note */%}}" in hugo
    assert "kept {{</* ok */>}}" in hugo


def test_apply_refuses_overlapping_edits():
    assert apply("abcdef", [(4, 5, "E"), (0, 1, "A")]) == "AbcdEf"
    try:
        apply("abcdef", [(0, 3, "x"), (2, 4, "y")])
    except ValueError as exc:
        assert "overlapping" in str(exc)
    else:
        raise AssertionError("overlap not refused")


_PIECES = st.sampled_from(["word", " ", "\n", "\n\n", "`code $x$`", "*em*", "> ", "- ", "1. ", "# ", "[l](u)",
                           "\n```\n{{ a }} $b$\n```\n", "|", "<b>", "\\", "_", "    "])


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_markdown_with_nothing_to_rewrite_exports_unchanged_and_code_never_changes(text: str):
    """`md` keeps $ math as drafted, so text without prose dollars or LaTeX delimiters comes out byte for byte;
    every target keeps every code span and block as it was."""
    assert convert(text, "md", lambda p: None, Path()) == text
    code = [text[s.start:s.end] for s in scan(text).code]
    for target in ("hugo", "jekyll", "devto"):
        out = convert(text, target, lambda p: None, Path())
        for piece in code:
            assert piece in out, (target, piece)


_HOSTILE = st.sampled_from(["$", "$$", "$x$", "$$y$$", " ", "\n", "\n\n", "{{", "{%", "}}", "\\(", "\\)", "\\[a\\]",
                            "`", "``", "> ", "- ", "| a | $b$ |\n|---|---|\n", "[t](<f g.png>)", "![i](x.png)",
                            "<!-- c -->", "\t", "    ", "\\", "5", "word", "```\n", "{{< s >}}"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_HOSTILE, max_size=40).map("".join))
@example("\\[a\\] \\[a\\]")  # jekyll: both display formulas once claimed the space between them
@example("$$$$\n\\[a\\]\t$$y$$")  # the same with a tab, after an empty display block
def test_any_text_converts_for_every_target_without_overlapping_edits(text: str):
    for target in ("hugo", "jekyll", "md", "devto"):
        try:
            convert(text, target, lambda p: "figure.png", Path())
        except InputError as exc:  # the one refusal convert may give; anything else fails the test
            assert "endraw" in str(exc), (target, exc)
