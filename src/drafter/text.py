"""Raw extracted text -> normalised text (ligatures, TeX accents, hyphenation, footnote marks). No I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

LIGATURES = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
    "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij",
}
_LIGATURE_RE = re.compile("[" + "".join(LIGATURES) + "]")

# Spacing accents that TeX draws as a separate glyph, mapped to the combining mark they stand for.
# Most are drawn BEFORE the letter they sit on ("D´epartement"); cedilla and ogonek come AFTER ("Franc¸ois").
_ACCENT_BEFORE = {
    "\u00b4": "\u0301",  # acute
    "`": "\u0300",  # grave
    "\u02cb": "\u0300",
    "\u00a8": "\u0308",  # diaeresis
    "\u02c6": "\u0302",  # circumflex
    "^": "\u0302",
    "\u02dc": "\u0303",  # tilde
    "~": "\u0303",
    "\u02c7": "\u030c",  # caron
    "\u02da": "\u030a",  # ring
    "\u00af": "\u0304",  # macron
    "\u02d8": "\u0306",  # breve
    "\u02d9": "\u0307",  # dot above
    "\u02dd": "\u030b",  # double acute
}
_ACCENT_AFTER = {"\u00b8": "\u0327", "\u02db": "\u0328"}  # cedilla, ogonek
SPACING_ACCENTS = "".join(_ACCENT_BEFORE) + "".join(_ACCENT_AFTER)  # every accent restore_accents puts back
_STRONG_BEFORE = "".join(k for k in _ACCENT_BEFORE if k not in "`^~")
_BEFORE_RE = re.compile(f"([{re.escape(_STRONG_BEFORE)}]) ?([A-Za-z\u0131\u0237])")
# ASCII look-alikes (` ^ ~) only count as accents between two letters: "Ga`etan", never "`code`".
_WEAK_BEFORE_RE = re.compile(r"(?<=[A-Za-z])([`^~])([aeiouncAEIOUNC])(?=[a-z])")
_AFTER_RE = re.compile(f"([A-Za-z]) ?([{''.join(_ACCENT_AFTER)}])")

FOOTNOTE_MARKS = "*\u2217\u2020\u2021\u00a7\u00b6\u2016\u22c6\u2605\u2606\u266f\u266e\u2662\u2663\u2660#"
_FOOTNOTE_RE = re.compile(f"[{re.escape(FOOTNOTE_MARKS)}]+")
_SUPERSCRIPTS = str.maketrans("", "", "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079")

_HYPHEN_BREAK = re.compile(r"((?<![\w\u00c0-\u024f-])[A-Za-z\u00c0-\u024f][\w\u00c0-\u024f]*(?:-[\w\u00c0-\u024f]+)*)"
                           r"[-\u00ad\u2010]\n[ \t]*([\w\u00c0-\u024f][\w\u00c0-\u024f-]*)")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")


def expand_ligatures(text: str) -> str:
    """Replace typographic ligature characters (ﬁ, ﬂ, ﬀ, ﬃ, ﬄ, ...) with their letters."""
    return _LIGATURE_RE.sub(lambda m: LIGATURES[m.group()], text)


def restore_accents(text: str) -> str:
    """Put TeX's separately drawn accents back on their letters: "Franc¸ois" -> "François", "Ga¨etan" -> "Gaëtan"."""
    if not text:
        return text

    def before(m: re.Match[str]) -> str:
        letter = {"\u0131": "i", "\u0237": "j"}.get(m.group(2), m.group(2))
        return unicodedata.normalize("NFC", letter + _ACCENT_BEFORE[m.group(1)])

    def after(m: re.Match[str]) -> str:
        return unicodedata.normalize("NFC", m.group(1) + _ACCENT_AFTER[m.group(2)])

    text = _BEFORE_RE.sub(before, text)
    text = _WEAK_BEFORE_RE.sub(before, text)
    text = _AFTER_RE.sub(after, text)
    return unicodedata.normalize("NFC", text)


