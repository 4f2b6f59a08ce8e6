"""Model answer -> section text: drop what models add around the content, hold the text to the template's outline.

Models wrap their answers: a chain of thought (`<think>...</think>`, left open when the answer was cut off), a
chatty opener ("Sure! Here's the section for your post:") or closer ("I hope this helps!"), a ```markdown fence,
the section's heading repeated (as a Markdown heading, or a plain or bold first line, as small models do).
Everything here removes only such wrappers: fenced code, LaTeX, lists and the template's sub-headings stay
byte-for-byte as the model wrote them (active raw HTML, a `<script>` or an `onerror=`, is written as text). Two
repairs go further, both for what small models copy or get wrong: a word the paper's line end split ("mem- ory",
"Quantised- Variational") is joined again, and the difficulty's stars are drawn from its number.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from drafter.plan import BY_ID

# Lone surrogates (a `\udXXX` escape for half an emoji) cannot be written as UTF-8; NUL and the other C0 controls
# but tab, newline and carriage return, and the C1 controls, are never text (ESC would reach a terminal that
# shows the draft).
_UNWRITABLE = re.compile(r"[\ud800-\udfff]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C1 too: \x9b is a CSI


def valid_text(text: str) -> str:
    """Text fit to cache and write: lone surrogates become U+FFFD, control characters go."""
    return _CONTROLS.sub("", _UNWRITABLE.sub("\ufffd", text))


# -- the whole clean-up, in order -------------------------------------------------------------------


def clean_model_text(section_id: str, text: str, vocabulary: frozenset[str] | set[str] = frozenset()) -> str:
    """Strip what models add (thinking, chatter, a fence around the answer, a repeated heading), join words a
    line end split (`vocabulary`: the paper's words, lower case, see `paper_vocabulary`) and enforce the
    section's sub-headings."""
    text = re.sub(r"\r\n?", "\n", text)  # CR line ends: the draft's section hash is taken over LF text
    text = strip_chatter(unwrap_fence(strip_chatter(strip_thinking(text))))
    text = _drop_echoed_heading(text, BY_ID[section_id].heading)
    text = _outside_code(text, lambda prose: join_split_words(prose, vocabulary))
    spec = BY_ID[section_id]
    if section_id == "innovations":
        text = _enforce_innovations(text)
    elif section_id == "tags":
        text = _enforce_tags(text)
    elif section_id == "difficulty":
        text = _enforce_difficulty(text)
    elif spec.subheadings:
        text = _enforce_subheadings(text, spec.subheadings, section_id)
    return _outside_code(text, lambda prose: defuse_html(_demote_headings(prose, section_id)))


# -- raw HTML that would run or take over the page ---------------------------------------------------------

# An answer is Markdown, but raw HTML in it reaches the page: Jekyll's kramdown passes it through, and so would a
# preview. Elements that run code, load other pages or take input, and any tag carrying an event handler or a
# script URL, are written as text (`&lt;script>`): the reader sees what the model wrote and nothing runs. Other
# tags (<sub>, <br>, <img src=...>) stay, and so does everything inside code.
_ACTIVE = frozenset({"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
                     "input", "button", "textarea", "select", "link", "meta", "base", "template", "noscript"})
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?=[\s/>])([^<>]*)>?")
_SCRIPTED = re.compile(r"\bon[a-z]+\s*=|(?:java|vb)script\s*:|data\s*:\s*text/html", re.I)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)


def defuse_html(prose: str) -> str:
    """`prose` (no fenced code) with every active HTML tag outside code spans turned into text."""

    def tag(match: re.Match[str]) -> str:
        active = match.group(2).lower() in _ACTIVE or _SCRIPTED.search(match.group(3))
        return "&lt;" + match.group(0)[1:] if active else match.group(0)

    out, at = [], 0
    for span in _CODE_SPAN.finditer(prose):
        out += [_TAG.sub(tag, prose[at:span.start()]), span.group(0)]
        at = span.end()
    return "".join([*out, _TAG.sub(tag, prose[at:])])


# -- the section's own heading, echoed ---------------------------------------------------------------------


