"""Paper + section texts -> Markdown draft with section markers; parse a draft back; replace one section.

Every section sits between two HTML comments:

    <!-- drafter:begin id=problem source=llm model=gpt-4o-mini tokens=812 hash=3f2a9c0d1b7e4a55 -->
    ...section text...
    <!-- drafter:end id=problem -->

`hash` is the hash of the text as drafter wrote it, so a later run can tell generated text from text the
author edited (and an author section's untouched to-do scaffold from one the author filled in).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup

from drafter import __version__
from drafter.config import public_url
from drafter.errors import DraftFormatError
from drafter.figures import ExportedFigure, overview_figure
from drafter.paper import Paper
from drafter.plan import BY_ID, SECTIONS

# One line, attributes checked apart (_attributes): the old `((?:[a-z_]+=\S+ ?)+) -->` backtracked exponentially
# on a damaged marker line such as "<!-- drafter:begin a=a=a=a=...".
_BEGIN = re.compile(r"<!-- drafter:begin ([^\n]*?) -->")
_END = "<!-- drafter:end id={id} -->"
_ATTR = re.compile(r"([a-z_]+)=(\S+)")
_ONE_ATTR = re.compile(r"[a-z_]+=\S+")


def content_hash(text: str) -> str:
    """The hash of a section's text, whatever its line ends (an editor may save the draft with CRLF)."""
    return hashlib.sha256(re.sub(r"\r\n?", "\n", text).strip("\n").encode("utf-8")).hexdigest()[:16]


@dataclass
class SectionText:
    """One section's text and where it came from."""

    id: str
    text: str
    source: str  # llm | extracted | author
    model: str = ""
    tokens: int = 0
    note: str | None = None  # e.g. what was cut from the context
    # Set when the model stopped at its output budget (finish_reason "length"): the budget it was cut at.
    cut_at: int | None = None
    # What the fact check flagged in this section (one short line each); recorded as a count in the marker.
    checks: list[str] = field(default_factory=list)

    def body(self) -> str:
        text = self.text.strip("\n")
        if self.note:
            text = f"{text}\n\n*drafter: {self.note}.*"
        return text


def _neutralise(text: str) -> str:
    """Model output must not be able to forge or break drafter markers."""
    return re.sub(r"<!--\s*drafter:", "<!-- (drafter):", text)


def wrap(section: SectionText) -> str:
    body = _neutralise(section.body())
    attrs = {"id": section.id, "source": section.source}
    if section.model:
        attrs["model"] = re.sub(r"\s+", "_", section.model)
    if section.tokens:
        attrs["tokens"] = str(section.tokens)
    if section.cut_at:
        attrs["cut"] = str(section.cut_at)
    if section.checks:
        attrs["checks"] = str(len(section.checks))
    attrs["hash"] = content_hash(body)
    head = " ".join(f"{k}={v}" for k, v in attrs.items())
    return f"<!-- drafter:begin {head} -->\n{body}\n{_END.format(id=section.id)}"


# -- extracted sections ------------------------------------------------------------------------------


def overview_text(paper: Paper) -> str:
    authors = ", ".join(paper.authors) if paper.authors else "[Author List]"
    published = ", ".join(x for x in [str(paper.year) if paper.year else "", paper.venue or ""] if x)
    arxiv = f" · [arXiv:{paper.arxiv_id}](https://arxiv.org/abs/{paper.arxiv_id})" if paper.arxiv_id else ""
    looked_up = paper.enrichment
    citations = (f"{looked_up.citation_count:,} (Semantic Scholar, {looked_up.as_of})"
                 if looked_up is not None and looked_up.citation_count is not None
                 else "[Number if known] <!-- look it up on Google Scholar or Semantic Scholar -->")
    return (f"**Title**: {paper.title}  \n**Authors**: {authors}  \n"
            f"**Published**: {published or '[Year, Venue]'}{arxiv}  \n"
            f"**Citations**: {citations}")


_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "huggingface.co", "paperswithcode.com", "codeberg.org")


def code_links(paper: Paper) -> list[str]:
    return [u for u in paper.urls if any(h in u.lower() for h in _CODE_HOSTS)]


_OWN_CODE = re.compile(
    r"\b(?:code|implementations?|source|project page|available|releas(?:e|ed|ing)|open[- ]sourced?)\b", re.I)
