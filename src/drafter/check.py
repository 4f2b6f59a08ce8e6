"""Draft sections + paper -> findings: numbers, quotes, LaTeX and prompt slots the paper does not back.

The check is mechanical and errs on the side of silence: a number counts as backed when the paper prints the
same quantity anywhere (body, captions, table cells, footnotes; reference-list years too), whatever its
formatting; a quote when its words occur in the paper in that order. What it reports is a list of things for the
author to verify, never a verdict; nothing is removed or rewritten.
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from pylatexenc.latexwalker import (
    LatexEnvironmentNode,
    LatexGroupNode,
    LatexMacroNode,
    LatexMathNode,
    LatexWalker,
    LatexWalkerError,
)

from drafter.paper import Paper

KINDS = ("number", "quote", "math", "placeholder")
CALLOUT = "> ⚠️ **Check against the paper:**"

# What each section is checked for. `impact` is about later work by design (its claims carry "(verify)"), the
# difficulty rating and the hashtags hold no claims about the paper's text.
_SKIP: dict[str, frozenset[str]] = {
    "impact": frozenset({"number", "quote"}),
    "difficulty": frozenset({"number"}),
    "tags": frozenset({"number", "quote"}),
}
# Sections whose numbers may come from the reference list (titles, venues, years of cited works).
_READS_REFERENCES = frozenset({"further-reading"})
QUOTE_MIN_WORDS = 6


@dataclass(frozen=True)
class Finding:
    """One thing the author should verify: where (section, 1-based line), what kind, the text as written."""

    section: str
    kind: str  # number | quote | math | placeholder
    text: str
    line: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"section": self.section, "kind": self.kind, "text": self.text, "line": self.line,
                "message": self.message}


@dataclass(frozen=True)
class PaperIndex:
    """The paper reduced to what the check compares against: its words, and the quantities it prints."""

    words: str  # " w1 w2 ... ": normalised words of the whole searchable text, space-delimited
    numbers: frozenset[str]  # canonical numbers of the body, captions, tables and footnotes
    reference_numbers: frozenset[str]  # canonical numbers of the reference list
    values: tuple[Decimal, ...]  # the body numbers as values, for "about 71%" against 71.3

    def has_number(self, candidates: Iterable[str], *, references: bool) -> bool:
        for candidate in candidates:
            if candidate in self.numbers:
                return True
            if candidate in self.reference_numbers and (references or _is_year(candidate)):
                return True
        return False


# -- normalisation ----------------------------------------------------------------------------------------------

# Every dash and minus sign as "-", one character for one, so offsets in a draft keep their meaning.
_DASHES = str.maketrans(dict.fromkeys("\u2212\u2010\u2011\u2012\u2013\u2014\u2015", "-"))
_CITATION = re.compile(r"\[\s*\d+(?:\s*[,;-]\s*\d+)*\s*\]")
_AUTHOR_YEAR = re.compile(r"\([^()]*\bet al\b[^()]*\)")
_WORD = re.compile(r"\w+")


def normalise_words(text: str) -> str:
    """Lower-case words in order, with ligatures expanded, hyphenation (also at line ends) joined, citation
    marks and punctuation dropped: the form quotes and the paper are compared in."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).replace("\u00ad", "")
    text = _CITATION.sub(" ", text)
    text = _AUTHOR_YEAR.sub(" ", text)
    text = re.sub(r"(?<=\w)-(?:[ \t]*\n[ \t]*|[ \t]+(?=[a-z]))?(?=\w)", "", text)  # long-range, trans-\nformer
    return " ".join(_WORD.findall(text.casefold()))


def _canonical(value: Decimal) -> str:
    text = format(abs(value).normalize(), "f")
    return text if text else "0"


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _is_year(canonical: str) -> bool:
    return canonical.isdigit() and 1900 <= int(canonical) <= 2099


