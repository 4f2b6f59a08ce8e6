"""A finished draft -> a post for Hugo, Jekyll, dev.to or any $-math Markdown site, with its figures beside it.

Each site reads math differently (what the exporter writes; the source draft uses $...$ and $$...$$):

    hugo    \\(x\\) inline, $$x$$ display (goldmark's passthrough extension hands both to MathJax/KaTeX)
    jekyll  $$x$$ everywhere (kramdown: inline inside a paragraph, display on its own); Liquid's {{ and {% inside
            code and math wrapped in {% raw %}
    devto   {% katex inline %}x{% endkatex %} and {% katex %}x{% endkatex %}; no $ math at all
    md      $x$ and $$x$$ as drafted (Quarto, Obsidian, MyST, Astro with remark-math, GitHub)

Every target loses drafter's markers, comments and notes (offline and fact-check callouts), keeps prose dollars as
text (escaped where the site would read them as math), copies every local image the post links (inline, through a
reference definition or a raw `<img src>`) and rewrites the link to the copy. Author TODOs (unwritten author
sections, "TODO (author)" callouts, template slots, missing images) stop the export unless the author allows them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from markdown_it.common.utils import unescapeAll

from drafter.assemble import ParsedDraft, parse_draft, section_states
from drafter.check import CALLOUT, PaperIndex, check_section, latex_problem
from drafter.errors import InputError
from drafter.files import atomic_write, slugify
from drafter.markup import Scan, Span, apply, inside, line_starts, render, scan

TARGETS = ("hugo", "jekyll", "md", "devto")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif"})
DEVTO_MAX_TAGS = 4

HUGO_NOTE = ("hugo: the site needs goldmark's passthrough extension for this math, in hugo.toml: "
             "[markup.goldmark.extensions.passthrough] enable = true, delimiters.block = [['$$', '$$']], "
             "delimiters.inline = [['\\(', '\\)']]; and a math partial (MathJax or KaTeX) loaded when the page "
             "sets `math: true`")
JEKYLL_NOTE = ("jekyll: kramdown reads $$...$$ as math; the post layout must load MathJax or KaTeX (many themes "
               "do when a post sets `math: true`)")


@dataclass
class Todo:
    """Something the author still has to do, where it is (1-based line in the draft) and in which section."""

    section: str
    line: int
    what: str


@dataclass
class Draft:
    """A draft read for publishing: its parsed sections, front matter and body (the text after the front matter)."""

    path: Path
    parsed: ParsedDraft
    body: str
    body_line: int  # the draft line the body starts on

    @property
    def front(self) -> dict[str, Any]:
        return self.parsed.front

    @property
    def slug(self) -> str:
        return slugify(self.path.stem.removesuffix(".draft"), "post")

    @property
    def title(self) -> str:
        title = self.front.get("title")
        if isinstance(title, str) and title.strip():
            return title.strip()
        heading = re.search(r"^# (.+)$", self.body, re.M)
        return heading.group(1).strip() if heading else self.path.stem

    @property
    def date(self) -> str:
        value = str(self.front.get("date") or "")
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            return date.today().isoformat()

    @property
    def tags(self) -> list[str]:
        tags = self.front.get("tags")
        return [str(t) for t in tags if str(t).strip()] if isinstance(tags, list) else []


def read_draft(path: Path) -> Draft:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not a UTF-8 text file", "Pass the draft's .md file.") from exc
    parsed = parse_draft(text, str(path))
    cut = 0
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        cut = end + len("\n---\n") if end >= 0 else 0
    return Draft(path, parsed, text[cut:], text.count("\n", 0, cut) + 1)


# -- what is left to do ----------------------------------------------------------------------------------------

_TODO_MARK = re.compile(r"TODO ?\(author\)|\*\((?:Offline mode|the model gave|The model gave)[^\n]*?\)\*")
_NO_PAPER = PaperIndex(" ", frozenset(), frozenset(), ())


def author_todos(draft: Draft) -> list[Todo]:
    """Unwritten author sections, TODO callouts and drafter's requests, and template slots, in draft order."""
    todos: list[Todo] = []
    unwritten = {row["id"] for row in section_states(draft.parsed) if row["state"] == "todo"}
    for block in draft.parsed.blocks.values():
        first = block.line + 1  # the content starts on the line after the begin marker
        content = re.sub(r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m.group(0)), block.content, flags=re.S)
        if block.id in unwritten:
            todos.append(Todo(block.id, block.line, "not written yet"))
            continue
        for match in _TODO_MARK.finditer(content):
            todos.append(Todo(block.id, first + content.count("\n", 0, match.start()), match.group(0)))
        for finding in check_section(block.id, content, _NO_PAPER):
            if finding.kind == "placeholder":
                todos.append(Todo(block.id, first + finding.line - 1, finding.text))
    return sorted(todos, key=lambda t: t.line)


