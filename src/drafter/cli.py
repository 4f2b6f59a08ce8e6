"""Command line -> pipeline calls. Parses flags, builds settings, prints; all the work happens elsewhere."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from drafter import __version__
from drafter.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, DrafterError, InputError, os_error
from drafter.files import atomic_write, read_draft
from drafter.plan import LLM_SECTIONS, SECTIONS

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).
if TYPE_CHECKING:
    from drafter.config import Settings
    from drafter.figures import FigureExport

app = typer.Typer(
    name="drafter",
    help="Turn a research paper PDF into a Markdown deep-dive blog-post draft, one section at a time.\n\n"
    "Start with `drafter new paper.pdf`. With no API key configured it drafts offline from the paper's own "
    "sentences; set OPENAI_API_KEY, or --base-url and --model for a local server (Ollama, vLLM, llama.cpp), "
    "to draft with a model.\n\n"
    "Exit status: 0 done, 1 the model or network failed, 2 bad input or usage, 70 a bug in drafter (--debug shows "
    "the traceback), 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# emoji=False: "refs.bib:a: ..." must not print as "refs.bib🅰 ..." (rich replaces :name: codes)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
T = TypeVar("T")

_state: dict[str, bool] = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"drafter {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and retry details.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = debug
    _setup_logging(debug)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines to whatever sys.stderr is now (a test runner swaps it), every secret scrubbed."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        return None

    def format(self, record: logging.LogRecord) -> str:
        # Tracebacks of swallowed errors quote server answers, which may echo the key.
        return _scrub(super().format(record))


_handler: list[logging.Handler] = []


def _setup_logging(debug: bool) -> None:
    """Warnings only; with --debug, drafter's own DEBUG lines too: the tracebacks of the errors that enrichment,
    figure export and batch entries turn into one warning line, and every retry."""
    root = logging.getLogger()
    for old in _handler:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    _handler[:] = [handler]
    root.addHandler(handler)
    root.setLevel(logging.INFO if debug else logging.WARNING)
    logging.getLogger("drafter").setLevel(logging.DEBUG if debug else logging.NOTSET)
    # The HTTP libraries log every request at INFO; only --debug shows them.
    for name in ("httpx", "httpx2", "openai"):
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)


_secrets: set[str] = set()  # API keys seen in settings: never printed, not even in --debug tracebacks


def _scrub(text: str) -> str:
    from drafter.llm import scrub

    for name in ("DRAFTER_API_KEY", "OPENAI_API_KEY"):
        if os.environ.get(name):
            _secrets.add(os.environ[name])
    for secret in sorted(_secrets, key=len, reverse=True):
        text = scrub(text, secret)
    return scrub(text, None)


def _print_traceback() -> None:
    if _state["debug"]:
        # Exception chains quote server answers, which may echo the key: scrub like every other line.
        sys.stderr.write(_scrub(traceback.format_exc()))


@contextmanager
def _errors() -> Iterator[None]:
    """The one exit path: drafter's errors become one line and an exit code; Ctrl-C exits 130."""
    try:
        yield
    except DrafterError as exc:
        _print_traceback()
        err.print(f"[bold red]error:[/] {escape(_scrub(exc.one_line()))}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: nothing was written; finished sections are cached, so re-running "
                  "picks up where this stopped.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as exc:
        _print_traceback()
        err.print(f"[bold red]error:[/] {escape(_scrub(os_error(exc).one_line()))}")
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # typer's own exits and usage errors
    except Exception as exc:
        # A bug, not a user error: still one line (the traceback with --debug), never a bare traceback.
        _print_traceback()
        err.print(f"[bold red]error:[/] internal error ({type(exc).__name__}: {escape(_scrub(str(exc))[:300])}). "
                  f"This is a bug in drafter (exit {EXIT_INTERNAL}): re-run with --debug and report the traceback.")
        raise typer.Exit(EXIT_INTERNAL) from exc


def _async(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


# -- shared options -----------------------------------------------------------------------------------

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name (env DRAFTER_MODEL).",
                                              show_default=False)]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama "
    "(env DRAFTER_BASE_URL or OPENAI_BASE_URL).", show_default=False)]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Draft from the paper's own sentences; no network.")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", min=1, max=256,
                                             help="LLM requests in flight at once, at most (default: 12; "
                                             "fewer when the server runs fewer at once).",
                                             show_default=False)]