_MULTIPLIERS = {"k": (1000, 1024), "thousand": (1000,), "m": (10**6,), "mn": (10**6,), "million": (10**6,),
                "b": (10**9,), "bn": (10**9,), "billion": (10**9,), "t": (10**12,), "trillion": (10**12,),
                "g": (10**9,)}
# A number: thousands separators (comma or thin spaces) or plain digits, an optional fraction, an optional
# exponent; not part of a word, an identifier, a path, a hashtag or a name like GPT-4 / ResNet-50.
_NUMBER = re.compile(
    r"(?<![\w.$^_/\\#@])(?<![A-Za-z][-‐‑])"
    r"(?P<int>\d{1,3}(?:[,\u2009\u202f\u00a0]\d{3})+(?![\d])|\d+)(?P<frac>\.\d+)?(?![.,]\d)"
    r"(?P<exp>[eE][-+−]?\d+\b)?")
_AFTER = re.compile(
    r"(?P<pow>\s*[×x·]\s*10\s*\^?\s*\{?\s*(?P<powexp>[-−]?\s*\d+)\}?)?"
    r"(?P<space>\s?)(?P<word>[A-Za-z%×]+(?:/[A-Za-z]+)?)?")
_POWER_OF_TEN = re.compile(r"(?<![\w.])10\s*\^\s*\{?\s*(?P<exp>[-−]?\s*\d+)\s*\}?|(?<![\w.])10(?P<exp2>[-−]\d{1,2})\b")
_UNITS = frozenset(
    "day hour minute second week month year epoch step iteration token parameter param layer head gpu tpu core bit "
    "bpc bleu point pp ms sec min hr gb mb kb tb flop example image sample word sentence language task dataset "
    "node machine worker server dimension dim".split())
_GLUED_UNITS = frozenset("x ms s h d px fps hz khz mhz ghz w kw mw flops gflops tflops pflops kib mib gib bpc bpd"
                         .split())
_ORDINAL = frozenset({"st", "nd", "rd", "th"})
_SPELLED = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_SPELLED.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
                 "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "dozen": 12, "twice": 2,
                 "double": 2, "triple": 3, "tenfold": 10, "half": Decimal("0.5")})  # type: ignore[dict-item]
_SPELLED_NUMBER = re.compile(r"\b(" + "|".join(_SPELLED) + r")(?:[\s-]+(hundred|thousand|million|billion))?\b",
                             re.I)
_APPROXIMATE = re.compile(r"(?:\b(?:about|around|roughly|approximately|approx\.|nearly|almost|close to|some|"
                          r"circa|ca\.)|~|≈|∼)\s*$", re.I)


@dataclass
class _Number:
    start: int
    end: int
    text: str  # as written, with its unit/multiplier
    values: list[Decimal]  # every value it may stand for (plain, scaled, as a fraction/percentage)
    precision: int  # digits after the decimal point as written