_NOT_OWN = re.compile(r"\b(?:data|datasets?|data set|benchmarks?|licen[cs]es?|third[- ]party|toolkits?|librar(?:y|ies)|"
                      r"baselines?|provided by|from the authors of)\b", re.I)


def own_code_links(paper: Paper) -> list[str]:
    """The code links that are the paper's own: repositories named after the paper's title or method, else
    links in the abstract or printed after words that say so ("code is available at", "we release"), not
    after a dataset, licence, library or someone else's tool; never a LICENSE file."""
    text = " ".join([paper.abstract, *(s.text for s in paper.sections), *paper.footnotes])
    head = re.sub(r"[^a-z0-9]+", "", f"{paper.title} {paper.abstract}".lower())
    named = [u for u in code_links(paper) if len(_repo_name(u)) >= 3 and _repo_name(u) in head]
    if named:  # the repository is named after the paper's title or method ("moco", "Megatron-LM")
        return named
    own = []
    for url in code_links(paper):
        bare = re.sub(r"^https?://", "", url)
        at = text.find(bare)
        context = text[max(0, at - 160):at] if at >= 0 else ""
        context = re.split(r"(?<=[.!?])\s+(?=[A-Z])", context)[-1]  # the sentence the link is in
        stated = _OWN_CODE.search(context) or bare in paper.abstract  # a link the abstract prints is its own
        if "license" in url.lower() or _NOT_OWN.search(context) or not stated:
            continue
        own.append(url)
    return own


def _repo_name(url: str) -> str:
    """The repository's name, letters and digits only ("github.com/NVIDIA/Megatron-LM" -> "megatronlm")."""
    parts = [p for p in re.sub(r"^[a-z]+://", "", url.lower()).split("/") if p]
    return re.sub(r"[^a-z0-9]+", "", parts[2]) if len(parts) >= 3 else ""


def link(url: str) -> str:
    """A URL as a Markdown autolink; one printed without a scheme ("github.com/x/y") gets https://, or it
    would show as literal text."""
    return f"<{url if re.match(r'^[a-z][a-z0-9+.-]*://', url, re.I) else 'https://' + url}>"


def reference_implementations_text(paper: Paper) -> str:
    own = own_code_links(paper)
    lines = [f"- Official implementation (linked in the paper): {link(u)}" for u in own]
    if not lines:
        lines = ["- [Official implementation if available] <!-- the paper prints no code link of its own -->"]
    lines += [f"- Code linked in the paper: {link(u)}" for u in code_links(paper) if u not in own]
    lines.append("- [Notable third-party implementations]")
    return "\n".join(lines)


def extracted_sections(paper: Paper) -> dict[str, SectionText]:
    return {
        "overview": SectionText("overview", overview_text(paper), "extracted"),
        "reference-implementations": SectionText("reference-implementations",
                                                 reference_implementations_text(paper), "extracted"),
    }


# -- front matter ------------------------------------------------------------------------------------


def tags_from(text: str) -> list[str]:
    return list(dict.fromkeys(t.lstrip("#") for t in re.findall(r"#[A-Za-z][\w\-]*", text)))


def front_matter(paper: Paper, model: str, tags: list[str], today: date | None = None,
                 base_url: str | None = None) -> str:
    """YAML front matter usable by Hugo and Jekyll; values are JSON scalars, which YAML reads as-is."""
    fields: dict[str, Any] = {
        "title": f"{paper.title}: Deep Dive and Implementation Guide",
        "paper_title": paper.title,
        "authors": paper.authors,
        "year": paper.year,
        "venue": paper.venue,
        "arxiv_id": paper.arxiv_id,
        "source": paper.source,
        "paper_sha256": paper.sha256,
        "model": model,
        # the endpoint (never the key) of a model draft, so `redo` uses the same one
        **({"base_url": public_url(base_url)} if public_url(base_url) else {}),
        "drafter_version": __version__,
        "tags": tags,
        "date": (today or date.today()).isoformat(),
        "draft": True,
    }
    # "<" as \u003c (the same string to JSON and YAML): a title from an untrusted PDF cannot forge a section marker.
    lines = [f"{k}: {_scalar(v)}" for k, v in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def front_matter_end(text: str) -> int:
    """Offset just past the front matter's closing `---` line (0 when the draft has none); LF or CRLF."""
    match = re.match(r"---\r?\n(?:.*?\n)??---\r?\n", text, re.S)
    return match.end() if match else 0


def read_front_matter(text: str) -> dict[str, Any]:
    """The front matter drafter wrote (tolerates hand edits: unparsable values come back as strings)."""
    text = text.replace("\r\n", "\n")  # a draft saved with CRLF line ends
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}
    out: dict[str, Any] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if not sep or line.startswith((" ", "-")):
            continue
        value = value.strip()
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value.strip("'\"")
    return out