TimeoutOpt = Annotated[float | None, typer.Option("--timeout", min=1, help="Seconds without progress (no token "
                                                  "arriving) before a request is given up on; waiting in a "
                                                  "server's queue does not count (default: 120).",
                                                  show_default=False)]
ContextOpt = Annotated[int | None, typer.Option("--context-tokens", min=500, help="Paper text per request, in "
                                                "tokens; lower it for small local models (default: 12000).",
                                                show_default=False)]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Ask the model again even for identical requests.")]
NoEnrichOpt = Annotated[bool, typer.Option(
    "--no-enrich", help="Look nothing up outside: no citation data from Semantic Scholar, no equations from the "
    "arXiv LaTeX source (env DRAFTER_ENRICH=0; offline drafts skip it unless DRAFTER_ENRICH=1).")]
NoFiguresOpt = Annotated[bool, typer.Option("--no-figures", help="Do not export the paper's figures as PNGs into "
                                            "<draft-stem>-figures/ next to the draft.")]
MaxTokensOpt = Annotated[int | None, typer.Option(
    "--max-tokens", min=1, help="Output budget of every section, in tokens (default: each section's own, see "
    "`drafter sections`; per section: [max_tokens] in config.toml). Raise it when a section was cut off.",
    show_default=False)]
EffortOpt = Annotated[str | None, typer.Option(
    "--reasoning-effort", help="low, medium or high: how hard a reasoning model (o3, gpt-5...) thinks; sent "
    "where the endpoint takes it (env DRAFTER_REASONING_EFFORT).", show_default=False)]
PromptsOpt = Annotated[Path | None, typer.Option("--prompts", help="Folder of .md.j2 files overriding packaged "
                                                 "prompts by name (see `drafter sections`).", show_default=False,
                                                 file_okay=False)]


def _settings(model: str | None = None, base_url: str | None = None, offline: bool = False,
              jobs: int | None = None, timeout: float | None = None, context_tokens: int | None = None,
              no_cache: bool = False, prompts: Path | None = None, max_tokens: int | None = None,
              reasoning_effort: str | None = None, draft: Path | None = None) -> Settings:
    from drafter.config import config_file, load_settings

    flags: dict[str, Any] = {"model": model, "base_url": base_url, "jobs": jobs, "timeout": timeout,
                             "context_tokens": context_tokens, "prompts_dir": prompts, "max_tokens": max_tokens,
                             "reasoning_effort": reasoning_effort}
    if offline:
        flags["offline"] = True
    if no_cache:
        flags["cache"] = False
    if draft is not None:
        from drafter.drafts import settings_for_redo  # the model and endpoint the draft records

        settings = settings_for_redo(draft, flags)
    else:
        settings = load_settings(flags)
    if settings.api_key:
        _secrets.add(settings.api_key)
    password = urlsplit(settings.endpoint).password
    if password:
        _secrets.add(password)  # a key in the base URL's userinfo: scrubbed like the API key
    if _state["debug"]:
        from drafter.llm import describe

        err.print(f"settings: {describe(settings)} (config file: {config_file()})")
    return settings


def _warn(line: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(_scrub(line))}")


def _announce_offline(settings: Settings) -> None:
    if settings.offline and settings.origins.get("offline") != "flag":
        err.print("[yellow]note:[/] no model configured, so this draft is extracted from the paper's own "
                  "sentences (offline). To draft with a model: export OPENAI_API_KEY=sk-..., or use a local "
                  "server: --base-url http://localhost:11434/v1 --model llama3.1")


def _report_checks(count: int, draft: str) -> None:
    """The closing line about the fact check: how many things to verify and where to find them."""
    if count:
        err.print(f"[yellow]check:[/] {count} thing{'s' if count != 1 else ''} to verify against the paper (the "
                  f"⚠️ callouts in the draft; `drafter check {escape(draft)}` lists them)")


def _warn_cuts(stats: Any, draft: str) -> None:
    """One warning line per section whose answer stopped at its token limit, naming the fix; one for the sections
    whose prompt the server cut to its context window."""
    from drafter.pipeline import truncation_warning

    for section_id, limit in stats.cut_off.items():
        err.print(f"[yellow]warning:[/] {section_id}: the answer was cut off at its limit of {limit} tokens (the "
                  f"section says so); `drafter redo {escape(draft)} {section_id} --max-tokens {2 * limit}` gets "
                  "the whole answer")
    if (cut_prompt := truncation_warning(stats)) is not None:
        _warn(cut_prompt)