def _scan_numbers(text: str) -> Iterator[_Number]:
    """Every quantity written in `text` with the values it may stand for."""
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"[,\u2009\u202f\u00a0]", "", match.group("int"))
        frac = match.group("frac") or ""
        exp = (match.group("exp") or "").replace("−", "-")
        value = _decimal(digits + frac + exp)
        if value is None:
            continue
        after = _AFTER.match(text, match.end())
        end = match.end()
        values = [value]
        if after and after.group("pow"):
            power = _decimal(re.sub(r"\s", "", after.group("powexp")).replace("−", "-"))
            if power is not None and abs(power) < 40:
                values = [value, value * Decimal(10) ** int(power)]
                end = after.end("pow")
        elif after and after.group("word"):
            word = after.group("word")
            glued = not after.group("space")
            lower = word.lower()
            if glued and lower in _ORDINAL:
                continue  # 3rd, 21st: ordinals are not claims
            if glued and re.match(r"[A-Za-z]+\d", text[after.start("word"):after.start("word") + 40]):
                continue  # an identifier such as 3f2a9c, 7b1
            if glued and not (lower in _MULTIPLIERS or lower in _GLUED_UNITS or lower.rstrip("s") in _UNITS
                              or word[0] in "%×") and len(match.group(0)) + len(word) >= 6:
                continue  # an identifier such as a hash: 1234abcd
            if lower in _MULTIPLIERS and (glued or len(lower) > 2):
                values += [value * m for m in _MULTIPLIERS[lower]]
                end = after.end("word")
            elif word[0] in "%×" or lower in {"x", "percent", "times", "fold"}:
                end = after.end("word")
                if word[0] == "%" or lower == "percent":
                    values.append(value / 100)
            elif glued:
                end = after.end("word")  # a unit: 10ms, 2GB
            elif lower.split("/")[0].rstrip("s") in _UNITS:
                end = after.end("word")  # 37 days, 4.67 bits/dim: the unit shows what the number is
        if value < 1 and frac:
            values.append(value * 100)  # 0.917 printed, 91.7% written (or the reverse)
        yield _Number(match.start(), end, text[match.start():end], values, len(frac) - 1 if frac else 0)


def _spelled_numbers(text: str) -> Iterator[Decimal]:
    for match in _SPELLED_NUMBER.finditer(text):
        value = Decimal(_SPELLED[match.group(1).lower()])
        yield value
        if match.group(2):
            yield value * Decimal(_SPELLED[match.group(2).lower()])


def _number_set(text: str) -> tuple[set[str], list[Decimal]]:
    found: set[str] = set()
    values: list[Decimal] = []
    for number in _scan_numbers(_CITATION.sub(" ", text)):  # [37] is a reference, not a quantity
        values.append(number.values[0])
        found.update(_canonical(v) for v in number.values)
    for match in _POWER_OF_TEN.finditer(text):
        power = _decimal(re.sub(r"\s", "", match.group("exp") or match.group("exp2")).replace("−", "-"))
        if power is not None and abs(power) < 40:
            found.add(_canonical(Decimal(10) ** int(power)))
    found.update(_canonical(v) for v in _spelled_numbers(text))
    return found, values


def index_paper(paper: Paper) -> PaperIndex:
    """Build the index once per paper from `Paper.searchable_text()`."""
    text = paper.searchable_text()
    body = replace(paper, references=[]).searchable_text().translate(_DASHES)  # as draft prose is read
    numbers, values = _number_set(body)
    if paper.year:
        numbers.add(str(paper.year))
    references, _ = _number_set("\n".join(paper.references).translate(_DASHES))
    return PaperIndex(f" {normalise_words(text)} ", frozenset(numbers), frozenset(references),
                      tuple(sorted(set(values))))


# -- what is not prose -------------------------------------------------------------------------------------------

# drafter's own lines: the check's callout (and its continuation lines), offline and to-do callouts, notes.
_OWN_LINE = re.compile(
    r"^(?:" + re.escape(CALLOUT) + r".*(?:\n>.*)*"
    r"|> 📝 \*Offline draft.*|> \*\*✍️ TODO \(author\):\*\*.*(?:\n>.*)*"
    r"|\*drafter: .*\*[ \t]*)$", re.M)
_OWN_INLINE = re.compile(r"\*\((?:The model gave|the model gave|Offline mode)[^\n]*?\)\*")
_FENCE = re.compile(r"^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)", re.M | re.S)
_INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_URL = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|<(?:https?|ftp|mailto):[^>\s]*>|\b(?:https?://|www\.)[^\s\"“”<>]+"
                  r"|\b(?:arXiv|doi|DOI):\s*[^\s\"“”<>]+|\b10\.\d{4,9}/[^\s\"“”<>]+")
