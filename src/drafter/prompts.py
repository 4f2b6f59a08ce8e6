"""Paper + section id -> chat messages, rendered from the Jinja2 prompt files (user overrides first).

Every request has the same shape so providers' prompt caching hits: a system message, then the paper
context (byte-identical for every section of a paper that reads the same parts), then the section's
instruction last.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from drafter.errors import PromptError
from drafter.paper import PARTS, CitingPaper, Paper, Section
from drafter.plan import LLM_SECTIONS

CHARS_PER_TOKEN = 4
ALLOWED_VARIABLES = {"paper", "published", "parts", "hint", "earlier", "cited_by"}
_HEADER = re.compile(r"\A\s*\{#-?(.*?)-?#\}", re.S)


def estimate_tokens(text: str) -> int:
    """A provider-independent estimate: about four characters per token."""
    return -(-len(text) // CHARS_PER_TOKEN)


def packaged_prompts_dir() -> Path:
    """The prompts shipped in the wheel (drafter/prompts), or the repository's prompts/ in a source checkout."""
    packaged = Path(str(resources.files("drafter"))) / "prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class SectionPrompt:
    """What a section prompt file declares in its header comment."""

    id: str
    description: str
    reads: tuple[str, ...]
    max_tokens: int
    after: tuple[str, ...]
    path: str


@dataclass
class ContextPart:
    name: str
    text: str
    total: int
    kept: int

    @property
    def cut(self) -> bool:
        return self.kept < self.total


@dataclass
class Rendered:
    """The messages of one section request, and what was cut to fit the budget."""

    section_id: str
    messages: list[dict[str, str]]
    max_tokens: int
    cuts: list[ContextPart] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(estimate_tokens(m["content"]) for m in self.messages)

    def cut_note(self) -> str | None:
        if not self.cuts:
            return None
        parts = ", ".join(f"{c.name} {c.kept * 100 // max(c.total, 1)}%" for c in self.cuts)
        return f"context shortened to fit the budget (kept: {parts})"


class _OverrideLoader(jinja2.BaseLoader):
    """User directory first (a file may sit at its packaged path or at the top by its name), then packaged."""

    def __init__(self, user_dir: Path | None, packaged: Path) -> None:
        self.user_dir = user_dir
        self.packaged = packaged

    def locate(self, template: str) -> Path | None:
        candidates: list[Path] = []
        if self.user_dir is not None:
            candidates += [self.user_dir / template, self.user_dir / Path(template).name]
        candidates.append(self.packaged / template)
        return next((c for c in candidates if c.is_file()), None)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.locate(template)
        if path is None:
            raise jinja2.TemplateNotFound(template)
        source = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.stat().st_mtime == mtime


def _parse_header(source: str, path: str, section_id: str) -> SectionPrompt:
    match = _HEADER.match(source)
    if not match:
        raise PromptError(f"{path}:1: missing header comment ({{#- description: ... reads: ... max_tokens: N -#}})",
                          "Copy the header from the packaged prompt (`drafter sections` lists them).")
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    reads = tuple(p.strip() for p in fields.get("reads", "").split(",") if p.strip())
    unknown = [p for p in reads if p not in PARTS]
    if not reads or unknown:
        raise PromptError(f"{path}:1: 'reads' must list paper parts from: {', '.join(PARTS)}"
                          + (f" (unknown: {', '.join(unknown)})" if unknown else ""), "Fix the header.")
    try:
        max_tokens = int(fields.get("max_tokens", "600"))
    except ValueError as exc:
        raise PromptError(f"{path}:1: max_tokens must be a whole number", "Fix the header.") from exc
    after = tuple(p.strip() for p in fields.get("after", "").split(",") if p.strip())
    bad_after = [a for a in after if a not in LLM_SECTIONS or a == section_id]
    if bad_after:
        raise PromptError(f"{path}:1: 'after' names unknown section(s) {', '.join(bad_after)}",
                          f"Use ids from: {', '.join(LLM_SECTIONS)}.")
    return SectionPrompt(section_id, fields.get("description", ""), reads, max_tokens, after, path)


def _template_line(exc: BaseException, filename: str) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_SAMPLE = Paper(title="Sample", authors=["A. Author"], year=2020, abstract="Sample abstract.",
                sections=[Section("Introduction", 1, 1, "Text.")], references=["Ref."])

_SAMPLE_CITED_BY = [CitingPaper("A Later Paper", 2021, 42, "https://arxiv.org/abs/2101.00001")]


