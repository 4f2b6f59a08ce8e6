"""`drafter status`, `check` and `redo`: working on a draft section by section."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from drafter.cli.base import (
    BaseUrlOpt,
    ContextOpt,
    EffortOpt,
    MaxTokensOpt,
    ModelOpt,
    NoCacheOpt,
    NoEnrichOpt,
    OfflineOpt,
    PromptsOpt,
    TimeoutOpt,
    announce_offline,
    err,
    exit_codes,
    make_settings,
    report_checks,
    run_async,
    warn,
    warn_cuts,
)
from drafter.files import read_draft
from drafter.plan import LLM_SECTIONS

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).


def status(
    draft: Annotated[Path, typer.Argument(help="A draft written by `drafter new`.", exists=True, dir_okay=False,
                                          readable=True, show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of sections.")] = False,
) -> None:
    """Show each section's state: generated, edited, todo (author part still empty), written or missing."""
    from rich.table import Table

    from drafter.assemble import parse_draft, section_states

    with exit_codes():
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

    with exit_codes():
        settings = make_settings(offline=True)
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
    from drafter.pipeline import redoable

    with exit_codes():
        redoable(section)  # before any setting is read or announced
        settings = make_settings(model, base_url, offline, None, timeout, context_tokens, no_cache, prompts, max_tokens,
                                 reasoning_effort, draft=draft)
        if no_enrich:
            settings = settings.with_overrides(enrich=False)
        announce_offline(settings)
        if not settings.offline:
            from_draft = [name for name in ("model", "base_url") if settings.origins.get(name) == "draft"]
            err.print(f"redoing {section} with {escape(settings.model)} at {escape(settings.public_endpoint)}"
                      + (f" ({' and '.join(n.replace('_', ' ') for n in from_draft)} from the draft)"
                         if from_draft else ""))
        if settings.offline and hint:
            err.print("[yellow]warning:[/] --hint is ignored offline: the offline drafter picks sentences from "
                      "the paper and takes no instructions")
        redone = run_async(redo_in_file(draft, section, settings, hint=hint, force=force, paper_path=paper))
        result = redone.result
        if result.warning:
            warn(result.warning)
        warn_cuts(result.stats, str(draft))
        note = (f"; your edited text is kept in {redone.kept}" if result.was_edited else
                f"; previous draft in {redone.kept}")
        if redone.merged:
            note += " (you saved the draft meanwhile: your changes are kept, only this section was replaced)"
        s = result.stats
        err.print(f"[green]redid[/] {section} in {draft}: {s.prompt_tokens + s.completion_tokens} tokens"
                  f"{' (cached)' if s.cache_hits else ''}, {s.seconds:.1f}s{note}")
        report_checks(len(result.section.checks), str(draft))