_DISPLAY_MATH = re.compile(r"\$\$(.*?)\$\$|\\\[(.*?)\\\]", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]*?[^\s\\$])\$(?!\d)|\\\((.*?)\\\)")
_STRAY_DOLLAR = re.compile(r"(?<!\\)\$+(?!\d)")
# References to parts of the paper or the post: Section 3.2, Eq. (4), Figures 2 and 3, Table 1, step 2, #1.
_PART_REFERENCE = re.compile(
    r"(?:\b(?:sections?|sec|secs|chapters?|eqs?|equations?|figures?|figs?|tables?|tabs?|appendi(?:x|ces)|app|"
    r"algorithms?|alg|theorems?|thm|lemmas?|corollar(?:y|ies)|propositions?|prop|definitions?|def|assumptions?|"
    r"remarks?|examples?|steps?|stages?|phases?|parts?|lines?|pages?|pp?|listings?|innovations?|questions?|"
    r"takeaways?|rows?|columns?)\.?|§|#)\s*\(?[A-Z]?\d+(?:\.\d+)*[a-z]?\)?"
    r"(?:\s*(?:,|and|or|to|-|–|&)\s*\(?[A-Z]?\d+(?:\.\d+)*[a-z]?\)?)*", re.I)
_LIST_NUMBER = re.compile(r"^[ \t>]*(?:[-*+][ \t]+)?(?:\*\*)?\(?\d+(?:\.\d+)*[.):](?=[ \t*])", re.M)
_HEADING_NUMBER = re.compile(r"^#{1,6}[ \t]+(?:\*\*)?\d+(?:\.\d+)*\.?", re.M)
_EQUATION_TAG = re.compile(r"\(\d{1,2}[a-z]?\)")
_LONG_ID = re.compile(r"(?<![\d.,])\d{7,}(?!\d|[.,]\d)")  # hashes, ids: no separators, seven digits or more


_NOT_NEWLINE = re.compile(r"[^\n]")
MAX_CHECKED = 200_000  # characters of one section (a long section is ~10,000); the check is linear but not free
log = logging.getLogger(__name__)