# -- assembly ----------------------------------------------------------------------------------------


def _markdown_text(text: str) -> str:
    """Plain text that stays plain inside Markdown emphasis and link text."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", " ".join(text.split()))


def credit_line(paper: Paper, label: str) -> str:
    """'Figure 1 from "<title>", <authors> (<year>)': the credit a reused figure needs."""
    names = paper.authors if len(paper.authors) <= 3 else [f"{paper.authors[0]} et al."]
    authors = f", {', '.join(names)}" if names else ""
    year = f" ({paper.year})" if paper.year else ""
    link = f", [arXiv:{paper.arxiv_id}](https://arxiv.org/abs/{paper.arxiv_id})" if paper.arxiv_id else ""
    return f"{label} from \"{_markdown_text(paper.title)}\"{_markdown_text(authors)}{year}{link}"


def header_image_text(paper: Paper, images: list[ExportedFigure] | None) -> str:
    """The header-image author section pre-filled with the paper's overview figure ("" when none was exported)."""
    chosen = overview_figure(images or [])
    if chosen is None:
        return ""
    figure = chosen.figure
    caption = re.split(r"(?<=[a-z0-9)][.!?])\s", " ".join(figure.caption.split()), maxsplit=1)[0]
    lines = [f"> **✍️ TODO (author):** drafter suggests the paper's {figure.label} as the header image; keep it, "
             "or replace it with your own visual of the key concept. Keep the credit line with a reused figure "
             "and check the paper's licence allows it.",
             f"![{_markdown_text(figure.label)}: {_markdown_text(caption[:120])}](<{chosen.link}>)",
             f"*{_markdown_text(figure.label)}: {_markdown_text(caption)}*  ",
             f"*Credit: {credit_line(paper, figure.label)}*"]
    others = [im for im in images or [] if im is not chosen]
    if others:
        links = ", ".join(f"[{im.figure.label}](<{im.link}>)" for im in others)
        lines.insert(1, f"> The paper's other figures are exported next to this draft: {links}.")
    lines.insert(-3, "")
    return "\n".join(lines)


def assemble_draft(paper: Paper, sections: dict[str, SectionText], model: str, template: Any,
                   today: date | None = None, images: list[ExportedFigure] | None = None,
                   base_url: str | None = None) -> str:
    """Render the post template with every section wrapped in markers, behind YAML front matter.

    `images`: the paper's figures exported next to the draft; the overview figure becomes the header image.
    `base_url`: the endpoint a model draft was made with (recorded for `redo`).
    """
    texts = {**extracted_sections(paper), **sections}

    # Sections go in as placeholders, so that what else the template prints (the paper's title, authors...: text
    # from an untrusted PDF) can be neutralised without touching drafter's own markers.
    blocks: dict[str, str] = {}

    def placed(block: str) -> Markup:
        key = f"\x00{secrets.token_hex(8)}\x00"
        blocks[key] = block
        return Markup(key)

    def section(section_id: str) -> Markup:
        if section_id not in texts:
            raise DraftFormatError(f"post template asks for unknown section {section_id!r}",
                                   f"Known sections: {', '.join(BY_ID)}.")
        return placed(wrap(texts[section_id]))

    def author(section_id: str, caller: Any) -> Markup:
        return placed(wrap(SectionText(section_id, str(caller()), "author")))

    body = _neutralise(template.render(paper=paper, section=section, author=author,
                                       header_image=header_image_text(paper, images)).strip()) + "\n"
    body = re.sub("\x00[0-9a-f]{16}\x00", lambda m: blocks.get(m.group(0), ""), body)
    tags = tags_from(texts["tags"].text) if "tags" in texts else []
    return front_matter(paper, model, tags, today, base_url) + "\n" + body


# -- reading a draft back ----------------------------------------------------------------------------


@dataclass
class Block:
    id: str
    attrs: dict[str, str]
    start: int  # offset of the begin marker
    end: int  # offset just past the end marker
    content: str
    line: int

    @property
    def source(self) -> str:
        return self.attrs.get("source", "")

    @property
    def edited(self) -> bool:
        return content_hash(self.content) != self.attrs.get("hash")