def todo_line(draft: Draft, todos: list[Todo]) -> str:
    """'header-image (line 23), summary (line 41: [Number if known]), ...': each section once, first line."""
    seen: dict[str, Todo] = {}
    for todo in todos:
        seen.setdefault(todo.section, todo)
    return ", ".join(f"{t.section} (line {t.line})" for t in seen.values())


# -- drafter's own markup out -----------------------------------------------------------------------------------

_NOTE_PARAGRAPH = re.compile(r"^\*drafter: .*\*\s*$", re.S)
_OWN_QUOTES = ("> 📝 *Offline draft", CALLOUT)


def _whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a deleted block over the blank lines after it when it stood after a blank line (or at the top)."""
    if start == 0 or text[max(0, start - 2):start] == "\n\n":
        while end < len(text) and text[end] == "\n":
            end += 1
    return start, end


def strip_drafter(body: str, title: str) -> tuple[str, int]:
    """The body without drafter's comments, notes, offline and check callouts and the H1 repeating the title;
    and how many fact-check callouts it held."""
    found = scan(body)
    cuts: list[tuple[int, int]] = []
    checks = 0
    for token, start, end in found.blocks:
        block = body[start:end]
        if token.type == "blockquote_open" and block.lstrip().startswith(_OWN_QUOTES):
            checks += block.lstrip().startswith(CALLOUT)
            cuts.append(_whole_lines(body, start, end))
        elif (token.type == "paragraph_open" and _NOTE_PARAGRAPH.match(block.strip())) or (
                token.type == "heading_open" and token.tag == "h1"
                and " ".join(block.lstrip("# ").split()) == " ".join(title.split())):
            cuts.append(_whole_lines(body, start, end))
    for comment in found.comments:
        if inside(comment.start, cuts):
            continue
        start = comment.start
        if comment.content.endswith("\n") or comment.end >= len(body):
            cuts.append(_whole_lines(body, start, comment.end))
        else:
            while start > 0 and body[start - 1] in " \t":
                start -= 1
            cuts.append((start, comment.end))
    return _squeeze(apply(body, [(s, e, "") for s, e in cuts])), checks


def _squeeze(text: str) -> str:
    """Runs of blank lines left where drafter's lines went, made one blank line (never inside code or math)."""
    found = scan(text)
    keep = [(s.start, s.end) for s in found.code + found.math]
    edits = [(m.start(), m.end(), "\n\n") for m in re.finditer(r"\n(?:[ \t]*\n){2,}", text)
             if not inside(m.start(), keep) and not inside(m.end() - 1, keep)]
    return apply(text, edits)


# -- figures ----------------------------------------------------------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def link_target(raw: str, kind: str = "link") -> str:
    """A link destination as written -> the path it names (angle brackets, escapes and %-encoding undone; for a
    raw HTML `src`, its character references)."""
    if kind == "html_src":
        return unquote(html.unescape(raw.strip()))
    raw = raw.strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    return unquote(unescapeAll(raw))


def is_local(target: str) -> bool:
    return bool(target) and not _SCHEME.match(target) and not target.startswith(("#", "/", "//"))


@dataclass
class Figures:
    """The local files the post links, where each goes, and the links whose file is missing."""

    names: dict[Path, str] = field(default_factory=dict)  # source file -> name in the export
    missing: list[tuple[int, str]] = field(default_factory=list)  # (offset, link) whose file does not exist

    def name_for(self, path: Path) -> str:
        if path not in self.names:
            taken = set(self.names.values())
            name, n = path.name, 2
            while name in taken:
                name, n = f"{path.stem}-{n}{path.suffix}", n + 1
            self.names[path] = name
        return self.names[path]