def _blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each [start, end) replaced by spaces, in one pass (copying the text per match made a long
    answer quadratic); newlines stay, so offsets and lines keep their meaning."""
    if not spans:
        return text
    out, pos = [], 0
    for start, end in sorted(spans):
        start = max(start, pos)
        if end <= start:
            continue
        out += [text[pos:start], _NOT_NEWLINE.sub(" ", text[start:end])]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _blank_all(text: str, pattern: re.Pattern[str]) -> str:
    return _blank_spans(text, [match.span() for match in pattern.finditer(text)])


def _line_counter(text: str) -> Callable[[int], int]:
    """offset -> 1-based line, by bisection over the newlines (counting from 0 per finding was quadratic)."""
    newlines = [i for i, char in enumerate(text) if char == "\n"]
    return lambda offset: bisect.bisect_left(newlines, offset) + 1


# -- the four checks ---------------------------------------------------------------------------------------------

_KNOWN_ENVIRONMENTS = frozenset(
    "equation equation* align align* aligned alignat alignat* alignedat gather gather* gathered multline multline* "
    "split cases cases* dcases rcases matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix array subarray "
    "eqnarray eqnarray* CD darray".split())


def latex_problem(latex: str) -> str | None:
    """Why a piece of LaTeX math would not render, or None when it parses."""
    if not latex.strip():
        return "empty math"
    try:
        nodes, _, _ = LatexWalker(latex, tolerant_parsing=False).get_latex_nodes()
    except LatexWalkerError as exc:
        reason = str(exc).splitlines()[0]
        reason = re.sub(r"\s*@\s*\(\d+,\s*\d+\)\s*$", "", reason).strip()
        if "brace" in reason or "expecting '}'" in reason:
            return "unbalanced braces"
        return reason[0].lower() + reason[1:] if reason else "does not parse"
    return _node_problem(nodes)


def _node_problem(nodes: list[Any] | None) -> str | None:
    depth = 0
    for node in nodes or []:
        if isinstance(node, LatexMacroNode) and node.macroname == "left":
            depth += 1
        elif isinstance(node, LatexMacroNode) and node.macroname == "right":
            depth -= 1
            if depth < 0:
                return "\\right without \\left"
        if isinstance(node, LatexEnvironmentNode) and node.environmentname not in _KNOWN_ENVIRONMENTS:
            return f"unknown environment {node.environmentname}"
        if isinstance(node, LatexMathNode):
            return "a $ inside math"
        children = getattr(node, "nodelist", None)
        if isinstance(node, LatexGroupNode | LatexEnvironmentNode | LatexMacroNode) and children:
            inner = _node_problem(list(children))
            if inner:
                return inner
        args = getattr(getattr(node, "nodeargd", None), "argnlist", None) or []
        for arg in args:
            if arg is not None:
                inner = _node_problem([arg])
                if inner:
                    return inner
    return "\\left without \\right" if depth > 0 else None


_HTML_TAGS = frozenset(
    "a abbr b br code del details div em hr i img ins kbd li mark ol p pre q s small span strong sub summary sup "
    "table tbody td th thead tr u ul video audio figure figcaption iframe".split())
_ANGLE_SLOT = re.compile(r"(?<![\w<])<(?!!)([A-Za-z][^<>\n]{0,100}?)>(?![\w>])")
_SQUARE_SLOT = re.compile(r"(?<![\w\]!\\])\[([A-Za-z][^\[\]\n]{0,100}?)\](?![(\[:])")
_SLOT_TEXT = re.compile(r"[\w '’,./&-]+")


def _placeholders(prose: str, index: PaperIndex) -> Iterator[tuple[int, str]]:
    for match in _ANGLE_SLOT.finditer(prose):
        inner = match.group(1)
        if "=" in inner or "://" in inner or "@" in inner or "/" in inner:
            continue  # HTML with attributes, autolinks, e-mail addresses
        if " " not in inner and (inner.lower() in _HTML_TAGS or len(inner) < 2):
            continue
        yield match.start(), match.group(0)
    for match in _SQUARE_SLOT.finditer(prose):
        inner = match.group(1).strip()
        words = inner.split()
        if len(words) < 2 or not _SLOT_TEXT.fullmatch(inner) or re.search(r"\bet al\b|\b(?:19|20)\d\d\b", inner):
            continue  # citations, [MASK], [x], [ ; ], [Smith et al., 2020]
        if all(w.isupper() for w in words) or f" {normalise_words(match.group(0))} " in index.words:
            continue  # [CLS] [SEP]-style tokens, or bracketed text the paper prints itself
        yield match.start(), match.group(0)


_QUOTE = re.compile(r'"([^"]{2,1200}?)"|“([^“”]{2,1200}?)”|„([^„“”]{2,1200}?)[“”]|«\s?([^«»]{2,1200}?)\s?»')
# "...", "…", "[...]" and [editorial words]; not citation marks ([33]) or math ([.5, .95])
_ELLIPSIS = re.compile(r"\[\s*(?:\.\s?\.\s?\.|…)\s*\]|\.\s?\.\s?\.|…|\[[A-Za-z][^\]]*\]")


def _cut_parentheses(parts: list[str]) -> list[str]:
    """Where an ellipsis cuts into a parenthesis or bracket (a citation the paper's text drops whole), keep only
    what is outside it."""
    if len(parts) < 2:
        return parts
    out = []
    for i, part in enumerate(parts):
        if i > 0:
            part = re.sub(r"^[^()\[\]]*[)\]]", " ", part)
        if i < len(parts) - 1:
            part = re.sub(r"[(\[][^()\[\]]*$", " ", part)
        out.append(part)
    return out


def _quote_found(quote: str, index: PaperIndex) -> bool:
    fragments = [normalise_words(part) for part in _cut_parentheses(_ELLIPSIS.split(quote))]
    fragments = [f for f in fragments if len(f.split()) >= 3] or [normalise_words(quote)]
    return all(f" {fragment} " in index.words for fragment in fragments if fragment)


def _approximately_found(number: _Number, index: PaperIndex) -> bool:
    """"about 71%" is backed by 71.3: a paper value that rounds to the written one at its precision."""
    step = Decimal(1).scaleb(-number.precision)
    for value in number.values:
        target = abs(value)
        for candidate in index.values:
            if abs(candidate.quantize(step) - target) < step / 2 and candidate != target:
                return True
    return False


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip(" ,;:") + "…"


def _short_quote(quote: str, limit: int = 70) -> str:
    """A long quote shortened inside its own quotation marks."""
    return quote[0] + _short(quote[1:-1], limit - 2) + quote[-1]


def check_section(section_id: str, text: str, paper_index: PaperIndex) -> list[Finding]:
    """Findings in one section's text (lines are 1-based within `text`), in reading order. Only the first
    MAX_CHECKED characters are read: a server that ignores max_tokens can send megabytes."""
    if len(text) > MAX_CHECKED:
        log.warning("%s: only the first %d characters of %d are checked against the paper", section_id,
                    MAX_CHECKED, len(text))
        text = text[:MAX_CHECKED]
    skip = _SKIP.get(section_id, frozenset())
    findings: list[tuple[int, Finding]] = []
    line_of = _line_counter(text)

    def add(offset: int, kind: str, flagged: str, message: str) -> None:
        findings.append((offset, Finding(section_id, kind, flagged, line_of(offset), message)))

    prose = _blank_all(text, _OWN_LINE)
    prose = _blank_all(prose, _OWN_INLINE)
    prose = _blank_all(prose, _COMMENT)
    prose = _blank_all(prose, _FENCE)
    prose = _blank_all(prose, _INLINE_CODE)
    # math: every $$...$$, \[...\], $...$, \(...\) must parse; then it is not prose any more
    for pattern in (_DISPLAY_MATH, _INLINE_MATH):
        spans = []
        for match in pattern.finditer(prose):
            latex = next(g for g in match.groups() if g is not None)
            problem = latex_problem(latex)
            if problem and "math" not in skip:
                add(match.start(), "math", match.group(0), f"{_short(match.group(0))} does not parse: {problem}")
            spans.append(match.span())
        prose = _blank_spans(prose, spans)
    for match in _STRAY_DOLLAR.finditer(prose):
        if "math" not in skip:
            add(match.start(), "math", match.group(0), "a stray $: math that is never closed")
    prose = _blank_all(prose, _URL)
    if "placeholder" not in skip:
        for offset, slot in _placeholders(prose, paper_index):
            add(offset, "placeholder", slot, f"{slot} is a template slot, not filled in")
    # quotes: six words or more in quotation marks are the paper's words, or a finding
    quoted = []
    for match in _QUOTE.finditer(prose):
        quote = next(g for g in match.groups() if g is not None)
        if len(normalise_words(quote).split()) < QUOTE_MIN_WORDS or "\n\n" in quote:
            continue
        if "quote" not in skip and not _quote_found(quote, paper_index):
            add(match.start(), "quote", match.group(0),
                f"the quote {_short_quote(match.group(0))} is not in the paper's words")
        quoted.append(match.span())
    prose = _blank_spans(prose, quoted)  # a quote's numbers are the quote's business
    if "number" not in skip:
        for pattern in (_PART_REFERENCE, _LIST_NUMBER, _HEADING_NUMBER, _EQUATION_TAG, _CITATION, _LONG_ID):
            prose = _blank_all(prose, pattern)
        references = section_id in _READS_REFERENCES
        for number in _scan_numbers(prose.translate(_DASHES)):
            candidates = [_canonical(v) for v in number.values]
            if paper_index.has_number(candidates, references=references):
                continue
            if _APPROXIMATE.search(prose[max(0, number.start - 25):number.start]) and _approximately_found(
                    number, paper_index):
                continue
            add(number.start, "number", number.text, f'"{number.text}" does not appear in the paper')
    return [finding for _, finding in sorted(findings, key=lambda pair: pair[0])]


# -- the whole draft ---------------------------------------------------------------------------------------------


def checked_sections(parsed: Any) -> list[Any]:
    """The draft's blocks the check reads: what the model wrote and what the offline drafter extracted (the
    author's own sections and the metadata drafter fills in are not claims about the paper's text)."""
    return [block for block in parsed.blocks.values()
            if block.source == "llm" or (block.source == "extracted" and block.attrs.get("model"))]


def check_draft(parsed_draft: Any, paper: Paper) -> list[Finding]:
    """Findings in every checked section of a parsed draft, with lines counted in the whole draft file."""
    index = index_paper(paper)
    out: list[Finding] = []
    for block in checked_sections(parsed_draft):
        if not block.content.strip():
            continue
        offset = parsed_draft.text.find(block.content, block.start)
        base = parsed_draft.text.count("\n", 0, offset)
        out.extend(replace(f, line=f.line + base) for f in check_section(block.id, block.content, index))
    return sorted(out, key=lambda f: f.line)


# -- the callout -------------------------------------------------------------------------------------------------


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def callout(findings: list[Finding]) -> str:
    """The visible line drafter puts after a section: what to check, grouped by kind ("" when nothing)."""
    parts: list[str] = []
    numbers = [f'"{f.text}"' for f in findings if f.kind == "number"]
    if numbers:
        parts.append(f"{_join(list(dict.fromkeys(numbers)))} {'does' if len(numbers) == 1 else 'do'} not appear "
                     "in the paper")
    quotes = [f.text for f in findings if f.kind == "quote"]
    if quotes:
        parts.append(f"{'the quote' if len(quotes) == 1 else 'the quotes'} {_join([_short_quote(q) for q in quotes])} "
                     f"{'is' if len(quotes) == 1 else 'are'} not the paper's words")
    for finding in findings:
        if finding.kind == "math" and finding.text.strip("$"):
            reason = finding.message.rpartition(": ")[2]
            parts.append(f"`{_short(finding.text).replace('`', '')}` does not parse ({reason})")
    strays = sum(f.kind == "math" and not f.text.strip("$") for f in findings)
    if strays:
        parts.append("a stray `$` opens math that is never closed" if strays == 1 else
                     f"{strays} stray `$` open math that is never closed")
    slots = [f"`{f.text}`" for f in findings if f.kind == "placeholder"]
    if slots:
        parts.append(f"{_join(list(dict.fromkeys(slots)))} {'is a slot' if len(slots) == 1 else 'are slots'} "
                     "still to fill in")
    return f"{CALLOUT} {'; '.join(parts)}." if parts else ""


_TERMINAL_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """A line fit for a terminal: control characters (ESC starts sequences that retitle or rewrite the terminal)
    shown as \\x1b escapes."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def summary_line(finding: Finding) -> str:
    """The short form kept in SectionText.checks (its count goes into the section marker)."""
    return f"{finding.kind}: {_short(finding.text, 60)}"


def with_callout(section_id: str, text: str, paper_index: PaperIndex) -> tuple[str, list[Finding]]:
    """A freshly drafted section's text with the callout appended (unchanged when nothing was found)."""
    findings = check_section(section_id, text, paper_index)
    note = callout(findings)
    return (f"{text.rstrip()}\n\n{note}" if note else text), findings


__all__ = ["CALLOUT", "KINDS", "Finding", "PaperIndex", "callout", "check_draft", "check_section",
           "checked_sections", "index_paper", "latex_problem", "normalise_words", "printable", "summary_line",
           "with_callout"]
