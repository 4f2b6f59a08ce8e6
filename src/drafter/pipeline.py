"""Source -> Draft: extract the paper, draft every section concurrently, assemble; and redo one section.

Callable from Python without the CLI:

    settings = load_settings({"offline": True})
    draft = asyncio.run(draft_paper(load_source("paper.pdf", settings), settings))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from drafter.assemble import SectionText, assemble_draft, parse_draft, replace_section
from drafter.check import index_paper, summary_line, with_callout
from drafter.cleanup import clean_model_text, paper_vocabulary
from drafter.config import Settings
from drafter.enrich import ENRICHED_SECTIONS, annotate_section, enrich_paper
from drafter.errors import InputError
from drafter.figures import FigureExport, export_figures
from drafter.llm import Backend, ContextTooLong, Events, Reply, Request, make_backend
from drafter.paper import Paper
from drafter.plan import BY_ID, LLM_SECTIONS
from drafter.prompts import PromptSet, Rendered
from drafter.sources import load_source, parse_source

MIN_BODY_CHARS = 400


@dataclass
class Stats:
    sections: int = 0
    requests: int = 0  # calls that reached the model (cache hits excluded)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    retries: int = 0
    per_section: dict[str, dict[str, int]] = field(default_factory=dict)
    cuts: dict[str, str] = field(default_factory=dict)
    checks: int = 0  # fact-check findings across the drafted sections (each section's callout lists its own)
    cut_off: dict[str, int] = field(default_factory=dict)  # answers that stopped at their token limit: the limit
    reasoning_tokens: int = 0  # hidden reasoning the endpoint reported (part of completion_tokens)
    # Some prompt_tokens are drafter's estimate: the server reported no usage (llama-cpp-python's streams do not).
    prompt_estimated: bool = False
    # Sections whose prompt the server read only part of (its count, drafter's estimate): it cut the prompt to its
    # context window without a word (Ollama does, for a prompt longer than its num_ctx).
    truncated: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Draft:
    paper: Paper
    text: str
    sections: dict[str, SectionText]
    stats: Stats
    figures: FigureExport | None = None  # the PNGs written next to the draft, when figures were exported


SectionDone = Callable[[str, str, Reply], None]


def check_draftable(paper: Paper) -> None:
    """Refuse papers with too little text rather than drafting from nothing."""
    if len(paper.full_text()) < MIN_BODY_CHARS:
        raise InputError(f"{paper.source or paper.title}: too little text was extracted to draft from "
                         f"({len(paper.full_text())} characters)",
                         "Check the PDF has a text layer (run OCR on scans) and holds the whole paper.")


def render_section(prompts: PromptSet, paper: Paper, section_id: str, settings: Settings, *,
                   hint: str | None = None, earlier: dict[str, str] | None = None,
                   context_tokens: int | None = None) -> Rendered:
    rendered = prompts.render(paper, section_id, context_tokens=context_tokens or settings.context_tokens,
                              hint=hint, earlier=earlier)
    budget = settings.budget(section_id, rendered.max_tokens)
    return rendered if budget == rendered.max_tokens else replace(rendered, max_tokens=budget)


# A server whose count of the prompt is under this share of drafter's estimate did not read all of it (tokenizers
# differ from the estimate by far less); prompts under TRUNCATION_FLOOR tokens are too short to tell.
TRUNCATED_SHARE = 0.6
TRUNCATION_FLOOR = 1000


def truncated(reply: Reply, rendered: Rendered) -> bool:
    """The server read only part of the prompt: it says it read far fewer tokens than were sent."""
    return (reply.source == "llm" and reply.prompt_tokens > 0 and rendered.prompt_tokens >= TRUNCATION_FLOOR
            and reply.prompt_tokens < TRUNCATED_SHARE * rendered.prompt_tokens)


def truncation_warning(stats: Stats) -> str | None:
    """The one warning about sections whose prompt the server cut, with what to do."""
    if not stats.truncated:
        return None
    read = min(r for r, _ in stats.truncated.values())
    sent = max(s for _, s in stats.truncated.values())
    names = ", ".join(stats.truncated)
    return (f"the server read only {read:,} of about {sent:,} prompt tokens for {names}: it cut the paper to "
            f"fit its context window without saying so, and those sections saw part of it; give the model a larger "
            f"context window on the server (Ollama: num_ctx), or lower --context-tokens below {read:,}")


def cut_note(section_id: str, limit: int) -> str:
    """The visible note in a section whose answer stopped at its token limit."""
    return (f"the model's answer was cut off at its limit of {limit} tokens; for the whole answer run "
            f"`drafter redo DRAFT.md {section_id} --max-tokens {2 * limit}` (or set `{section_id} = {2 * limit}` "
            "under [max_tokens] in config.toml)")


def prompt_room(rendered: Rendered, exc: ContextTooLong) -> int | None:
    """The prompt size (drafter's token estimate) the server's window leaves beside the answer's budget, when
    the context error said the window: its count scaled to drafter's estimate, less a tenth for the difference."""
    if not exc.window:
        return None
    scale = rendered.prompt_tokens / exc.prompt if exc.prompt else 1.0
    return int((exc.window - rendered.max_tokens) * scale * 0.9)


def fitted_budget(prompt_at: Callable[[int], int], budget: int, room: int | None) -> int:
    """The paper budget of the one try after a context error: the one whose prompt (`prompt_at(budget)` tokens)
    fits the room the window leaves, cut by what is too much and measured again; without a room, or when the
    prompt already fits it by drafter's estimate, half the paper."""
    half = max(250, budget // 2)
    if room is None or prompt_at(budget) <= room:
        return half
    for _ in range(4):
        excess = prompt_at(budget) - room
        if excess <= 0 or budget <= 250:
            break
        budget = max(250, budget - excess)
    return budget


async def _one_section(backend: Backend, prompts: PromptSet, paper: Paper, section_id: str, settings: Settings,
                       hint: str | None, earlier: dict[str, str], label: str) -> tuple[Reply, Rendered]:
    budget = settings.context_tokens
    for attempt in range(2):
        rendered = render_section(prompts, paper, section_id, settings, hint=hint, earlier=earlier,
                                  context_tokens=budget)
        request = Request(section_id, rendered.messages, rendered.max_tokens, settings.model,
                          settings.temperature, paper=paper, label=label,
                          reasoning_effort=settings.reasoning_effort)
        try:
            return await backend.complete(request), rendered
        except ContextTooLong as exc:
            if exc.window and rendered.max_tokens >= exc.window // 2:  # the answer's budget is the problem
                exc.hint = (f"The answer's budget of {rendered.max_tokens} tokens takes "
                            f"{'all' if rendered.max_tokens >= exc.window else 'most'} of the {exc.window}-token "
                            "window: lower --max-tokens, or give the server a larger context window.")
            if attempt == 1 or (exc.window and rendered.max_tokens >= exc.window):
                raise  # no shorter paper makes room for an answer the window cannot hold
            def prompt_at(tokens: int) -> int:
                return render_section(prompts, paper, section_id, settings, hint=hint, earlier=earlier,
                                      context_tokens=tokens).prompt_tokens
            # shrink once, then give up
            budget = fitted_budget(prompt_at, min(budget, rendered.prompt_tokens), prompt_room(rendered, exc))
    raise AssertionError("unreachable")  # pragma: no cover


async def draft_sections(paper: Paper, section_ids: list[str], settings: Settings, backend: Backend,
                         prompts: PromptSet, *, hints: dict[str, str] | None = None,
                         earlier: dict[str, str] | None = None, stats: Stats | None = None,
                         on_done: SectionDone | None = None, label: str = "",
                         enriched: asyncio.Future[Any] | None = None) -> dict[str, SectionText]:
    """Draft the given LLM sections concurrently.

    A section declaring `after: X` receives X's text from `earlier` (e.g. the draft, on redo), or, with
    settings.chain, waits for X when X is drafted in the same run. The sections that use looked-up data
    (ENRICHED_SECTIONS) wait for `enriched` (the enrichment finishing); the others start at once.
    """
    hints = hints or {}
    known = dict(earlier or {})
    stats = stats or Stats()
    tasks: dict[str, asyncio.Task[SectionText]] = {}
    paper_index = index_paper(paper)  # once per paper: every section is checked against it
    vocabulary = paper_vocabulary(paper.full_text())  # once per paper: words a line end split are joined by it

    async def run(section_id: str) -> SectionText:
        inputs = dict(known)
        if enriched is not None and section_id in ENRICHED_SECTIONS:
            await enriched
        for dep in prompts.sections[section_id].after:
            if dep in tasks and settings.chain:
                inputs[dep] = (await tasks[dep]).text
        reply, rendered = await _one_section(backend, prompts, paper, section_id, settings,
                                             hints.get(section_id), inputs, label)
        text = clean_model_text(section_id, reply.text, vocabulary) if reply.source == "llm" else reply.text
        text, findings = with_callout(section_id, text, paper_index)  # flagged for the author, never rewritten
        stats.checks += len(findings)
        # Looked-up data (citing papers, links) after the check: it compares model text with the paper.
        text = annotate_section(section_id, text, paper, reply.source)
        note = rendered.cut_note()
        if note:
            stats.cuts[section_id] = note
        cut_at = (reply.limit or rendered.max_tokens) if reply.cut and reply.source == "llm" else None
        if cut_at:
            stats.cut_off[section_id] = cut_at
            note = "; ".join(n for n in (note, cut_note(section_id, cut_at)) if n)
        if truncated(reply, rendered):
            stats.truncated[section_id] = (reply.prompt_tokens, rendered.prompt_tokens)
        if reply.cached:
            stats.cache_hits += 1
        else:
            stats.requests += reply.source == "llm"
            reported = reply.prompt_tokens or reply.source != "llm"
            stats.prompt_tokens += reply.prompt_tokens if reported else rendered.prompt_tokens
            stats.prompt_estimated |= not reported
            stats.completion_tokens += reply.completion_tokens
            stats.reasoning_tokens += reply.reasoning_tokens
        stats.per_section[section_id] = {"prompt_tokens": reply.prompt_tokens,
                                         "completion_tokens": reply.completion_tokens,
                                         "estimated_prompt_tokens": rendered.prompt_tokens}
        if on_done is not None:
            on_done(label, section_id, reply)
        return SectionText(section_id, text, reply.source, reply.model, reply.tokens, note,
                           checks=[summary_line(f) for f in findings], cut_at=cut_at)

    for section_id in section_ids:
        tasks[section_id] = asyncio.create_task(run(section_id), name=f"{label}:{section_id}")
    # Let every in-flight section finish (its answer lands in the cache) before reporting the first failure.
    results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for error in errors:
        if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
            raise error
    if errors:
        raise errors[0]
    stats.sections += len(section_ids)
    return {sid: r for sid, r in zip(tasks, results, strict=True) if isinstance(r, SectionText)}


async def _timed_sections(paper: Paper, section_ids: list[str], settings: Settings, backend: Backend | None,
                          prompts: PromptSet, events: Events | None = None,
                          **options: Any) -> tuple[dict[str, SectionText], Stats]:
    """draft_sections with its wall time and retry count; a backend made here is closed here (and reports to
    `events`, e.g. a progress display's)."""
    events = events or Events()
    own = backend is None
    active = backend or make_backend(settings, events)
    stats = Stats()
    started = time.perf_counter()
    try:
        sections = await draft_sections(paper, section_ids, settings, active, prompts, stats=stats, **options)
    finally:
        if own:
            await active.aclose()
    stats.seconds = time.perf_counter() - started
    stats.retries = events.retries
    return sections, stats


async def draft_paper(paper: Paper, settings: Settings, backend: Backend | None = None,
                      prompts: PromptSet | None = None, *, on_done: SectionDone | None = None,
                      label: str = "", pdf: Path | None = None, figures_to: Path | None = None,
                      enriched: asyncio.Future[Any] | None = None, export_after: bool = False,
                      events: Events | None = None) -> Draft:
    """Draft every LLM section of the template for `paper` and assemble the Markdown.

    With `pdf` and `figures_to`, the paper's figures are exported there as PNGs while the sections are drafted,
    and the draft's header image links the overview figure. With `export_after`, the export waits until every
    section is drafted, so a draft that does not finish exports nothing (for backends that answer from local
    data, such as the Batch API's collected answers, waiting costs no time). `enriched`, when given, finishes setting
    `paper.enrichment` (see drafter.enrich); the sections that use it wait for it, the others do not, and the
    draft is assembled after it.
    """
    check_draftable(paper)
    prompts = prompts or PromptSet(settings.prompts_dir)
    headings = [section.title for section in paper.sections]

    def start_export() -> asyncio.Task[FigureExport] | None:
        if pdf is None or figures_to is None:
            return None
        return asyncio.create_task(asyncio.to_thread(export_figures, pdf, paper.figures, figures_to, headings,
                                                     paper.tables))

    export = None if export_after else start_export()
    try:
        sections, stats = await _timed_sections(paper, list(LLM_SECTIONS), settings, backend, prompts, events,
                                                on_done=on_done, label=label, enriched=enriched)
        if export_after:
            export = start_export()
    finally:
        figures = await export if export is not None else None
    if enriched is not None:
        await enriched  # the overview shows the citation count
    model = "offline" if settings.offline else settings.model
    text = assemble_draft(paper, sections, model, prompts.env.get_template("post.md.j2"),
                          images=figures.images if figures else None,
                          base_url=None if settings.offline else settings.endpoint)
    return Draft(paper, text, sections, stats, figures)


def dry_run(paper: Paper, settings: Settings, prompts: PromptSet | None = None,
            section_ids: list[str] | None = None) -> list[Rendered]:
    """The exact messages each section would send (dependencies shown as placeholders); no network."""
    prompts = prompts or PromptSet(settings.prompts_dir)
    out = []
    for section_id in section_ids or list(LLM_SECTIONS):
        earlier = ({dep: f"[the drafted {dep} section goes here]" for dep in prompts.sections[section_id].after}
                   if settings.chain else {})
        out.append(render_section(prompts, paper, section_id, settings, earlier=earlier))
    return out


@dataclass
class RedoResult:
    text: str
    section: SectionText
    stats: Stats
    was_edited: bool
    warning: str | None = None  # what enrichment could not look up (one line), if it ran


def paper_for_draft(front: dict[str, object], draft_path: Path, paper_path: Path | None,
                    settings: Settings) -> Paper:
    """The paper a draft was made from: --paper if given, else the recorded source (a path, relative to the
    draft if need be, an arXiv id or a URL); extraction and downloads come from the cache when unchanged."""
    if paper_path is not None:
        return load_source(str(paper_path), settings)
    source = front.get("source")
    if not isinstance(source, str) or not source:
        raise InputError(f"{draft_path} does not record which paper it was drafted from",
                         "Pass the PDF with --paper PATH.")
    kind = parse_source(source).kind
    if kind != "path":
        return load_source(source, settings)
    candidate = Path(source)
    if not candidate.is_absolute() and not candidate.exists():
        candidate = draft_path.parent / source
    if not candidate.exists():
        raise InputError(f"the paper this draft was made from is gone ({source})",
                         "Pass its new location with --paper PATH.")
    return load_source(str(candidate), settings)


def redoable(section_id: str) -> None:
    """Refuse (InputError) a section id `redo` cannot re-draft: unknown (a near miss is suggested), or not the
    model's to write."""
    spec = BY_ID.get(section_id)
    if spec is None:
        import difflib

        near = difflib.get_close_matches(section_id.lower(), LLM_SECTIONS, n=1)
        raise InputError(f"unknown section {section_id!r}" + (f" (did you mean {near[0]!r}?)" if near else ""),
                         f"Sections you can redo: {', '.join(LLM_SECTIONS)}.")
    if spec.source != "llm":
        what = "the author writes it" if spec.source == "author" else "it is filled from the paper's metadata"
        raise InputError(f"section {section_id!r} is not drafted by the model ({what})",
                         f"Sections you can redo: {', '.join(LLM_SECTIONS)}.")


async def redo_section(draft_text: str, draft_path: Path, section_id: str, settings: Settings, *,
                       hint: str | None = None, force: bool = False, paper_path: Path | None = None,
                       backend: Backend | None = None, prompts: PromptSet | None = None) -> RedoResult:
    """Re-run one section's prompt (with an optional hint) and replace only that section in the draft."""
    redoable(section_id)
    parsed = parse_draft(draft_text, str(draft_path))
    block = parsed.blocks.get(section_id)
    if block is None:
        raise InputError(f"{draft_path} has no {section_id!r} section (its markers were removed)",
                         "Restore the section markers, or draft the paper again with `drafter new`.")
    if block.edited and not force:
        raise InputError(f"section {section_id!r} was edited by hand since drafter wrote it",
                         "Keep your edit, or pass --force to replace it (the old text is saved in "
                         ".drafter-history/).")
    paper = paper_for_draft(parsed.front, draft_path, paper_path, settings)
    warning = None
    if section_id in ENRICHED_SECTIONS and settings.enrich_on:
        warning = await asyncio.to_thread(enrich_paper, paper, settings)  # cached for a day: usually no request
    prompts = prompts or PromptSet(settings.prompts_dir)
    earlier = {dep: parsed.blocks[dep].content for dep in prompts.sections[section_id].after
               if dep in parsed.blocks}
    result, stats = await _timed_sections(paper, [section_id], settings, backend, prompts,
                                          hints={section_id: hint} if hint else None, earlier=earlier)
    section = result[section_id]
    return RedoResult(replace_section(parsed, section), section, stats, block.edited, warning)


__all__ = ["Draft", "RedoResult", "Stats", "check_draftable", "draft_paper", "draft_sections",
           "dry_run", "paper_for_draft", "redo_section"]