class PromptSet:
    """The prompt templates in effect (packaged, overridden by a user directory), validated on load."""

    def __init__(self, user_dir: Path | None = None) -> None:
        if user_dir is not None and not Path(user_dir).is_dir():
            raise PromptError(f"prompt directory {user_dir} does not exist",
                              "Pass a folder holding .md.j2 files to override (see `drafter sections`).")
        self.user_dir = Path(user_dir) if user_dir else None
        self.loader = _OverrideLoader(self.user_dir, packaged_prompts_dir())
        self.env = SandboxedEnvironment(loader=self.loader, undefined=jinja2.StrictUndefined,
                                        keep_trailing_newline=False, autoescape=False)
        self.env.filters["fence"] = fence  # paper metadata is data too: it must not close the <paper> fence
        self.sections: dict[str, SectionPrompt] = {}
        for section_id in LLM_SECTIONS:
            name = f"sections/{section_id}.md.j2"
            source, path, _ = self.loader.get_source(self.env, name)
            self.sections[section_id] = _parse_header(source, path, section_id)
        self.validate()

    def overridden(self) -> list[str]:
        """Names of the prompt files taken from the user directory."""
        if self.user_dir is None:
            return []
        names = ["system.md.j2", "context.md.j2", "sections/_hint.md.j2",
                 *(f"sections/{s}.md.j2" for s in LLM_SECTIONS)]
        return [n for n in names if str(self.loader.locate(n)).startswith(str(self.user_dir))]

    def validate(self) -> None:
        """Parse every template, reject unknown variables, and render each once on a sample paper."""
        for name in ["system.md.j2", "context.md.j2", *(f"sections/{s}.md.j2" for s in LLM_SECTIONS)]:
            path = self.loader.locate(name)
            if path is None:
                raise PromptError(f"prompt file {name} is missing", "Reinstall drafter.")
            source = path.read_text(encoding="utf-8")
            try:
                ast = self.env.parse(source, name, str(path))
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"{path}:{exc.lineno}: template syntax error: {exc.message}",
                                  "Fix the template.") from exc
            unknown = meta.find_undeclared_variables(ast) - ALLOWED_VARIABLES
            if unknown:
                line = next((i for i, text in enumerate(source.splitlines(), 1)
                             if any(re.search(rf"\b{re.escape(u)}\b", text) for u in unknown)), 1)
                raise PromptError(f"{path}:{line}: unknown template variable(s) {', '.join(sorted(unknown))}",
                                  f"Available: {', '.join(sorted(ALLOWED_VARIABLES))}.")
            try:
                self._render(name, paper=_SAMPLE, published="2020", parts=[], hint="hint", earlier={},
                             cited_by=_SAMPLE_CITED_BY)
            except jinja2.TemplateError as exc:
                failing_line = _template_line(exc, str(path))
                where = f"{path}:{failing_line}" if failing_line else str(path)
                raise PromptError(f"{where}: {type(exc).__name__}: {exc}", "Fix the template.") from exc

    def _render(self, name: str, **variables: Any) -> str:
        return self.env.get_template(name).render(**variables).strip()

    def render(self, paper: Paper, section_id: str, *, context_tokens: int, hint: str | None = None,
               earlier: dict[str, str] | None = None) -> Rendered:
        """The messages for one section, with the paper context cut to `context_tokens` when needed."""
        spec = self.sections[section_id]
        parts = build_context_parts(paper, spec.reads, context_tokens * CHARS_PER_TOKEN)
        variables = {"paper": paper, "published": published(paper), "parts": parts, "hint": hint or "",
                     "earlier": dict(earlier or {}),
                     # the most-cited papers citing this one, as Semantic Scholar lists them (empty if not looked up)
                     "cited_by": list(paper.enrichment.cited_by) if paper.enrichment else []}
        system = self._render("system.md.j2", **variables)
        context = self._render("context.md.j2", **variables)
        instruction = self._render(f"sections/{section_id}.md.j2", **variables)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": context},
            {"role": "user", "content": instruction},
        ]
        return Rendered(section_id, messages, spec.max_tokens, [p for p in parts if p.cut])


def published(paper: Paper) -> str:
    bits = [str(paper.year) if paper.year else "", paper.venue or ""]
    return ", ".join(b for b in bits if b) or "unknown"


def fence(text: str) -> str:
    """Neutralise anything in paper text that could close or open the <paper> fence."""
    return re.sub(r"<\s*(/?)\s*paper\s*>", r"<\1paper-text>", text, flags=re.I)


def _cut(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, at a sentence or line end where one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    stop = max(head.rfind(". "), head.rfind(".\n"), head.rfind("\n"))
    return head[: stop + 1] if stop > limit * 0.7 else head


def build_context_parts(paper: Paper, reads: tuple[str, ...], budget_chars: int) -> list[ContextPart]:
    """The paper parts a section reads, shared fairly within `budget_chars` (short parts are kept whole)."""
    texts = {name: fence(paper.part_text(name)) for name in reads}
    texts = {k: v for k, v in texts.items() if v.strip()}
    allowance: dict[str, int] = {}
    remaining, pending = budget_chars, sorted(texts, key=lambda k: len(texts[k]))
    while pending:
        share = remaining // len(pending)
        name = pending[0]
        if len(texts[name]) <= share:
            allowance[name] = len(texts[name])
            remaining -= len(texts[name])
            pending.pop(0)
        else:
            for other in pending:
                allowance[other] = share
            break
    parts = []
    for name in reads:
        if name in texts:
            kept = _cut(texts[name], allowance[name])
            parts.append(ContextPart(name, kept, len(texts[name]), len(kept)))
    return parts