def _words(line: str) -> str:
    """A line as its words: no Markdown marks, emoji or punctuation, lower case."""
    return " ".join(re.sub(r"[^\w\s]|_", " ", line.lower()).split())


def _drop_echoed_heading(text: str, heading: str) -> str:
    """Drop a first line that repeats the section's heading: `## 🎯 Why This Paper Matters`, or as plain or bold
    text ("Why This Paper Matters", "**Why This Paper Matters:**"), as small models echo it."""
    words = _words(heading)
    for _ in range(2):  # a heading line and then the heading again as bold text
        first, _, rest = text.partition("\n")
        line = _words(first)
        echoed = line == words or (first.lstrip().startswith("#") and words and words in line)
        if not words or not echoed:
            break
        text = strip_chatter(rest)
    return text


# -- words a line end split -----------------------------------------------------------------------------

# "mem- ory", "Quantised- Variational": a word and its hyphen, a space, the rest. Not "short- and long-range" (a
# suspended hyphen before a conjunction), not inside code or LaTeX.
_SPLIT = re.compile(r"(?<![\w-])([A-Za-z]{2,})- (?!(?:and|or|to|as|vs|versus|nor|but|then|not|than)\b)"
                    r"([A-Za-z][a-z]+)\b")
_MATH = re.compile(r"(\$\$.*?\$\$|\$[^$\n]*\$|`[^`\n]*`)", re.S)


