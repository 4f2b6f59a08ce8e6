"""Markdown source -> where its math, code, links, comments and prose dollars are, as offsets into the source.

One CommonMark parser (markdown-it-py) with pandoc-style dollar math (mdit-py-plugins' dollarmath): `$x$` is math
only when no space follows the opening `$` or precedes the closing one and no digit follows the closing one, so
"$20,000" and "$5 and $10" stay prose; `$$...$$` on its own lines is a display block and inside a paragraph an
inline display formula; `\\(...\\)` and `\\[...\\]` are math too. Code spans and blocks are never looked into.

markdown-it gives inline tokens no source positions, so the inline rules that matter (math, code spans, links,
images, raw HTML) are wrapped to record where they matched in their paragraph, and the paragraph's text is mapped
back onto the source lines it came from. Exporters rewrite exactly those spans and leave every other byte alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.rules_inline import StateInline, backtick, html_inline, image, link
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar


@dataclass(frozen=True)
class Span:
    """A piece of the source: [start, end) offsets, what it is, its inner text (the formula, the code)."""

    # math | math_display | math_block | code | fence | link | image | reference | html_src | html | comment | dollar
    kind: str
    start: int
    end: int
    content: str = ""
    # for math: the delimiter it was written with ($, $$, \( or \[); for links: the destination as written
    markup: str = ""


@dataclass
class Scan:
    """Everything an exporter rewrites or must not touch, in source order per kind."""

    text: str
    math: list[Span] = field(default_factory=list)
    code: list[Span] = field(default_factory=list)  # code spans and fenced/indented code blocks
    # the destination of each inline link or image, of each reference definition (`[label]: dest`), and the
    # value of each raw HTML `<img src=...>` (kind "html_src": HTML-escaped, inside its quotes)
    links: list[Span] = field(default_factory=list)
    comments: list[Span] = field(default_factory=list)  # HTML comments (whole lines for block comments)
    dollars: list[Span] = field(default_factory=list)  # prose dollar signs
    html: list[Span] = field(default_factory=list)  # raw HTML that is not a comment (tags inline, whole blocks)
    blocks: list[tuple[Token, int, int]] = field(default_factory=list)  # top-level block tokens with offsets
    unmapped: list[int] = field(default_factory=list)  # lines whose inline spans could not be located

    def protected(self) -> list[tuple[int, int]]:
        """Offsets that hold code or math (never rewritten as prose)."""
        return sorted((s.start, s.end) for s in self.math + self.code)


def _positioned(rule: Callable[[StateInline, bool], bool], label_at: int | None = None
                ) -> Callable[[StateInline, bool], bool]:
    """The inline rule, recording on the token it pushes where it matched in the paragraph's text."""

    def wrapped(state: StateInline, silent: bool) -> bool:
        # pending prose is flushed into a text token by the first push: the rule's own token comes after it
        start, count = state.pos, len(state.tokens) + (1 if state.pending else 0)
        matched = rule(state, silent)
        if matched and not silent and len(state.tokens) > count:
            token = state.tokens[count]
            token.meta = {**(token.meta or {}), "span": (start, state.pos), "src": state.src}
            if label_at is not None:
                token.meta["dest"] = _destination(state, start, start + label_at)
        return matched

    return wrapped


def _destination(state: StateInline, start: int, label: int) -> tuple[int, int] | None:
    """Where an inline link's destination sits (None for reference links)."""
    keep = state.pos
    try:
        end = state.md.helpers.parseLinkLabel(state, label, True)
    finally:
        state.pos = keep
    pos = end + 1
    if end < 0 or pos >= len(state.src) or state.src[pos] != "(":
        return None
    pos += 1
    while pos < len(state.src) and state.src[pos] in " \t\n":
        pos += 1
    result = state.md.helpers.parseLinkDestination(state.src, pos, len(state.src))
    return (pos, result.pos) if result.ok else None


_PAREN_MATH = {"(": ")", "[": "]"}