@dataclass
class ParsedDraft:
    text: str
    front: dict[str, Any]
    blocks: dict[str, Block] = field(default_factory=dict)


def _begin_markers(text: str, start: int, end: int | None = None) -> Iterator[tuple[re.Match[str], dict[str, str]]]:
    """The section begin markers in text[start:end] and their attributes (`a=b` separated by single spaces)."""
    for match in _BEGIN.finditer(text, start, len(text) if end is None else end):
        parts = match.group(1).split(" ")
        if parts and parts[-1] == "":
            parts.pop()
        if parts and all(_ONE_ATTR.fullmatch(part) for part in parts):
            yield match, dict(_ATTR.findall(match.group(1)))


def parse_draft(text: str, name: str = "draft") -> ParsedDraft:
    """Find every marked section after the front matter; broken or duplicated markers are reported with their
    line."""
    parsed = ParsedDraft(text, read_front_matter(text))
    for match, attrs in _begin_markers(text, front_matter_end(text)):
        section_id = attrs.get("id", "")
        line = text.count("\n", 0, match.start()) + 1
        end_marker = _END.format(id=section_id)
        end = text.find(end_marker, match.end())
        if not section_id or end < 0:
            raise DraftFormatError(f"{name}:{line}: section {section_id!r} has no end marker ({end_marker})",
                                   "Restore the marker line, or take the section from .drafter-history/.")
        nested = next(_begin_markers(text, match.end(), end), None)
        if nested:
            raise DraftFormatError(f"{name}:{line}: section {section_id!r} is not closed before the next one",
                                   f"Restore the line {end_marker}.")
        if section_id in parsed.blocks:
            raise DraftFormatError(f"{name}:{line}: section {section_id!r} appears twice",
                                   "Delete one copy, markers included.")
        content = text[match.end():end].strip("\r\n")
        parsed.blocks[section_id] = Block(section_id, attrs, match.start(), end + len(end_marker), content, line)
    if not parsed.blocks:
        raise DraftFormatError(f"{name} holds no drafter section markers",
                               "Pass a draft written by `drafter new` (its sections carry <!-- drafter:... --> "
                               "comments).")
    return parsed


def replace_section(parsed: ParsedDraft, section: SectionText) -> str:
    """The draft with exactly one section's block replaced; every other byte stays the same."""
    block = parsed.blocks[section.id]
    new = wrap(section)
    if parsed.text.count("\r\n") * 2 > parsed.text.count("\n"):
        new = new.replace("\n", "\r\n")  # the draft was saved with CRLF line ends: the new section too
    text = parsed.text[: block.start] + new + parsed.text[block.end:]
    if section.id == "tags":
        # The front matter repeats the tags; keep it in step with the section.
        tags = json.dumps(tags_from(section.text), ensure_ascii=False)
        head = front_matter_end(text)  # the front matter's tags line, never a line of the body
        text = re.sub(r"^tags: [^\r\n]*", lambda _: f"tags: {tags}", text[:head], count=1, flags=re.M) + text[head:]
    return text


def _int_attr(block: Block | None, name: str) -> int | None:
    value = block.attrs.get(name) if block else None
    return int(value) if value and value.isdigit() else None


def section_states(parsed: ParsedDraft) -> list[dict[str, Any]]:
    """One row per planned section, in draft order: id, heading, state, words, model, tokens."""
    rows = []
    for spec in SECTIONS:
        block = parsed.blocks.get(spec.id)
        if block is None:
            state = "missing"
        elif block.source == "author":
            state = "written" if block.edited else "todo"
        else:
            state = "edited" if block.edited else "generated"
        words = len(re.sub(r"<!--.*?-->", " ", block.content, flags=re.S).split()) if block else 0
        rows.append({
            "id": spec.id, "heading": spec.heading, "state": state,
            "source": block.source if block else spec.source, "words": words,
            "model": block.attrs.get("model", "") if block else "",
            "tokens": int(block.attrs.get("tokens", 0) or 0) if block else 0,
            # cut: the output budget the answer was cut at (None: it finished); checks: fact-check findings
            "cut": _int_attr(block, "cut"),
            "checks": _int_attr(block, "checks") or 0,
            "line": block.line if block else None,
        })
    return rows
