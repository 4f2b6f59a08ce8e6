"""Text normalisation functions -> table-driven checks."""

from __future__ import annotations

import pytest

from drafter.text import (
    collapse_spaces,
    expand_ligatures,
    fold_name,
    join_hyphenation,
    normalize_text,
    restore_accents,
    strip_footnote_marks,
    unwrap_lines,
)


@pytest.mark.parametrize(("raw", "want"), [
    ("Overﬁtting", "Overfitting"),
    ("Geoﬀrey", "Geoffrey"),
    ("eﬃcient and ﬂexible", "efficient and flexible"),
    ("baﬄe", "baffle"),
    ("tensorﬂow", "tensorflow"),
    ("no ligature", "no ligature"),
])
def test_expand_ligatures(raw, want):
    assert expand_ligatures(raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("Jean-Franc¸ois Crespo", "Jean-François Crespo"),
    ("Ga¨etan Hadjeres", "Gaëtan Hadjeres"),
    ("D´epartement d’informatique", "Département d’informatique"),
    ("Universit´e de Montr´eal", "Université de Montréal"),
    ("Mart´ın Abadi", "Martín Abadi"),
    ("Franc ¸ois", "François"),  # a space between the letter and its cedilla
    ("Ant´ onio", "António"),  # accent and letter separated by one space
    ("Paul Erd˝os", "Paul Erdős"),
    ("ˇSkoda", "Škoda"),
    ("use `code` here", "use `code` here"),  # ASCII backtick between non-letters is not an accent
    ("plain text", "plain text"),
])
def test_restore_accents(raw, want):
    assert restore_accents(raw) == want


@pytest.mark.parametrize(("raw", "vocab", "want"), [
    ("it is com-\npatible with", None, "it is compatible with"),
    ("English-\nto-German", None, "English-to-German"),
    ("state-of-the-\nart results", None, "state-of-the-art results"),
    ("self-\nattention and self-attention", ["self-attention"], "self-attention and self-attention"),
    ("few-\nshot learning", ["few-shot"], "few-shot learning"),
    ("few-\nshot learning", None, "fewshot learning"),
    ("pre-\ntraining and pretraining", ["pretraining"], "pretraining and pretraining"),
    ("the year 2014-\n2015", None, "the year 2014-\n2015"),  # digits: not a word break
    ("Section A-\nB", None, "Section A-B"),  # capital continuation: the hyphen stays, the break goes
    ("the Wi-\nFi network", None, "the Wi-Fi network"),
    ("on PAS-\nCAL VOC", ["PASCAL"], "on PASCAL VOC"),  # the paper writes the joined word elsewhere
    ("Vector Quantised-\nVariational AutoEncoder", None, "Vector Quantised-Variational AutoEncoder"),
    ("Batch-\nNorm layers", ["Batch-Norm"], "Batch-Norm layers"),
    ("Batch-\nnorm layers", ["batch-norm"], "Batch-norm layers"),
    ("ResNet-\n50 backbone", None, "ResNet-50 backbone"),
    ("Swin-\nT and Swin-B", None, "Swin-T and Swin-B"),
])
def test_join_hyphenation(raw, vocab, want):
    assert join_hyphenation(raw, vocab) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("Aidan N. Gomez∗ †", "Aidan N. Gomez "),
    ("Mu Li∗‡", "Mu Li"),
    ("Yoshua Bengio§", "Yoshua Bengio"),
    ("Name¹²", "Name"),
    ("plain", "plain"),
])
def test_strip_footnote_marks(raw, want):
    assert strip_footnote_marks(raw) == want


@pytest.mark.parametrize(("a", "b"), [
    ("Łukasz Kaiser", "lukasz kaiser"),
    ("Jean-François  Crespo", "jean-francois crespo"),
    ("GEOﬀREY", "geoffrey"),
])
def test_fold_name(a, b):
    assert fold_name(a) == b


def test_normalize_text_combines_all_steps():
    raw = "We ﬁnd that   the D´epartement is ef-\nfective.\n\n\n\nNext para."
    assert normalize_text(raw) == "We find that the Département is effective.\n\nNext para."


def test_unwrap_and_collapse():
    assert unwrap_lines("a b\nc\n\nd\ne") == "a b c\n\nd e"
    assert collapse_spaces("  x \t y  \n\n\n\nz ") == "x y\n\nz"