def collect_figures(found: Scan, folder: Path) -> Figures:
    """Every local link of the post resolved against the draft's folder: copied when it is an image there."""
    figures = Figures()
    root = folder.resolve()
    for span in found.links:
        target = link_target(found.text[span.start:span.end], span.kind)
        if not is_local(target):
            continue
        path = (root / target).resolve()
        if not path.is_file():
            figures.missing.append((span.start, target))
            continue
        if root not in path.parents:
            raise InputError(f"the post links {target}, which is outside the draft's folder",
                             "Move the file next to the draft (exports copy only files from there).")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"the post links the local file {target}, which is not an image",
                             "Exports copy images only: link other files by their URL.")
        figures.name_for(path)
    return figures


def _destination(link: str) -> str:
    return f"<{link}>" if re.search(r"[\s()<>]", link) else link


# -- the targets ------------------------------------------------------------------------------------------------

_LIQUID = re.compile(r"\{\{|\{%")
_PREFIX = re.compile(r"^(?:[ \t]*(?:>|[-*+]|\d{1,9}[.)])(?=[ \t]|$)[ \t]?)*[ \t]*", re.M)


def _liquid_safe(text: str) -> str:
    """`text` wrapped so Liquid (Jekyll, dev.to) prints it as is."""
    if "endraw" in text:
        raise InputError("the post holds the text `{% endraw %}`, which Liquid cannot print inside {% raw %}",
                         "Rephrase it (e.g. as `{ % endraw % }`).")
    return f"{{% raw %}}{text}{{% endraw %}}"


def _continuation(text: str, offset: int) -> str:
    """The container prefix a new line at `offset` needs to stay in the same quote or list item."""
    line_start = text.rfind("\n", 0, offset) + 1
    prefix = _PREFIX.match(text, line_start, offset)
    raw = prefix.group(0) if prefix else ""
    return re.sub(r"[-*+]|\d{1,9}[.)]", lambda m: " " * len(m.group(0)), raw)


@dataclass
class Plan:
    """One export: the target, where the post and its figures go, how figure links read there."""

    target: str
    post: Path
    figure_dir: Path
    figure_link: Callable[[str], str]
    notes: list[str] = field(default_factory=list)


def plan(target: str, draft: Draft, out_dir: Path, image_base_url: str | None = None) -> Plan:
    slug, day = draft.slug, draft.date
    if target in ("hugo", "md"):
        bundle = out_dir / slug
        return Plan(target, bundle / "index.md", bundle, lambda name: name, [HUGO_NOTE] if target == "hugo" else [])
    if target == "jekyll":
        stem = f"{day}-{slug}"
        return Plan(target, out_dir / "_posts" / f"{stem}.md", out_dir / "assets" / "img" / stem,
                    lambda name: f"/assets/img/{stem}/{name}", [JEKYLL_NOTE])
    if target == "devto":
        folder = out_dir / f"{slug}-images"
        if image_base_url:
            base = image_base_url.rstrip("/")
            return Plan(target, out_dir / f"{slug}.md", folder, lambda name: f"{base}/{name}")
        return Plan(target, out_dir / f"{slug}.md", folder, lambda name: f"{slug}-images/{name}")
    raise InputError(f"unknown export target {target!r}", f"Choose one of: {', '.join(TARGETS)}.")


def _liquid_free_tex(tex: str) -> str:
    """TeX that Liquid leaves alone inside dev.to's katex tag: `{{` and `{%` open Liquid output and tags, and
    `{ {` and `{ %` are the same TeX (math mode ignores the space; `%` starts a comment either way)."""
    return re.sub(r"\{(?=[{%])", "{ ", tex)


def _inline_math(target: str, inner: str, display: bool) -> str:
    if target == "hugo":
        return f"$${inner}$$" if display else f"\\({inner}\\)"
    if target == "jekyll":
        return f"$${inner}$$"
    if target == "devto":
        inner = _liquid_free_tex(inner)
        return f"{{% katex %}}{inner}{{% endkatex %}}" if display else f"{{% katex inline %}}{inner}{{% endkatex %}}"
    return f"$${inner}$$" if display else f"${inner}$"