def _paren_math(state: StateInline, silent: bool) -> bool:
    r"""`\(x\)` and `\[x\]`: LaTeX's own delimiters (before the escape rule, which would eat the backslash)."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= len(src) or src[pos + 1] not in _PAREN_MATH:
        return False
    if pos > 0 and src[pos - 1] == "\\":
        return False
    close = "\\" + _PAREN_MATH[src[pos + 1]]
    end = src.find(close, pos + 2)
    if end < 0 or not src[pos + 2:end].strip():
        return False
    if not silent:
        token = state.push("math_inline" if src[pos + 1] == "(" else "math_inline_double", "math", 0)
        token.content = src[pos + 2:end]
        token.markup = src[pos:pos + 2]
    state.pos = end + 2
    return True


def _prose_dollar(state: StateInline, silent: bool) -> bool:
    """A `$` that no math rule took: prose (a price), kept as its own token so it can be escaped."""
    if state.src[state.pos] != "$":
        return False
    if not silent:
        token = state.push("prose_dollar", "", 0)
        token.content = "$"
    state.pos += 1
    return True


def parser(html: bool = True) -> MarkdownIt:
    """CommonMark + tables + strikethrough + dollar math, with source positions on the inline spans; `html`:
    raw HTML is HTML (off: shown as text)."""
    md = MarkdownIt("commonmark", {"html": html}).enable(["table", "strikethrough"])
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, allow_blank_lines=False,
                      double_inline=True)
    md.inline.ruler.at("math_inline", _positioned(math_inline_dollar(False, False, True)))
    md.inline.ruler.before("math_inline", "math_paren", _positioned(_paren_math))
    md.inline.ruler.after("math_inline", "prose_dollar", _positioned(_prose_dollar))
    md.inline.ruler.at("backticks", _positioned(backtick))
    md.inline.ruler.at("link", _positioned(link, label_at=0))
    md.inline.ruler.at("image", _positioned(image, label_at=1))
    md.inline.ruler.at("html_inline", _positioned(html_inline))
    md.add_render_rule("prose_dollar", lambda *_: "$")
    return md


_MD = parser()


def line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _line_range(starts: list[int], text: str, token: Token) -> tuple[int, int]:
    first, last = token.map or (0, 0)
    return starts[first], (starts[last] if last < len(starts) else len(text))


def _content_offsets(token: Token, lines: list[str], starts: list[int]) -> list[tuple[int, int]] | None:
    """For each line of an inline token's text: (offset in the text, offset in the source), or None when its
    lines cannot be found in the source (the parser rewrote them, e.g. expanded tabs)."""
    if not token.map:
        return None
    out, at = [], 0
    parts = token.content.split("\n")
    for j, part in enumerate(parts):
        index = token.map[0] + j
        if index >= len(lines):
            return None
        source = lines[index]
        if j < len(parts) - 1 and source.endswith(part):
            column = len(source) - len(part)
        else:
            column = source.find(part) if part else len(source)
        if column < 0:
            return None
        out.append((at, starts[index] + column))
        at += len(part) + 1
    return out


def _to_source(offsets: list[tuple[int, int]], position: int) -> int:
    for text_at, source_at in reversed(offsets):
        if position >= text_at:
            return source_at + position - text_at
    return offsets[0][1]


_INLINE_KINDS = {"math_inline": "math", "math_inline_double": "math_display", "code_inline": "code",
                 "prose_dollar": "dollar"}


def _inline_spans(token: Token, offsets: list[tuple[int, int]]) -> Iterator[Span]:
    for child in token.children or []:
        meta = child.meta or {}
        if "span" not in meta or meta.get("src") != token.content:
            continue  # no position, or parsed from another text (an image's alt text)
        start, end = (_to_source(offsets, p) for p in meta["span"])
        if child.type in _INLINE_KINDS:
            yield Span(_INLINE_KINDS[child.type], start, end, child.content, child.markup or "")
        elif child.type == "html_inline" and child.content.startswith("<!--"):
            yield Span("comment", start, end, child.content)
        elif child.type == "html_inline":
            yield Span("html", start, end, child.content)
            for src in _image_sources(token.content[meta["span"][0]:meta["span"][1]], meta["span"][0]):
                yield Span("html_src", _to_source(offsets, src.start), _to_source(offsets, src.end), src.content)
        elif child.type in ("link_open", "image") and meta.get("dest"):
            d0, d1 = (_to_source(offsets, p) for p in meta["dest"])
            yield Span("image" if child.type == "image" else "link", d0, d1, str(child.attrs.get("src") or
                                                                                child.attrs.get("href") or ""))


_DEFINITION = re.compile(r"\[(?:\\.|[^\\\]])*\]:[ \t]*(?:\n[ \t>]*)?(<[^<>\n]*>|\S+)")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\ssrc[ \t\n]*=[ \t\n]*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)


def _definitions(text: str, starts: list[int], env: dict[str, Any]) -> Iterator[Span]:
    """Where the destination of each reference definition the parser took is written."""
    for label, ref in (env.get("references") or {}).items():
        first, last = ref.get("map") or (0, len(starts))
        piece_start = starts[min(first, len(starts) - 1)]
        piece_end = starts[last] - 1 if last < len(starts) else len(text)
        for match in _DEFINITION.finditer(text, piece_start, piece_end):
            if normalizeReference(match.group(0)[1:match.group(0).index("]:")]) == label:
                yield Span("reference", match.start(1), match.end(1), str(ref.get("href") or ""))
                break


def _image_sources(html: str, offset: int) -> Iterator[Span]:
    for match in _IMG_SRC.finditer(html):
        group = next(g for g in (1, 2, 3) if match.group(g) is not None)
        yield Span("html_src", offset + match.start(group), offset + match.end(group), match.group(group))


def scan(text: str) -> Scan:
    """Parse `text` (Markdown without front matter) and locate its spans."""
    result = Scan(text)
    env: dict[str, Any] = {}
    tokens = _MD.parse(text, env)
    lines = text.split("\n")
    starts = line_starts(text)
    depth = 0
    for token in tokens:
        if depth == 0 and token.map and token.nesting >= 0:
            result.blocks.append((token, *_line_range(starts, text, token)))
        depth += token.nesting
        if token.type in ("fence", "code_block"):
            result.code.append(Span(token.type, *_line_range(starts, text, token), token.content, token.markup))
        elif token.type == "math_block":
            result.math.append(Span("math_block", *_line_range(starts, text, token), token.content, "$$"))
        elif token.type == "html_block" and _only_comments(token.content):
            result.comments.append(Span("comment", *_line_range(starts, text, token), token.content))
        elif token.type == "html_block":
            block_start, block_end = _line_range(starts, text, token)
            result.html.append(Span("html", block_start, block_end, token.content))
            result.links += _image_sources(text[block_start:block_end], block_start)
        elif token.type == "inline":
            offsets = _content_offsets(token, lines, starts)
            if offsets is None:
                result.unmapped.append((token.map or [0])[0] + 1)
                continue
            for span in _inline_spans(token, offsets):
                {"comment": result.comments, "dollar": result.dollars, "code": result.code, "link": result.links,
                 "image": result.links, "html_src": result.links,
                 "html": result.html}.get(span.kind, result.math).append(span)
    result.links += _definitions(text, starts, env)
    for bucket in (result.math, result.code, result.links, result.comments, result.dollars, result.html):
        bucket.sort(key=lambda s: s.start)
    return result


def _only_comments(html: str) -> bool:
    return not re.sub(r"<!--.*?-->", "", html, flags=re.S).strip()


def render(text: str, env: dict[str, Any] | None = None) -> str:
    """HTML of `text` with the same parser (math tokens rendered by whatever rules the caller added)."""
    return _MD.render(text, env or {})


def apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, replacement) applied; edits must not overlap."""
    out, at = [], 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < at:
            raise ValueError(f"overlapping edits at offset {start}")
        out.append(text[at:start])
        out.append(replacement)
        at = end
    out.append(text[at:])
    return "".join(out)


def inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


__all__ = ["Scan", "Span", "apply", "inside", "line_starts", "parser", "render", "scan"]
