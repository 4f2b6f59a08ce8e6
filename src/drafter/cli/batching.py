"""`drafter batch`: a reading list into one folder, concurrently and resumably (or through the Batch API)."""

from __future__ import annotations

import sys
from pathlib import Path
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
    run_async,
)
from drafter.errors import EXIT_INTERRUPTED, InputError

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).
if TYPE_CHECKING:
    from drafter.config import Settings


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
    with exit_codes():
        if (no_wait or cancel) and not batch_api:
            raise InputError("--no-wait and --cancel go with --batch-api", "Add --batch-api.")
        settings = make_settings(model, base_url, offline, jobs, timeout, context_tokens, no_cache, prompts, max_tokens,
                                 reasoning_effort)
        settings = settings.with_overrides(chain=chain, **({"enrich": False} if no_enrich else {}))
        entries = read_list(reading_list, sys.stdin)
        if batch_api:
            _batch_api(entries, settings, out_dir, force, not no_wait, cancel, poll, reading_list, not no_figures)
            return
        announce_offline(settings)
        err.print(f"batch: {len(entries)} entries -> {escape(str(out_dir))} with {settings.backend_label}, "
                  f"{settings.jobs} requests at a time")
        reporter = RichReporter(err) if err.is_terminal else LogReporter(lambda line: err.print(escape(line)))
        try:
            result = run_async(run_batch(entries, settings, out_dir, force, reporter, figures=not no_figures))
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
        result = run_async(run_batch_api(entries, settings, out_dir, force, wait_for_results=wait, cancel=cancel,
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