def _math_edits(target: str, text: str, span: Span, floor: int = 0) -> list[tuple[int, int, str]]:
    """The edits that rewrite one formula for `target`; none reaches back before `floor` (the previous edit's end)."""
    source = text[span.start:span.end]
    if span.kind == "math_block":
        opening = span.start + source.index("$$")
        closing = span.start + source.rindex("$$")
        edits: list[tuple[int, int, str]] = []
        if target == "devto":
            inner = _liquid_free_tex(text[opening + 2:closing])
            edits.append((opening, closing + 2, f"{{% katex %}}{inner}{{% endkatex %}}"))
        elif target == "jekyll" and _LIQUID.search(source):
            prefix = _continuation(text, opening)
            edits += [(span.start, span.start, f"{prefix}{{% raw %}}\n"),
                      (span.end, span.end, f"{prefix}{{% endraw %}}\n")]
        return edits
    display = span.kind == "math_display"
    opened = 2 if span.markup in ("$$", "\\(", "\\[") else 1
    inner = source[opened:len(source) - opened]
    new = _inline_math(target, inner, display)
    if target == "jekyll" and _LIQUID.search(new):
        new = _liquid_safe(new)
    start, end = span.start, span.end
    if target == "jekyll" and not display and _alone_at_paragraph_start(text, start, end):
        new = "\\" + new  # kramdown drops the backslash and reads the line as inline math, not a display block
    if target == "jekyll" and display:
        # kramdown reads $$ inside a paragraph as inline math: a display formula becomes its own paragraph
        prefix = _continuation(text, start)
        while start > floor and text[start - 1] in " \t":
            start -= 1
        while end < len(text) and text[end] in " \t":
            end += 1
        new = f"\n{prefix}\n{prefix}{new}\n{prefix}\n{prefix}"
    return [(start, end, new)]


def _alone_at_paragraph_start(text: str, start: int, end: int) -> bool:
    """The formula at [start, end) is the whole first line of a paragraph (in its quote or list item): there,
    kramdown reads `$$x$$` as a display block (its block math rule: a line of its own after a blank line)."""
    line_start = text.rfind("\n", 0, start) + 1
    prefix = _PREFIX.match(text, line_start, start)
    line_end = text.find("\n", end)
    if prefix is None or prefix.end() != start or text[end:len(text) if line_end < 0 else line_end].strip():
        return False
    if line_start == 0 or re.search(r"[-*+]|\d[.)]", prefix.group(0)):
        return True  # the text's or a list item's first line
    before = text[text.rfind("\n", 0, line_start - 1) + 1:line_start - 1]
    return not before.strip(" \t>")


def _code_edits(text: str, span: Span) -> list[tuple[int, int, str]]:
    """Liquid sites: code holding {{ or {% goes inside {% raw %} (fenced blocks on lines of their own)."""
    if not _LIQUID.search(span.content):
        return []
    if span.kind == "code":
        return [(span.start, span.end, _liquid_safe(text[span.start:span.end]))]
    if "endraw" in span.content:
        _liquid_safe(span.content)
    first_line = text[span.start:text.find("\n", span.start) if "\n" in text[span.start:] else len(text)]
    prefix = first_line[:len(first_line) - len(first_line.lstrip(" \t>"))]
    end = span.end
    closing = "" if text[end - 1:end] == "\n" else "\n"
    return [(span.start, span.start, f"{prefix}{{% raw %}}\n"), (end, end, f"{closing}{prefix}{{% endraw %}}\n")]


def convert(text: str, target: str, figure_link: Callable[[Path], str | None], folder: Path) -> str:
    """The cleaned body rewritten for `target`: math, prose dollars, Liquid, figure links."""
    found = scan(text)
    edits: list[tuple[int, int, str]] = []
    floor = 0
    for span in found.math:  # in source order: a formula's edits never reach into the one before it
        mine = _math_edits(target, text, span, floor)
        edits += mine
        floor = max([floor] + [end for _, end, _ in mine])
    liquid = target in ("jekyll", "devto")
    if liquid:
        for span in found.code:
            edits += _code_edits(text, span)
    if target != "devto":
        edits += [(s.start, s.end, "\\$") for s in found.dollars]
    root = folder.resolve()
    links = []
    for span in found.links:
        target_path = link_target(text[span.start:span.end], span.kind)
        if not is_local(target_path):
            continue
        new = figure_link((root / target_path).resolve())
        if new is not None:
            edits.append((span.start, span.end, html.escape(new) if span.kind == "html_src" else _destination(new)))
            links.append((span.start, span.end))
    if liquid:
        protected = found.protected() + links
        for match in _LIQUID.finditer(text):
            if not inside(match.start(), protected):
                edits.append((match.start(), match.end(), _liquid_safe(match.group(0))))
    if target == "hugo":
        edits += _shortcode_edits(text, [(s, e) for s, e, _ in edits])
    return apply(text, edits)