def paper_vocabulary(text: str) -> frozenset[str]:
    """The words of a paper's text, lower case, hyphenated compounds whole ("long-range"), for join_split_words."""
    return frozenset(w.lower() for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", text))


def join_split_words(text: str, vocabulary: frozenset[str] | set[str] = frozenset()) -> str:
    """Join words a line end split and the model copied: "mem- ory" -> "memory", "Quantised- Variational" ->
    "Quantised-Variational". The paper's own words decide when they know the word (joined, or a hyphenated
    compound); otherwise a capital after the hyphen (or an acronym before it) keeps the hyphen, and a lower-case
    continuation is the rest of the word."""

    def join(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        if (head + tail).lower() in vocabulary:
            return head + tail
        if f"{head}-{tail}".lower() in vocabulary or tail[0].isupper() or head.isupper():
            return f"{head}-{tail}"
        return head + tail

    parts = _MATH.split(text)
    return "".join(part if i % 2 else _SPLIT.sub(join, part) for i, part in enumerate(parts))


# -- code fences -------------------------------------------------------------------------------------

# A fenced block runs from a line starting with ``` to the next such line, or to the end of an answer that
# was cut off inside the block.
_CODE_BLOCK = re.compile(r"(^```.*?(?:^```[^\n]*$|\Z))", re.M | re.S)


def _outside_code(text: str, rewrite: Callable[[str], str]) -> str:
    """Apply `rewrite` to the prose only: fenced code blocks pass through untouched."""
    parts = _CODE_BLOCK.split(text)
    return "".join(part if part.startswith("```") else rewrite(part) for part in parts)


def _in_code(text: str, position: int) -> bool:
    """Whether `position` lies inside a fenced code block (an odd number of fence lines before it)."""
    return len(re.findall(r"^```", text[:position], re.M)) % 2 == 1


_WRAPPER = re.compile(r"\A```[ \t]*(markdown|md)?[ \t]*\n", re.I)


def unwrap_fence(text: str) -> str:
    """Remove a ```markdown (or bare ```) fence wrapped around the whole answer; fenced code inside it stays.

    Inside the wrapper, a fence line with a language (```python) opens a nested block and a bare ``` closes
    the innermost one; the wrapper goes only if its closing fence ends the answer (or the answer was cut off
    before it, for an explicit ```markdown wrapper).
    """
    text = text.strip()
    opened = _WRAPPER.match(text)
    if not opened:
        return text
    lines = text[opened.end():].split("\n")
    depth = 1
    for index, line in enumerate(lines):
        if not line.startswith("```"):
            continue
        depth += 1 if line[3:].strip() else -1
        if depth == 0:
            if any(rest.strip() for rest in lines[index + 1:]):
                return text  # the fence closes before the end: not a wrapper around the whole answer
            return "\n".join(lines[:index]).strip()
    return "\n".join(lines).strip() if opened.group(1) else text


# -- chains of thought -------------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"^[ \t]*<(think|thinking)>", re.I | re.M)
_ANY_THINK_OPEN = re.compile(r"<(think|thinking)>", re.I)
_THINK_CLOSE = re.compile(r"</(think|thinking)>\s*", re.I)
# gpt-oss through a server that does not parse its "harmony" channels: analysis first, then the final answer.
_HARMONY_FINAL = re.compile(r"<\|channel\|>\s*final\s*<\|message\|>", re.I)


def strip_thinking(text: str) -> str:
    """Remove chains of thought: `<think>`/`<thinking>` blocks (closed, or left open where the answer was cut
    off), reasoning before an orphan `</think>` (servers that put the opening tag in the prompt), and gpt-oss
    analysis channels. Tags inside fenced code or mid-line (prose about the tags) are content and stay."""
    finals = list(_HARMONY_FINAL.finditer(text))
    if finals:
        final = finals[-1]
        text = re.sub(r"<\|(?:end|return)\|>\s*\Z", "", text[final.end():])
    elif "<|channel|>" in text:
        return ""  # only the analysis channel arrived: the answer was cut off while thinking
    while True:
        before = text
        opening = next((m for m in _THINK_OPEN.finditer(text) if not _in_code(text, m.start())), None)
        if opening is not None:  # a block, closed or left open at the cut
            close = _THINK_CLOSE.search(text, opening.end())
            text = text[: opening.start()] + (text[close.end():] if close else "")
        close = next((m for m in _THINK_CLOSE.finditer(text) if not _in_code(text, m.start())), None)
        if close is not None and not _ANY_THINK_OPEN.search(text, 0, close.start()):
            text = text[close.end():]  # reasoning before an orphan closing tag
        if text == before:
            return text


# -- chatter around the answer -----------------------------------------------------------------------

_INTERJECTION = r"(?:sure|certainly|of course|absolutely|okay|ok|alright|great|no problem|got it)"
# "Sure!", "Certainly." alone on the first line
_BARE_OPENER = re.compile(rf"^{_INTERJECTION}[!.,]*$", re.I)
# "Sure! Here's the opening section for your post:", "Here is the section:", "Below is a draft of ..."
_OPENER = re.compile(rf"^(?:{_INTERJECTION}[!.,]*\s+)?(?:here(?:'s|’s| is| are)|below (?:is|are)|"
                     r"i(?:'ve|’ve| have) (?:written|drafted|rewritten|revised))\b.{0,160}$", re.I)
_OPENER_WORDS = re.compile(r"\b(?:sections?|draft(?:ed)?|post|blog|version|paragraphs?|markdown|requested|"
                           r"rewritten|revised|rewrite)\b", re.I)
# "I hope this helps!", "Let me know if you'd like changes.", "Feel free to adjust ...", "Would you like me to ..."
_CLOSER = re.compile(
    r"^(?:i hope (?:this|that|it)|hope (?:this|that|it) helps|let me know if (?:you(?:'d|’d| would)? (?:like|want|"
    r"need)|there(?:'s|’s| is) anything|you have any (?:questions|feedback)|i should|any (?:changes|adjustments|"
    r"edits))|(?:please )?feel free to (?:adjust|modify|tweak|edit|change|expand|let me know)|"
    r"would you like me to|do you want me to|if you(?:'d|’d| would) like me to|if you want me to|"
    r"happy (?:writing|blogging))", re.I)
# The same closers glued to the end of the last line: "... the last sentence. I hope this helps!"
_TRAILING_CLOSER = re.compile(r"(?<=[.!?*)])[ \t]+(?:i hope this helps|hope this helps|let me know if you(?:'d|’d| "
                              r"would) like)[^\n]{0,120}\Z", re.I)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")


def _plain(line: str) -> str:
    """A line without its Markdown emphasis or heading marks, for matching chatter written in bold, italics or as a
    heading ("### Sure!", which heading demotion would otherwise turn into bold chatter a second pass drops)."""
    return re.sub(r"^#{1,6}\s+", "", line.strip()).strip("*_").strip()


def _is_opener(paragraph: str) -> bool:
    if "\n" in paragraph.strip() or len(paragraph) > 220:
        return False
    line = _plain(paragraph)
    return bool(_BARE_OPENER.match(line) or (_OPENER.match(line) and _OPENER_WORDS.search(line)))


def _is_closer(paragraph: str) -> bool:
    return len(paragraph) <= 400 and not paragraph.lstrip().startswith(("```", "#", "|", "$")) and bool(
        _CLOSER.match(_plain(paragraph)))


def strip_chatter(text: str) -> str:
    """Drop chatty openers and closers a model writes around its answer; the answer itself stays as written."""
    text = text.strip()
    while True:
        first, sep, rest = text.partition("\n\n")
        if not _is_opener(first):
            head, newline, tail = text.partition("\n")
            # An opener directly followed by the answer on the next line (no blank line between them).
            if newline and _is_opener(head) and head.rstrip().endswith(":"):
                text = tail.strip()
                continue
            break
        text = rest.strip() if sep else ""
    while text:
        cut = text.rfind("\n\n")
        last = text[cut + 2:] if cut >= 0 else text
        if _in_code(text, max(cut, 0) + 1) or not (_is_closer(last) or _RULE.match(last)):
            break
        text = text[:cut].rstrip() if cut >= 0 else ""
    if text and not _in_code(text, len(text)):
        head, newline, last = text.rpartition("\n")
        trimmed = _TRAILING_CLOSER.sub("", last)
        if trimmed.strip() and not last.lstrip().startswith(("```", "    ", "\t")):
            text = head + newline + trimmed
    return text


# -- the template's outline --------------------------------------------------------------------------


def _demote_headings(text: str, section_id: str) -> str:
    """Headings the template does not have become bold lines, so the draft keeps the template's outline."""
    allowed = {f"### {name}" for name in BY_ID[section_id].subheadings}

    def demote(match: re.Match[str]) -> str:
        line = match.group(0)
        if section_id == "innovations" and line.startswith("### Core Innovation #"):
            return line
        if line in allowed:
            return line
        name = match.group(1).strip(" *:")
        return f"**{name}**" if name else ""  # a heading with no words ("### :") is dropped, not made "****"

    return re.sub(r"^#{1,6}[ \t]+(.+?)[ \t]*$", demote, text, flags=re.M)


_HASHTAG = re.compile(r"(?<![\w#&])#([A-Za-z][A-Za-z0-9_]{1,40})\b")


def _enforce_tags(text: str) -> str:
    """One line of hashtags (the front matter repeats them); anything else the model wrote is dropped."""
    tags = list(dict.fromkeys(_HASHTAG.findall(text)))[:12]
    if not tags:
        return "**Tags**: #MachineLearning #Research *(the model gave no tags: run `drafter redo DRAFT.md tags`)*"
    return "**Tags**: " + " ".join(f"#{t}" for t in tags)


_RATING = re.compile(r"\b([1-5])\s*(?:/|out of)\s*5\b")


def _enforce_difficulty(text: str) -> str:
    """`**Difficulty**: ⭐⭐⭐ (3/5) - reason`, whatever form the model gave the rating in. The number decides
    (a small model's "⭐⭐ (3/5)" becomes three stars); only a rating given as stars alone counts the stars."""
    rating = _RATING.search(text) or re.search(r"\(([1-5])\)", text)
    stars = int(rating.group(1)) if rating else text.count("⭐")
    if not 1 <= stars <= 5:
        return f"**Difficulty**: ⭐⭐⭐ (3/5) - *(the model gave no usable rating; verify)* {text.strip()[:200]}"
    lines = [line for line in text.strip().splitlines() if line.strip()] or [""]
    at = next((i for i, line in enumerate(lines) if _RATING.search(line) or "⭐" in line), 0)
    reason = re.sub(r"^.*?(?:\(\s*[1-5]\s*/\s*5\s*\)|[1-5]\s*(?:/|out of)\s*5)\s*(?:stars?\b)?\s*[-–—:,.]?\s*",
                    "", lines[at], count=1)
    reason = _reason(reason)
    for line in lines[at + 1:]:  # the reason on the lines after the rating
        if reason:
            break
        reason = _reason(line)
    return f"**Difficulty**: {'⭐' * stars} ({stars}/5) - {reason or 'see the paper'}"


def _reason(line: str) -> str:
    line = re.sub(r"^\W*(?:difficulty|rating|reason)\W*:\s*", "", line.replace("⭐", ""), flags=re.I)
    return line.strip(" *-–—#")


def _missing(section_id: str) -> str:
    return f"*(The model gave no text for this part: run `drafter redo DRAFT.md {section_id}`.)*"


def _enforce_subheadings(text: str, names: tuple[str, ...], section_id: str) -> str:
    """Normalise `### Name` sub-headings (any level, emoji or bold) and add any the model left out."""
    for name in names:
        pattern = re.compile(rf"^[ \t]*(?:#+[ \t]*|\*\*)[^\w\n]*?{re.escape(name)}[^\w\n]*?(?:\*\*)?:?[ \t]*$",
                             re.I | re.M)
        done = [False]

        def once(prose: str, pattern: re.Pattern[str] = pattern, name: str = name, done: list[bool] = done) -> str:
            if done[0]:
                return prose
            prose, count = pattern.subn(f"### {name}", prose, count=1)
            done[0] = count > 0
            return prose

        text = _outside_code(text, once)
    prose = "".join(_CODE_BLOCK.split(text)[::2])
    present = [n for n in names if re.search(rf"^### {re.escape(n)}$", prose, re.M)]
    if len(present) == len(names):
        return text
    if not present:
        return f"### {names[0]}\n{text}\n\n" + "\n\n".join(f"### {n}\n{_missing(section_id)}" for n in names[1:])
    return text + "".join(f"\n\n### {n}\n{_missing(section_id)}" for n in names if n not in present)


# "### Core Innovation #1: Name", "## Innovation 1 - Name", "**Core innovation #2: Name**", ...
_INNOVATION = re.compile(r"^[ \t]*(?:#+[ \t]*(?:\*\*)?|\*\*)[ \t]*(?:core[ \t]+)?innovation[ \t]*#?[ \t]*(\d)"
                         r"[ \t]*[:.\-–—]?[ \t]*(.*?)(?:\*\*)?[ \t]*$", re.I | re.M)
_GLUED = re.compile(r"(?<=[^\s#])[ \t]*(#{2,4}\s*(?:\*\*)?\s*(?:core\s+)?innovation\s*#?\s*\d)", re.I)


def _enforce_innovations(text: str) -> str:
    # A heading glued to the end of a line ("...text.### Core Innovation #2: ...") starts its own line.
    text = _outside_code(text, lambda prose: _GLUED.sub(r"\n\n\1", prose))

    def fix(match: re.Match[str]) -> str:
        placeholder = "[Main Technical Contribution]" if match.group(1) == "1" else "[Second Key Contribution]"
        name = match.group(2).strip() or placeholder
        rest = ""
        if len(name) > 90:  # a paragraph written on the heading line: a short name, the rest as body
            cut = re.search(r"[.:;]\s", name)
            head = name[: cut.start()] if cut and cut.start() <= 90 else " ".join(name.split()[:8])
            name, rest = head.strip(), name[len(head):].lstrip(" .:;")
        return f"### Core Innovation #{match.group(1)}: {name}" + (f"\n{rest}" if rest else "")

    text = _outside_code(text, lambda prose: _INNOVATION.sub(fix, prose))
    prose = "".join(_CODE_BLOCK.split(text)[::2])
    if not re.search(r"^### Core Innovation #1: ", prose, re.M):
        text = f"### Core Innovation #1: [Main Technical Contribution]\n{text}"
    if not re.search(r"^### Core Innovation #2: ", prose, re.M):
        text += f"\n\n### Core Innovation #2: [Second Key Contribution]\n{_missing('innovations')}"
    return text