# -- commands -----------------------------------------------------------------------------------------


@app.command()
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

    with _errors():
        settings = _settings(model, base_url, offline, jobs, timeout, context_tokens, no_cache, prompts, max_tokens,
                             reasoning_effort)
        settings = settings.with_overrides(chain=chain, **({"enrich": False} if no_enrich else {}))
        prompt_set = PromptSet(settings.prompts_dir)
        loaded, pdf = load_source_pdf(paper, settings)
        if dry_run:
            cached = settings.enrich_on and cached_enrichment(paper, loaded, settings)
            _print_dry_run(render_all(loaded, settings, prompt_set), from_cache=cached)
            return
        target = output_path(output, loaded.title)
        refuse_existing(target, force)  # before anything is looked up or drafted
        for warning in loaded.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}")
        _announce_offline(settings)
        err.print(f"drafting [bold]{escape(loaded.title)}[/] with {settings.backend_label}: "
                  f"{len(LLM_SECTIONS)} sections, {settings.jobs} at a time")
        with SectionProgress(err, len(LLM_SECTIONS)) as progress:  # live lines on a terminal
            written = _async(write_new_draft(loaded, settings, target, pdf=pdf, force=force, figures=not no_figures,
                                             prompts=prompt_set, on_done=progress.on_done, events=progress.events))
        for warning in written.warnings:
            _warn(warning)
        draft = written.draft
        if target is None:
            sys.stdout.write(draft.text)
            sys.stdout.flush()
        elif written.kept is not None:
            err.print(f"previous draft kept as {written.kept}")
        for section_id, note in draft.stats.cuts.items():
            err.print(f"[yellow]note:[/] {section_id}: {note}")
        _report_figures(draft.figures)
        _warn_cuts(draft.stats, "DRAFT" if target is None else str(target))
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
        _report_checks(s.checks, "DRAFT" if target is None else str(target))


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


def _print_dry_run(rendered: list[Any], from_cache: bool = False) -> None:
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


@app.command()
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

    with _errors():
        settings = _settings(offline=True)
        enrich = not no_enrich and settings.enrich is not False
        loaded = load_source(paper, settings)
        if enrich:
            from drafter.drafts import finish_lookups, start_lookups  # the lookups' clients load only when they run

            warning = finish_lookups(start_lookups(settings.with_overrides(enrich=True)), loaded)
            if warning:
                _warn(warning)
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


