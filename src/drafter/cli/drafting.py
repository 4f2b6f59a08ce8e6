"""`drafter new` and `drafter inspect`: a paper in, a draft (or what drafter reads of it) out."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from drafter.cli.base import (
    BaseUrlOpt,
    ContextOpt,
    EffortOpt,
    JobsOpt,
    MaxTokensOpt,
    ModelOpt,
    NoCacheOpt,
    NoEnrichOpt,
    NoFiguresOpt,
    OfflineOpt,
    PromptsOpt,
    TimeoutOpt,
    announce_offline,
    err,
    exit_codes,
    make_settings,
    out,
    report_checks,
    run_async,
    warn,
    warn_cuts,
)
from drafter.plan import LLM_SECTIONS

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).
if TYPE_CHECKING:
    from drafter.figures import FigureExport


def new(
    paper: Annotated[str, typer.Argument(help="The paper: a PDF path, an arXiv id (1706.03762, arXiv:1706.03762v7, "
                                         "hep-th/9901001), an arXiv abs/pdf URL, or the https URL of a PDF.",
                                         show_default=False)],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Draft file, or a folder, or - for "
                                               "stdout (default: ./<title-slug>.md).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing draft (the old one is "
                                        "kept in .drafter-history/).")] = False,
    chain: Annotated[bool, typer.Option("--chain", help="Let sections read the ones they build on (discussion "
                                        "reads takeaways); costs one extra round trip.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print every section's exact messages and a prompt-"
                                          "token estimate; no network.")] = False,
    model: ModelOpt = None, base_url: BaseUrlOpt = None, offline: OfflineOpt = False, jobs: JobsOpt = None,
    timeout: TimeoutOpt = None, context_tokens: ContextOpt = None, no_cache: NoCacheOpt = False,
    prompts: PromptsOpt = None, no_enrich: NoEnrichOpt = False, no_figures: NoFiguresOpt = False,
    max_tokens: MaxTokensOpt = None, reasoning_effort: EffortOpt = None,
) -> None:
    """Draft a blog post from a paper: every template section, drafted concurrently, in one Markdown file.

    Examples:\n
      drafter new paper.pdf --offline              # no model: extractive draft\n
      drafter new paper.pdf -o - > post.md         # draft on stdout\n
      drafter new paper.pdf --base-url http://localhost:11434/v1 --model llama3.1
    """
    from drafter.drafts import output_path, refuse_existing, write_new_draft
    from drafter.enrich import cached_enrichment
    from drafter.pipeline import dry_run as render_all
    from drafter.progress import SectionProgress
    from drafter.prompts import PromptSet
    from drafter.sources import load_source_pdf

    with exit_codes():
        settings = make_settings(model, base_url, offline, jobs, timeout, context_tokens, no_cache, prompts, max_tokens,
                                 reasoning_effort)
        settings = settings.with_overrides(chain=chain, **({"enrich": False} if no_enrich else {}))
        prompt_set = PromptSet(settings.prompts_dir)
        loaded, pdf = load_source_pdf(paper, settings)
        if dry_run:
            cached = settings.enrich_on and cached_enrichment(paper, loaded, settings)
            print_dry_run(render_all(loaded, settings, prompt_set), from_cache=cached)
            return
        target = output_path(output, loaded.title)
        refuse_existing(target, force)  # before anything is looked up or drafted
        for warning in loaded.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}")
        announce_offline(settings)
        err.print(f"drafting [bold]{escape(loaded.title)}[/] with {settings.backend_label}: "
                  f"{len(LLM_SECTIONS)} sections, {settings.jobs} at a time")
        with SectionProgress(err, len(LLM_SECTIONS)) as progress:  # live lines on a terminal
            written = run_async(write_new_draft(loaded, settings, target, pdf=pdf, force=force, figures=not no_figures,
                                             prompts=prompt_set, on_done=progress.on_done, events=progress.events))
        for warning in written.warnings:
            warn(warning)
        draft = written.draft
        if target is None:
            sys.stdout.write(draft.text)
            sys.stdout.flush()
        elif written.kept is not None:
            err.print(f"previous draft kept as {written.kept}")
        for section_id, note in draft.stats.cuts.items():
            err.print(f"[yellow]note:[/] {section_id}: {note}")
        _report_figures(draft.figures)
        warn_cuts(draft.stats, "DRAFT" if target is None else str(target))
        s = draft.stats
        where = "stdout" if target is None else str(target)
        cost = settings.cost(s.prompt_tokens, s.completion_tokens)
        if settings.offline:
            err.print(f"[green]wrote[/] {escape(where)}: {s.sections} sections drafted offline, {s.seconds:.1f}s")
        else:
            hidden = f" ({s.reasoning_tokens:,} hidden reasoning)" if s.reasoning_tokens else ""
            err.print(f"[green]wrote[/] {escape(where)}: {s.sections} sections, {s.requests} model calls, "
                      f"{s.cache_hits} cached, {'~' if s.prompt_estimated else ''}{s.prompt_tokens:,} prompt + "
                      f"{s.completion_tokens:,} completion "
                      f"tokens{hidden}" + (f" (${cost:.4f})" if cost is not None else "") + f", {s.seconds:.1f}s")
        report_checks(s.checks, "DRAFT" if target is None else str(target))


def _report_figures(export: FigureExport | None) -> None:
    """One line for the PNGs written, one warning line for the figures that could not be."""
    if export is None:
        return
    if export.images:
        where = export.images[0].path.parent
        err.print(f"figures: {len(export.images)} PNGs in {escape(str(where))} ({export.seconds:.1f}s)")
    problem = export.summary()
    if problem:
        err.print(f"[yellow]warning:[/] {escape(problem)}")


def print_dry_run(rendered: list[Any], from_cache: bool = False) -> None:
    total = 0
    for item in rendered:
        total += item.prompt_tokens
        print(f"===== section {item.section_id}: ~{item.prompt_tokens} prompt tokens, max_tokens={item.max_tokens}"
              + (f" ({item.cut_note()})" if item.cut_note() else "") + " =====")
        for message in item.messages:
            print(f"--- {message['role']} ---\n{message['content']}\n")
    err.print(f"dry run: {len(rendered)} requests, ~{total:,} prompt tokens in all; nothing was sent")
    looked_up = [f"{sid} ({what})" for sid, what in _LOOKED_UP.items() if sid in {r.section_id for r in rendered}]
    if looked_up and from_cache:
        err.print("note: looked-up data in these prompts comes from the cache of earlier lookups, as a draft "
                  f"would send it: {', '.join(looked_up)}")
    elif looked_up:
        err.print("note: a dry run looks nothing up; when drafting with enrichment on (the default with a model), "
                  f"these prompts also carry looked-up data: {', '.join(looked_up)}")


# Sections whose prompts carry data looked up while drafting (see enrich.py), which a dry run does not fetch.
_LOOKED_UP = {"math": "the exact equations of the paper's arXiv source",
              "impact": "the most-cited citing papers from Semantic Scholar"}


def inspect(
    paper: Annotated[str, typer.Argument(help="The paper: a PDF path, an arXiv id (1706.03762, arXiv:1706.03762v7, "
                                         "hep-th/9901001), an arXiv abs/pdf URL, or the https URL of a PDF.",
                                         show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the stable contract in the "
                                          "README).")] = False,
    no_enrich: Annotated[bool, typer.Option("--no-enrich", help="Do not look up citations (Semantic Scholar) or "
                                            "equations (arXiv LaTeX source); answers are cached for a day.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Also show each section's text: exactly what the prompts "
                                       "read (body paragraphs only; captions, tables and footnotes apart).")] = False,
) -> None:
    """Show what drafter extracts from a paper: metadata, sections, figures, tables, references, links, and
    (unless --no-enrich) its citation count, most-cited citing papers and the equations of its arXiv source."""
    from drafter.sources import load_source

    with exit_codes():
        settings = make_settings(offline=True)
        enrich = not no_enrich and settings.enrich is not False
        loaded = load_source(paper, settings)
        if enrich:
            from drafter.drafts import finish_lookups, start_lookups  # the lookups' clients load only when they run

            warning = finish_lookups(start_lookups(settings.with_overrides(enrich=True)), loaded)
            if warning:
                warn(warning)
        if as_json:
            print(json.dumps(loaded.inspect_json(full=full), ensure_ascii=False, indent=2))
            return
        data = loaded.inspect_json(full=full)
        out.print(f"title:     {data['title']}")
        out.print(f"authors:   {', '.join(data['authors']) or '-'}")
        out.print(f"published: {data['year'] or '-'}{', ' + data['venue'] if data['venue'] else ''}")
        out.print(f"arXiv:     {data['arxiv_id'] or '-'}")
        out.print(f"pages:     {data['pages']}")
        out.print(f"abstract:  {len(data['abstract'])} characters")
        out.print("sections:")
        for sec in data["sections"]:
            indent = "  " * sec["level"]
            out.print(f"{indent}{sec['title']}  (p. {sec['page']}, {sec['chars']} chars)", markup=False)
            if full and sec["text"]:
                out.print(sec["text"] + "\n", markup=False, highlight=False)
        for kind in ("figures", "tables"):
            out.print(f"{kind + ':':10} {len(data[kind])}")
            for item in data[kind] if full else []:
                out.print(f"  {item['label']} (p. {item['page']}): {item['caption']}", markup=False, highlight=False)
        out.print(f"references: {len(data['references'])}")
        for url in data["urls"]:
            out.print(f"url:       {url}")
        if loaded.enrichment is not None:
            count = data["citation_count"]
            out.print(f"citations: {'-' if count is None else f'{count:,}'}"
                      + (f" (Semantic Scholar, {loaded.enrichment.as_of})" if count is not None else ""))
            for citing in data["cited_by"]:
                out.print(f"cited by:  {citing['title']} ({citing['year'] or 'n.d.'}, {citing['citations']:,} "
                          f"citations) {citing['url']}")
            out.print(f"equations: {len(data['equations'])} (arXiv LaTeX source)")
        for warning in loaded.warnings:
            err.print(f"warning: {warning}")