_SHORTCODE = re.compile(r"\{\{([<%])(.*?)([>%])\}\}")


def _shortcode_edits(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Hugo runs `{{< x >}}` and `{{% x %}}` as shortcodes even inside code; `{{</* x */>}}` prints them."""
    edits = []
    for match in _SHORTCODE.finditer(text):
        if any(s < match.end() and match.start() < max(e, s + 1) for s, e in taken):
            continue
        opening, inner, closing = match.groups()
        if inner.startswith("/*"):
            continue  # already escaped
        edits.append((match.start(), match.end(), f"{{{{{opening}/*{inner}*/{closing}}}}}"))
    return edits


# -- front matter -----------------------------------------------------------------------------------------------


def description(draft: Draft, body: str) -> str:
    """One or two sentences for the front matter: the summary's "Quick Summary", else its first paragraph."""
    block = draft.parsed.blocks.get("summary")
    source = strip_drafter(block.content, "")[0] if block else body
    quick = re.search(r"\*\*Quick Summary\*\*:\s*(.+)", source)
    paragraph = quick.group(1) if quick else next(
        (p for p in re.split(r"\n\s*\n", source) if p.strip() and not p.lstrip().startswith(("#", ">", "!", "|"))),
        "")
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", "", render(paragraph))).split())
    plain = re.sub(r"\\([%$&#_{}])", r"\1", plain)  # TeX's escapes inside the math it quotes
    if len(plain) <= 200:
        return plain
    cut = plain[:199].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def devto_tags(tags: list[str]) -> list[str]:
    """dev.to takes at most four tags, lower-case letters and digits only."""
    out: list[str] = []
    for tag in tags:
        clean = re.sub(r"[^a-z0-9]", "", tag.lower())
        if clean and clean not in out:
            out.append(clean)
    return out[:DEVTO_MAX_TAGS]


def front_matter(target: str, draft: Draft, body: str, unfinished: bool, canonical_url: str | None) -> str:
    fields: dict[str, Any]
    if target == "hugo":
        fields = {"title": draft.title, "date": draft.date, "draft": unfinished, "tags": draft.tags,
                  "description": description(draft, body), "math": True}
    elif target == "jekyll":
        fields = {"layout": "post", "title": draft.title, "date": draft.date, "tags": draft.tags}
        if unfinished:
            fields["published"] = False
    elif target == "devto":
        fields = {"title": draft.title, "published": False, "description": description(draft, body),
                  "tags": ", ".join(devto_tags(draft.tags))}
        if canonical_url:
            fields["canonical_url"] = canonical_url
    else:
        fields = {"title": draft.title, "date": draft.date, "tags": draft.tags,
                  "description": description(draft, body)}
    # JSON scalars and lists are valid YAML, so odd characters in a title need no YAML quoting rules
    return "---\n" + "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields.items()) + "---\n"


# -- the export -------------------------------------------------------------------------------------------------


@dataclass
class Exported:
    """What an export wrote and what the author should know (one line each, for stderr)."""

    post: Path
    figures: list[Path]
    notes: list[str]
    warnings: list[str]


def _formula_warnings(found: Scan, draft: Draft) -> list[str]:
    out = []
    for span in found.math:
        problem = latex_problem(span.content)
        if problem:
            shown = " ".join(span.content.split())
            out.append(f"the formula `{shown[:60]}` does not parse ({problem}): the site will show it as an error "
                       f"(`drafter preview {draft.path}` marks it)")
    return out


def export_draft(path: Path, target: str, out_dir: Path, *, allow_todo: bool = False, force: bool = False,
                 image_base_url: str | None = None, canonical_url: str | None = None,
                 canonical_base_url: str | None = None) -> Exported:
    """Export the draft at `path` for `target` into `out_dir`; refuses (InputError) while author TODOs remain
    unless `allow_todo`, and will not replace an earlier export unless `force`. devto's canonical_url:
    `canonical_url`, else the draft's front matter `canonical_url`, else `canonical_base_url`/<slug>/."""
    if target not in TARGETS:
        raise InputError(f"unknown export target {target!r}", f"Choose one of: {', '.join(TARGETS)}.")
    draft = read_draft(path)
    where = plan(target, draft, out_dir, image_base_url)
    body, checks = strip_drafter(draft.body, draft.title)
    found = scan(body)
    figures = collect_figures(found, path.parent)
    todos = author_todos(draft)
    todos += [Todo(f"missing image {name}", _draft_line(draft, body, at), name) for at, name in figures.missing]
    todos.sort(key=lambda t: t.line)
    if todos and not allow_todo:
        raise InputError(f"{path} still has author TODOs: {todo_line(draft, todos)}",
                         "Write or delete them (`drafter status` lists the sections), or pass --allow-todo to "
                         "export them as they are.")
    if where.post.exists() and not force:
        raise InputError(f"{where.post} already exists", "Pass --force to replace it, or -o another folder.")
    warnings = _formula_warnings(found, draft)
    if checks:
        warnings.append(f"{checks} fact-check callout{'s' if checks != 1 else ''} still open in the draft (left out "
                        f"of the export): `drafter check {path}` lists what to verify")
    if todos:
        warnings.append(f"exporting with author TODOs ({todo_line(draft, todos)}); the post is marked unpublished")
    if target == "hugo" and found.html:
        first = found.html[0]
        shown = " ".join(first.content.split())
        warnings.append(f"the post holds raw HTML ({len(found.html)} place{'s' if len(found.html) != 1 else ''}, "
                        f"first at line {_draft_line(draft, body, first.start)}: `{shown[:50]}`), which Hugo's "
                        "goldmark leaves out of the page unless hugo.toml sets [markup.goldmark.renderer] "
                        "unsafe = true")
    if found.unmapped:
        warnings.append(f"lines {', '.join(map(str, found.unmapped[:5]))} of the body could not be rewritten "
                        "(tabs inside a nested block?): check their math in the export")

    def link_for(source: Path) -> str | None:
        return where.figure_link(figures.names[source]) if source in figures.names else None

    text = convert(body, target, link_for, path.parent).lstrip("\n")
    unfinished = bool(todos)
    canonical = canonical_url or (str(draft.front["canonical_url"]) if draft.front.get("canonical_url") else None)
    if not canonical and canonical_base_url:
        canonical = f"{canonical_base_url.rstrip('/')}/{draft.slug}/"
    written = []
    for source, name in figures.names.items():
        destination = where.figure_dir / name
        atomic_write(destination, source.read_bytes())
        shutil.copymode(source, destination)
        written.append(destination)
    # the post last: it never links a figure that is not there yet
    atomic_write(where.post, front_matter(target, draft, body, unfinished, canonical) + "\n" + text)
    notes = list(where.notes)
    if target == "devto" and written:
        if image_base_url:
            notes.append(f"devto: the post links its {len(written)} images under {image_base_url}: upload the files "
                         f"of {where.figure_dir} there")
        else:
            notes.append(f"devto: upload these {len(written)} images in the dev.to editor and replace their links "
                         f"(or export again with --image-base-url): {', '.join(str(p) for p in written)}")
    return Exported(where.post, written, notes, warnings)


def _draft_line(draft: Draft, body: str, offset: int) -> int:
    """The draft line of an offset in the cleaned body (approximate: drafter's lines removed above it shift it);
    found by searching the text around it in the draft."""
    snippet = body[offset:offset + 40]
    at = draft.body.find(snippet) if snippet else -1
    if at < 0:
        at = 0
    starts = line_starts(draft.body)
    line = next((i for i, s in enumerate(starts) if s > at), len(starts)) - 1
    return draft.body_line + line


__all__ = ["TARGETS", "Draft", "Exported", "Todo", "author_todos", "convert", "export_draft", "read_draft",
           "strip_drafter"]