@app.command()
def status(
    draft: Annotated[Path, typer.Argument(help="A draft written by `drafter new`.", exists=True, dir_okay=False,
                                          readable=True, show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of sections.")] = False,
) -> None:
    """Show each section's state: generated, edited, todo (author part still empty), written or missing."""
    from rich.table import Table

    from drafter.assemble import parse_draft, section_states

    with _errors():
        parsed = parse_draft(read_draft(draft), str(draft))
        rows = section_states(parsed)
        made_with = parsed.front.get("model")
        if isinstance(made_with, str) and made_with:
            where = parsed.front.get("base_url")
            err.print(f"drafted with {escape(made_with)}" + (f" at {escape(str(where))}" if where else ""))
        if as_json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        table = Table(box=None, pad_edge=False)
        for column in ("id", "heading", "state", "words", "model", "tokens", "checks", "cut"):
            # One line per section: a narrow terminal shortens the heading rather than wrapping every row.
            table.add_column(column, justify="right" if column in ("words", "tokens", "checks") else "left",
                             no_wrap=True, overflow="ellipsis", min_width=9 if column == "state" else None,
                             max_width=24 if column == "heading" else None)
        colours = {"generated": "green", "edited": "cyan", "todo": "yellow", "written": "blue", "missing": "red"}
        for row in rows:
            table.add_row(row["id"], row["heading"], f"[{colours[row['state']]}]{row['state']}[/]",
                          str(row["words"]), row["model"], str(row["tokens"] or ""),
                          f"[yellow]{row['checks']}[/]" if row["checks"] else "",
                          f"[yellow]at {row['cut']}[/]" if row["cut"] else "")
        # Piped output is read by scripts and pagers: give it room instead of the 80 columns rich assumes.
        Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(table)
        counts = {s: sum(r["state"] == s for r in rows) for s in colours}
        err.print(", ".join(f"{n} {s}" for s, n in counts.items() if n))


@app.command()
def check(
    draft: Annotated[Path, typer.Argument(help="A draft written by `drafter new` (your edits included).",
                                          exists=True, dir_okay=False, readable=True, show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list of findings.")] = False,
    paper: Annotated[Path | None, typer.Option("--paper", help="The paper PDF, if it moved since drafting.",
                                               show_default=False)] = None,
) -> None:
    """Check the draft against the paper: numbers, quotes, LaTeX math and unfilled prompt slots.

    Reads the draft as it is now (your edits included) and the paper it was drafted from.

    Reports numbers the paper does not print, quotes of six words or more that are not its words, $...$ and
    $$...$$ blocks that do not parse, and <...> or [...] slots copied from a prompt.

    Your own sections are not checked, nor the numbers in `impact` (later work, marked "verify").

    Exit status: 0 nothing found, 1 findings, 2 bad input.

    Examples:\n
      drafter check post.md\n
      drafter check post.md --json | jq '.[] | select(.kind == "number")'
    """
    from drafter.assemble import parse_draft
    from drafter.check import check_draft, printable
    from drafter.pipeline import paper_for_draft

    with _errors():
        settings = _settings(offline=True)
        parsed = parse_draft(read_draft(draft), str(draft))
        findings = check_draft(parsed, paper_for_draft(parsed.front, draft, paper, settings))
        if as_json:
            print(json.dumps([f.to_json() for f in findings], ensure_ascii=False, indent=2))
        else:
            for finding in findings:
                print(printable(f"{draft}:{finding.line}: {finding.section}: {finding.message}"))
        sections = len({f.section for f in findings})
        err.print(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} in {sections} section"
                  f"{'s' if sections != 1 else ''}: verify them against the paper" if findings else
                  "[green]no findings[/]: every checked number, quote and formula matches the paper")
    if findings:
        raise typer.Exit(1)


@app.command()
def redo(
    draft: Annotated[Path, typer.Argument(help="A draft written by `drafter new`.", exists=True, dir_okay=False,
                                          readable=True, show_default=False)],
    section: Annotated[str, typer.Argument(help=f"Section id: {', '.join(LLM_SECTIONS)}.", show_default=False)],
    hint: Annotated[str | None, typer.Option("--hint", help="What to change, e.g. 'shorter, one analogy'.",
                                             show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace the section even if you edited it (the "
                                        "old text is kept in .drafter-history/).")] = False,
    paper: Annotated[Path | None, typer.Option("--paper", help="The paper PDF, if it moved since drafting.",
                                               show_default=False)] = None,
    model: ModelOpt = None, base_url: BaseUrlOpt = None, offline: OfflineOpt = False, timeout: TimeoutOpt = None,
    context_tokens: ContextOpt = None, no_cache: NoCacheOpt = False, prompts: PromptsOpt = None,
    max_tokens: MaxTokensOpt = None, reasoning_effort: EffortOpt = None, no_enrich: NoEnrichOpt = False,
) -> None:
    """Re-draft one section (optionally with a hint) and replace only that section in the draft.

    Every byte outside the section stays as it is (redoing `tags` also refreshes the front-matter tags).
    A section you edited by hand is kept unless you pass --force. The model and endpoint the draft was made
    with are used unless flags or environment variables name others.
    """
    from drafter.drafts import redo_in_file

    with _errors():
        settings = _settings(model, base_url, offline, None, timeout, context_tokens, no_cache, prompts, max_tokens,
                             reasoning_effort, draft=draft)
        if no_enrich:
            settings = settings.with_overrides(enrich=False)
        _announce_offline(settings)
        if not settings.offline:
            from_draft = [name for name in ("model", "base_url") if settings.origins.get(name) == "draft"]
            err.print(f"redoing {section} with {escape(settings.model)} at {escape(settings.public_endpoint)}"
                      + (f" ({' and '.join(n.replace('_', ' ') for n in from_draft)} from the draft)"
                         if from_draft else ""))
        if settings.offline and hint:
            err.print("[yellow]warning:[/] --hint is ignored offline: the offline drafter picks sentences from "
                      "the paper and takes no instructions")
        redone = _async(redo_in_file(draft, section, settings, hint=hint, force=force, paper_path=paper))
        result = redone.result
        if result.warning:
            _warn(result.warning)
        _warn_cuts(result.stats, str(draft))
        note = (f"; your edited text is kept in {redone.kept}" if result.was_edited else
                f"; previous draft in {redone.kept}")
        if redone.merged:
            note += " (you saved the draft meanwhile: your changes are kept, only this section was replaced)"
        s = result.stats
        err.print(f"[green]redid[/] {section} in {draft}: {s.prompt_tokens + s.completion_tokens} tokens"
                  f"{' (cached)' if s.cache_hits else ''}, {s.seconds:.1f}s{note}")
        _report_checks(len(result.section.checks), str(draft))


@app.command()
def prompt(
    paper: Annotated[str, typer.Argument(help="The paper: a PDF path, an arXiv id (1706.03762, arXiv:1706.03762v7, "
                                         "hep-th/9901001), an arXiv abs/pdf URL, or the https URL of a PDF.",
                                         show_default=False)],
    section: Annotated[str, typer.Argument(help="Section id (see `drafter sections`).", show_default=False)],
    hint: Annotated[str | None, typer.Option("--hint", help="A revision hint, as `redo --hint` sends it.",
                                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
    context_tokens: ContextOpt = None, prompts: PromptsOpt = None,
) -> None:
    """Print the exact messages one section would send to the model, and a token estimate; no network."""
    from drafter.enrich import cached_enrichment
    from drafter.pipeline import render_section
    from drafter.prompts import PromptSet
    from drafter.sources import load_source

    with _errors():
        if section not in LLM_SECTIONS:
            raise InputError(f"unknown or non-model section {section!r}", f"Choose from: {', '.join(LLM_SECTIONS)}.")
        settings = _settings(context_tokens=context_tokens, prompts=prompts, offline=True)
        prompt_set = PromptSet(settings.prompts_dir)
        loaded = load_source(paper, settings)
        # What earlier lookups cached goes into the prompt as a draft would send it; nothing is looked up here.
        cached = settings.enrich is not False and cached_enrichment(paper, loaded, settings)
        earlier = {dep: f"[the drafted {dep} section goes here]" for dep in prompt_set.sections[section].after}
        rendered = render_section(prompt_set, loaded, section, settings, hint=hint, earlier=earlier)
        if as_json:
            print(json.dumps({"section": section, "max_tokens": rendered.max_tokens,
                              "estimated_prompt_tokens": rendered.prompt_tokens, "messages": rendered.messages},
                             ensure_ascii=False, indent=2))
        else:
            _print_dry_run([rendered], from_cache=cached)


@app.command()
def sections(
    prompts: PromptsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the template's sections: who writes each, what it drafts, which paper parts it reads."""
    from rich.table import Table

    from drafter.prompts import PromptSet, estimate_tokens

    with _errors():
        prompt_set = PromptSet(prompts)
        rows: list[dict[str, Any]] = []
        for spec in SECTIONS:
            declared = prompt_set.sections.get(spec.id)
            rows.append({
                "id": spec.id, "source": spec.source,
                "description": declared.description if declared else spec.description,
                "reads": list(declared.reads) if declared else [],
                "max_tokens": declared.max_tokens if declared else None,
                "after": list(declared.after) if declared else [],
                "prompt": declared.path if declared else None,
            })
        if as_json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        table = Table(box=None, pad_edge=False)
        for column in ("id", "written by", "drafts", "reads"):
            table.add_column(column)
        who = {"llm": "model", "extracted": "paper", "author": "you"}
        for row in rows:
            table.add_row(row["id"], who[row["source"]], row["description"], ", ".join(row["reads"]))
        Console(highlight=False).print(table)
        overridden = prompt_set.overridden()
        if overridden:
            err.print(f"overridden from {prompts}: {', '.join(overridden)}")
        err.print(f"estimate: about {estimate_tokens('x' * 4000)} tokens per 4,000 characters of paper text")


@app.command("config")
def show_config(
    model: ModelOpt = None, base_url: BaseUrlOpt = None, offline: OfflineOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the settings in effect, where each came from, and the config and cache paths (never the key)."""
    from drafter.config import config_file

    with _errors():
        settings = _settings(model=model, base_url=base_url, offline=offline)
        data = {
            "config_file": str(config_file()), "config_file_exists": config_file().is_file(),
            "cache_dir": str(settings.cache_dir), "backend": "offline" if settings.offline else "openai-compatible",
            "endpoint": None if settings.offline else settings.public_endpoint, "model": settings.model,
            "api_key": "set" if settings.api_key else "not set", "jobs": settings.jobs,
            "timeout": settings.timeout, "retries": settings.retries, "context_tokens": settings.context_tokens,
            "max_tokens": settings.max_tokens, "reasoning_effort": settings.reasoning_effort,
            "prompts_dir": str(settings.prompts_dir) if settings.prompts_dir else None,
            "enrich": settings.enrich_on,  # Semantic Scholar and arXiv-source lookups while drafting
            "origins": settings.origins,
        }
        if as_json:
            print(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            if key != "origins":
                origin_key = {"endpoint": "base_url", "backend": "offline"}.get(key, key)
                origin = settings.origins.get(origin_key, "")
                out.print(f"{key:<18} {value}" + (f"   ({origin})" if origin else ""))


def _batch_summary(result: Any, settings: Settings, batch_api: bool = False) -> None:
    """The summary table of a batch, on stderr: one row per entry, then the totals."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("entry", "status", "output", "sections", "tokens", "error"):
        table.add_column(column, justify="right" if column in ("sections", "tokens") else "left",
                         overflow="fold")
    colours = {"done": "green", "skipped": "blue", "failed": "red", "pending": "yellow"}
    for row in result.results:
        table.add_row(escape(row.entry.label), f"[{colours.get(row.status, 'white')}]{row.status}[/]",
                      escape(str(row.output or "")), str(row.sections or ""), f"{row.tokens:,}" if row.tokens else "",
                      escape(row.error or ""))
    err.print(table)
    counts = ", ".join(f"{result.count(s)} {s}" for s in ("done", "skipped", "failed", "pending") if result.count(s))
    cost = settings.cost(result.prompt_tokens, result.completion_tokens)
    if cost is not None and batch_api:
        cost *= settings.batch_discount
    calls = "Batch API answers" if batch_api else "model calls"
    err.print(f"batch: {counts}; {result.requests} {calls}, {result.prompt_tokens:,} prompt + "
              f"{result.completion_tokens:,} completion tokens" + (f" (${cost:.4f})" if cost is not None else "")
              + f", {result.seconds:.1f}s")
    checks = sum(row.checks for row in result.results)
    if checks:
        err.print(f"[yellow]check:[/] {checks} thing{'s' if checks != 1 else ''} to verify against the paper in "
                  "the drafts (their ⚠️ callouts; `drafter check DRAFT` lists them)")


@app.command()
def batch(
    reading_list: Annotated[str, typer.Argument(
        metavar="LIST", help="A text file of sources (one PDF path, arXiv id or URL per line; # comments), a "
        "folder of PDFs, a .bib file (eprint, url or Zotero file fields), or - for stdin.", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the drafts, one <title-slug>.md per "
                                          "paper (default: current folder).", show_default=False,
                                          file_okay=False)] = Path(),
    force: Annotated[bool, typer.Option("--force", "-f", help="Draft again papers that already have a draft in "
                                        "the folder (the old one is kept in .drafter-history/).")] = False,
    chain: Annotated[bool, typer.Option("--chain", help="Let sections read the ones they build on; costs one "
                                        "extra round trip per paper.")] = False,
    batch_api: Annotated[bool, typer.Option("--batch-api", help="Send every section request through the OpenAI "
                                            "Batch API (half price, answers within 24 hours); the state is kept "
                                            "in DIR/.drafter-batch.json, so re-running collects.")] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="With --batch-api: submit, print the batch ids and exit; "
                                          "run the same command again to collect.")] = False,
    cancel: Annotated[bool, typer.Option("--cancel", help="With --batch-api: cancel the batches in flight for this "
                                         "folder.")] = False,
    poll: Annotated[float | None, typer.Option("--poll", min=0.01, envvar="DRAFTER_BATCH_POLL",
                                               help="With --batch-api: seconds between status checks (default: "
                                               "5, backing off to 60).", show_default=False)] = None,
    model: ModelOpt = None, base_url: BaseUrlOpt = None, offline: OfflineOpt = False, jobs: JobsOpt = None,
    timeout: TimeoutOpt = None, context_tokens: ContextOpt = None, no_cache: NoCacheOpt = False,
    prompts: PromptsOpt = None, no_enrich: NoEnrichOpt = False, no_figures: NoFiguresOpt = False,
    max_tokens: MaxTokensOpt = None, reasoning_effort: EffortOpt = None,
) -> None:
    """Draft every paper of a reading list into one folder; re-running resumes where it stopped.

    --jobs limits LLM requests in flight across all papers; PDFs are extracted in parallel meanwhile.
    A bad entry is reported and the rest go on; finished drafts (same PDF) are skipped on the next run.
    Exit status: 0 all drafted or skipped, 1 a model call or download failed, 2 bad entries only, 70 a bug in
    drafter hit an entry, 130 interrupted.

    Examples:\n
      drafter batch reading-list.txt --out drafts/\n
      drafter batch ~/Zotero/export.bib -o drafts --jobs 16\n
      ls *.pdf | drafter batch - --offline\n
      drafter batch list.txt -o drafts --batch-api --no-wait   # submit; the same command later collects
    """
    from drafter.batch import LogReporter, Reporter, RichReporter, read_list, run_batch

    reporter: Reporter | None = None
    with _errors():
        if (no_wait or cancel) and not batch_api:
            raise InputError("--no-wait and --cancel go with --batch-api", "Add --batch-api.")
        settings = _settings(model, base_url, offline, jobs, timeout, context_tokens, no_cache, prompts, max_tokens,
                             reasoning_effort)
        settings = settings.with_overrides(chain=chain, **({"enrich": False} if no_enrich else {}))
        entries = read_list(reading_list, sys.stdin)
        if batch_api:
            _batch_api(entries, settings, out_dir, force, not no_wait, cancel, poll, reading_list, not no_figures)
            return
        _announce_offline(settings)
        err.print(f"batch: {len(entries)} entries -> {escape(str(out_dir))} with {settings.backend_label}, "
                  f"{settings.jobs} requests at a time")
        reporter = RichReporter(err) if err.is_terminal else LogReporter(lambda line: err.print(escape(line)))
        try:
            result = _async(run_batch(entries, settings, out_dir, force, reporter, figures=not no_figures))
        except KeyboardInterrupt:
            done = getattr(reporter, "done", None)
            err.print("[yellow]interrupted[/]: finished drafts are written" + (f" ({done})" if done else "")
                      + "; no half-written draft was left. Re-run the same command to resume.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        _batch_summary(result, settings)
        if result.exit_code:
            raise typer.Exit(result.exit_code)


def _batch_api(entries: list[Any], settings: Settings, out_dir: Path, force: bool, wait: bool, cancel: bool,
               poll: float | None, reading_list: str, figures: bool) -> None:
    """`batch --batch-api`: submit, wait, collect and write; or cancel; the work is in drafter.batch_api."""
    from drafter.batch_api import run_batch_api

    err.print(f"batch: {len(entries)} entries -> {escape(str(out_dir))} with {settings.model} through the Batch API "
              f"at {escape(settings.public_endpoint)}")
    try:
        result = _async(run_batch_api(entries, settings, out_dir, force, wait_for_results=wait, cancel=cancel,
                                      figures=figures,
                                      poll=poll, progress=lambda line: err.print(escape(line))))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: the batches keep running at the provider and their ids are in "
                  f"{escape(str(out_dir / '.drafter-batch.json'))}. Re-run the same command to collect.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if cancel:
        return
    if result.waiting:
        for submitted in result.waiting:
            print(submitted.id)
        again = " ".join(["drafter", "batch", reading_list, "--batch-api", "-o", str(out_dir)])
        err.print(f"{len(result.waiting)} batch(es) in flight (the provider has up to 24 hours). Collect with "
                  f"the same command: {escape(again)}")
    _batch_summary(result.batch, settings, batch_api=True)
    failed = [r for r in result.batch.results if r.status == "failed"]
    if (failed or not result.waiting) and result.batch.exit_code:
        raise typer.Exit(result.batch.exit_code)


# -- publishing ---------------------------------------------------------------------------------------------------

DraftArg = Annotated[Path, typer.Argument(help="A draft written by `drafter new` (your edits included).",
                                          exists=True, dir_okay=False, readable=True, show_default=False)]


@app.command("export")
def export_cmd(
    draft: DraftArg,
    to: Annotated[str, typer.Option("--to", "-t", help="hugo, jekyll, md (Quarto, Obsidian, MyST, Astro, GitHub) "
                                    "or devto.", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder to export into: a Hugo content section, "
                                          "a Jekyll site's root, any folder (default: current folder).",
                                          file_okay=False, show_default=False)] = Path(),
    allow_todo: Annotated[bool, typer.Option("--allow-todo", help="Export even though author TODOs remain "
                                             "(kept in the post, which is marked unpublished).")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an earlier export of this draft.")] = False,
    image_base_url: Annotated[str | None, typer.Option(
        "--image-base-url", help="devto: where you will upload the figures; the post links them there.",
        show_default=False)] = None,
    canonical_url: Annotated[str | None, typer.Option(
        "--canonical-url", help="devto: the post's original address (default: canonical_url in the draft's "
        "front matter, else canonical_base_url/<slug>/ from config.toml or DRAFTER_CANONICAL_BASE_URL).",
        show_default=False)] = None,
) -> None:
    """Export a finished draft as a post for a blog: math, figures and front matter the way the site reads them.

    drafter's markers and notes are left out; figures are copied beside the post and their links rewritten.
    While author TODOs remain (unwritten sections, TODO callouts, template slots, missing images) it refuses
    and lists them, unless --allow-todo. Prints the post's path.

    Examples:\n
      drafter export post.md --to hugo -o ~/blog/content/posts   # <slug>/index.md\n
      drafter export post.md --to jekyll -o ~/site               # _posts/<date>-<slug>.md\n
      drafter export post.md --to md -o export/                  # $ math as drafted\n
      drafter export post.md --to devto --image-base-url https://example.com/img
    """
    from drafter.export import TARGETS, export_draft

    with _errors():
        if to not in TARGETS:
            raise InputError(f"unknown export target {to!r}", f"Use --to with one of: {', '.join(TARGETS)}.")
        if image_base_url and not image_base_url.startswith(("http://", "https://")):
            raise InputError(f"--image-base-url {image_base_url!r} is not an http(s) URL",
                             "Example: --image-base-url https://example.com/img/my-post")
        settings = _settings(offline=True)
        result = export_draft(draft, to, out_dir, allow_todo=allow_todo, force=force,
                              image_base_url=image_base_url, canonical_url=canonical_url,
                              canonical_base_url=settings.canonical_base_url)
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}")
        for note in result.notes:
            err.print(f"[blue]note:[/] {escape(note)}")
        err.print(f"[green]exported[/] {escape(str(result.post))} with {len(result.figures)} figure"
                  f"{'s' if len(result.figures) != 1 else ''}")
        print(result.post)


@app.command()
def preview(
    draft: DraftArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The HTML file (default: "
                                                "<draft-stem>.preview.html beside the draft).", dir_okay=False,
                                                show_default=False)] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace FILE even if drafter did not write it.")]
    = False,
) -> None:
    """Render the draft as one standalone HTML page: math typeset, figures inlined, TODOs and callouts marked.

    The page works from file:// with the network off (MathJax is inside it; nothing is fetched). A formula
    that does not parse is shown in a red box with the reason. Prints the page's path.

    Examples:\n
      drafter preview post.md --open\n
      drafter preview post.md -o /tmp/post.html
    """
    import webbrowser

    from drafter.export import read_draft
    from drafter.preview import default_output, is_preview, preview_html

    with _errors():
        target = output or default_output(draft)
        if target.exists() and not force and not is_preview(target):
            raise InputError(f"{target} exists and is not a drafter preview", "Pass --force to replace it, or -o "
                             "another file.")
        page, counts = preview_html(read_draft(draft))
        atomic_write(target, page)
        missing = f", {counts['missing']} missing images" if counts["missing"] else ""
        err.print(f"[green]preview[/] {escape(str(target))}: {counts['math']} formulas, {counts['images']} "
                  f"figures{missing}")
        print(target)
        if open_it and not webbrowser.open(target.resolve().as_uri()):
            err.print(f"[yellow]warning:[/] no browser found: open {escape(target.resolve().as_uri())}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["app", "main"]