def join_hyphenation(text: str, vocabulary: Iterable[str] | None = None) -> str:
    """Join words broken with a hyphen at a line end: "com-\\npatible" -> "compatible".

    The paper's own words (`vocabulary`: words seen inside its lines; a set is taken as already lower
    case) decide: a hyphenated form it writes and no joined one keeps the hyphen ("few-\\nshot" ->
    "few-shot"), a joined form it writes and no hyphenated one joins ("PAS-\\nCAL" -> "PASCAL"). Else a
    lower-case piece after the break joins; a capital or a digit after it, or a compound going on
    ("English-\\nto-German", "state-of-the-\\nart"), keeps the hyphen ("Wi-\\nFi", "ResNet-\\n50").
    """
    if vocabulary is None:
        vocab: set[str] | frozenset[str] = frozenset()
    elif isinstance(vocabulary, (set, frozenset)):
        vocab = vocabulary  # collect_vocabulary() output: already lower case
    else:
        vocab = {w.lower() for w in vocabulary}

    def join(m: re.Match[str]) -> str:
        head, tail = m.group(1), m.group(2)
        tail_word = re.match(r"[\w\u00c0-\u024f]+", tail)
        first = tail_word.group() if tail_word else tail
        last = head.rsplit("-", 1)[-1]
        return head + ("-" if hyphen_stays(last, first, vocab, compound="-" in tail or "-" in head) else "") + tail

    return _HYPHEN_BREAK.sub(join, text)


def hyphen_stays(last: str, first: str, vocab: set[str] | frozenset[str], compound: bool = False) -> bool:
    """Whether the hyphen between `last` (before a line break) and `first` (after it) is part of the word."""
    joined, hyphenated = (last + first).lower(), f"{last}-{first}".lower()
    if compound:
        return True
    if hyphenated in vocab and joined not in vocab:
        return True
    if joined in vocab and hyphenated not in vocab:
        return False
    return not first[:1].islower()


def strip_footnote_marks(text: str) -> str:
    """Remove footnote symbols (∗ † ‡ § ¶ ...) and superscript digits."""
    return _FOOTNOTE_RE.sub("", text).translate(_SUPERSCRIPTS)


def collapse_spaces(text: str) -> str:
    """Single spaces inside lines, no trailing spaces, at most one blank line in a row."""
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_URL_AT_END = re.compile(r"(?:https?://|ftp://|www\.)[^\s]*$")
_URL_BREAKS = ("/", "-", "_", "=", "?", "&", "#", "~")


def url_continues(url: str, token: str) -> bool:
    """Whether `token`, first on the next line, continues `url` that ends a line (LaTeX's \\url breaks after
    "/", "-", "." ...): after a break character unless a plain capitalised word follows (a new sentence);
    after a dot only inside the host name; a path or file name after anything."""
    core = token.rstrip(".,;:)")
    if not core or not re.fullmatch(r"[\w./~#?=&%:+-]+", core):
        return False
    if token[:1].isupper() and not re.search(r"[\d/._~=#?&-]", core):
        return False
    if url.endswith(_URL_BREAKS):
        return True
    if url.endswith("."):
        return "/" not in url.split("//", 1)[-1] and token[:1].islower()
    return bool(re.fullmatch(r"[\w.~#?=&%-]*/[\w./~#?=&%-]*|[\w/~-]*\.html?", core)) and not token[:1].isupper()


def join_broken_urls(text: str) -> str:
    """URLs broken across lines put back together: "https://github.com/" + "tensorflow/tensor2tensor"."""
    out: list[str] = []
    for line in text.split("\n"):
        if out:
            m = _URL_AT_END.search(out[-1].rstrip())
            token = line.strip().split(" ")[0]
            if m and token and url_continues(m.group(), token):
                out[-1] = out[-1].rstrip() + line.strip()
                continue
        out.append(line)
    return "\n".join(out)


def normalize_text(text: str, vocabulary: Iterable[str] | None = None) -> str:
    """Ligatures expanded, accents restored, URLs and line-end hyphenation joined, spaces collapsed (lines
    kept)."""
    text = unicodedata.normalize("NFC", text.replace("\u00ad\n", "-\n"))
    text = restore_accents(expand_ligatures(text))
    text = join_hyphenation(join_broken_urls(text), vocabulary)
    return collapse_spaces(text)


def unwrap_lines(text: str) -> str:
    """Join the lines of a paragraph with spaces (blank lines stay paragraph breaks)."""
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(ln.strip() for ln in p.splitlines() if ln.strip()) for p in paragraphs).strip()


def collect_vocabulary(text: str) -> set[str]:
    """Lower-case words (hyphenated compounds included) that occur inside lines, not across line ends."""
    return {w.lower() for w in re.findall(r"[A-Za-z\u00c0-\u024f]+(?:-[A-Za-z\u00c0-\u024f]+)*(?=[^\w-]|$)",
                                          text.replace("-\n", "\n"))}


def fold_name(name: str) -> str:
    """Case- and accent-insensitive key for comparing person names and titles."""
    decomposed = unicodedata.normalize("NFKD", expand_ligatures(name))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("\u0142", "l").replace("\u0141", "L").replace("\u00f8", "o").replace("\u00d8", "O")
    return " ".join(stripped.lower().split())
