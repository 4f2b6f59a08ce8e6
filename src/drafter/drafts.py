"""Paper -> a draft file on disk, and a draft file -> one section re-drafted in it: where a draft goes, what is
refused or kept, figures staged until the draft itself is written, the lookups beside the drafting, and which
model a redo uses. The CLI and `batch` both call this; the CLI only parses flags and prints.

    settings = load_settings({"offline": True})
    paper, pdf = load_source_pdf("paper.pdf", settings)
    target = output_path(None, paper.title)             # ./<title-slug>.md
    refuse_existing(target, force=False)                 # before anything is looked up or drafted
    written = asyncio.run(write_new_draft(paper, settings, target, pdf=pdf))

    redone = asyncio.run(redo_in_file(Path("post.md"), "summary", settings_for_redo(Path("post.md"))))

The write sequence: the figures are exported into a staging folder beside the draft and moved into
`<draft-stem>-figures/` only once the draft is written (a failed draft leaves no PNGs); an existing draft is
replaced only with `force` (kept in .drafter-history/ first), and without it the draft is created only if the
name is still free at the moment of writing (two runs to one path cannot both win). Redo re-reads the draft just
before writing, so an edit the author saved meanwhile is kept (the section is replaced in the fresh text) or the
redo is refused; nothing the author wrote is lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from drafter.assemble import parse_draft, read_front_matter, replace_section
from drafter.config import Settings, load_settings
from drafter.enrich import EnrichJob
from drafter.errors import DraftFormatError, InputError
from drafter.figures import ExportedFigure, FigureExport, figures_dir
from drafter.files import atomic_write, backup_file, create_new, read_draft, slugify
from drafter.llm import Backend, Events
from drafter.paper import Paper
from drafter.pipeline import Draft, RedoResult, SectionDone, draft_paper, redo_section
from drafter.prompts import PromptSet

# -- where a draft goes ------------------------------------------------------------------------------


def output_path(output: str | None, title: str, cwd: Path | None = None) -> Path | None:
    """Where the draft goes: None for stdout (`-`), a folder gets <slug>.md, default <cwd>/<slug>.md."""
    if output == "-":
        return None
    name = f"{slugify(title)}.md"
    if output is None:
        return (cwd or Path.cwd()) / name
    path = Path(output)
    if path.is_dir() or output.endswith(("/", "\\")):
        return path / name
    if path.suffix.lower() == ".pdf":
        raise InputError(f"refusing to write the draft to {path} (a .pdf name)", "Pass -o draft.md.")
    return path


def _exists_error(target: Path, now: bool = False) -> InputError:
    when = " (it was written while this draft ran; yours was not written, its answers are cached)" if now else ""
    return InputError(f"{target} already exists{when}", "Pass --force to replace it (the old file is kept in "
                      ".drafter-history/), or -o another path.")


def refuse_existing(target: Path | None, force: bool) -> None:
    """Refuse an existing draft unless `force`, and a folder the draft cannot be written to: call it before any
    lookup or model call is made, so a draft that could not be saved costs nothing."""
    if target is None:
        return
    if target.exists() and not force:
        raise _exists_error(target)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:  # missing folders are made: the first that exists
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"cannot write {target}: {folder} is not a folder", "Pass -o a path inside a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {target}: the folder {folder} is not writable",
                         "Pass -o a path in a folder you can write to, or change the folder's permissions.")


# -- the write sequence ------------------------------------------------------------------------------


class FigureStaging:
    """A folder beside the draft, named like its final `<stem>-figures/`, for the PNGs of a draft in progress.

    `commit` moves them into place once the draft is written; `discard` (also on leaving a `with` block
    without a commit) removes them, so a failed draft leaves no figures behind.
    """

    def __init__(self, target: Path | None, enabled: bool = True) -> None:
        self.target = target
        self._root: Path | None = None
        self.folder: Path | None = None  # where the export writes (None: no figures)
        if target is not None and enabled:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._root = Path(tempfile.mkdtemp(prefix=f".{target.stem}.figures-", dir=target.parent))
            # The same name as the final folder: the draft's image links are right before the move.
            self.folder = self._root / figures_dir(target).name

    def commit(self, export: FigureExport | None) -> FigureExport | None:
        """Move the exported PNGs into `<stem>-figures/` (replacing same-named ones) and point `export` there."""
        if export is None or self.target is None or self.folder is None:
            self.discard()
            return export
        final = figures_dir(self.target)
        moved: list[ExportedFigure] = []
        if export.images:
            final.mkdir(exist_ok=True)
        for image in export.images:
            destination = final / image.path.name
            image.path.replace(destination)
            moved.append(replace(image, path=destination))
        self.discard()
        return replace(export, images=moved)

    def discard(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> FigureStaging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def write_draft(target: Path, text: str, *, force: bool) -> Path | None:
    """Write the draft: with `force` an existing file is kept in .drafter-history/ and replaced atomically;
    without it the draft is created only if the name is still free now. Returns where the old draft was kept."""
    if force and target.exists():
        kept = backup_file(target)
        atomic_write(target, text)
        return kept
    try:
        create_new(target, text)
    except FileExistsError:
        raise _exists_error(target, now=True) from None
    return None


# -- lookups beside the drafting ---------------------------------------------------------------------


def start_lookups(settings: Settings) -> EnrichJob | None:
    """The enrichment job for a draft, when the settings look things up (see drafter.enrich)."""
    return EnrichJob(settings) if settings.enrich_on else None


def finish_lookups(job: EnrichJob | None, paper: Paper) -> str | None:
    """Collect the lookups into `paper.enrichment`; a failure is the warning line returned, never an exception."""
    if job is None:
        return None
    job.finish(paper)
    return job.warning()


async def draft_with_lookups(paper: Paper, settings: Settings, job: EnrichJob | None,
                             warn: Callable[[str], None] | None = None, **options: Any) -> Draft:
    """`draft_paper` while the lookups finish: only the sections that use their data wait for them."""

    def finish() -> None:
        warning = finish_lookups(job, paper)
        if warning and warn is not None:
            warn(warning)

    finishing = asyncio.ensure_future(asyncio.to_thread(finish)) if job is not None else None
    return await draft_paper(paper, settings, enriched=finishing, **options)


# -- a new draft ----------------------------------------------------------------------------------------


@dataclass
class Written:
    """A draft made and (unless it went to stdout) written: where, and where the draft it replaced was kept."""

    draft: Draft
    path: Path | None  # None: nothing written; the caller prints draft.text
    kept: Path | None = None
    warnings: list[str] = field(default_factory=list)  # what the lookups could not find, one line each


async def write_new_draft(paper: Paper, settings: Settings, target: Path | None, *, pdf: Path | None = None,
                          force: bool = False, figures: bool = True, backend: Backend | None = None,
                          prompts: PromptSet | None = None, on_done: SectionDone | None = None, label: str = "",
                          export_after: bool = False, events: Events | None = None) -> Written:
    """Draft `paper` (lookups beside it, figures staged) and write it to `target` (None: not written).

    Refuses an existing `target` without `force` before anything is looked up or drafted, and again at the
    moment of writing. A failure writes nothing: no draft and no figures."""
    refuse_existing(target, force)
    warnings: list[str] = []
    job = start_lookups(settings)
    with FigureStaging(target, figures and pdf is not None) as staging:
        draft = await draft_with_lookups(paper, settings, job, warnings.append, backend=backend, prompts=prompts,
                                         on_done=on_done, label=label, pdf=pdf, figures_to=staging.folder,
                                         export_after=export_after, events=events)
        if target is None:
            return Written(draft, None, warnings=warnings)
        kept = write_draft(target, draft.text, force=force)
        draft.figures = staging.commit(draft.figures)
    return Written(draft, target, kept, warnings)


# -- redo ---------------------------------------------------------------------------------------------


def recorded_settings(front: dict[str, Any], default_endpoint: str | None = None) -> dict[str, Any]:
    """What a draft says it was made with, for `load_settings(recorded=...)`: its model and (unless it is OpenAI's
    own, the default anyway) its endpoint; nothing for an offline draft."""
    if front.get("model") == "offline" or not front.get("model"):
        return {}
    recorded: dict[str, Any] = {"model": front.get("model")}
    if front.get("base_url") != (default_endpoint or Settings().endpoint):
        recorded["base_url"] = front.get("base_url")
    return recorded


def settings_for_redo(draft: Path, flags: dict[str, Any] | None = None, **options: Any) -> Settings:
    """Settings for redoing a section of `draft`: flags and environment first, then the model and endpoint the
    draft records, then the config file."""
    front = read_front_matter(read_draft(draft))
    return load_settings(flags, recorded=recorded_settings(front), **options)


@dataclass
class Redone:
    result: RedoResult
    path: Path
    kept: Path  # the draft as it was just before, in .drafter-history/
    merged: bool = False  # the author saved the draft meanwhile; the section was replaced in their new text


def _merge_fresh(path: Path, section_id: str, start: str, result: RedoResult, force: bool) -> str:
    """The new section put into the draft as it is now, when the author saved it while the model answered."""
    fresh = read_draft(path)
    if fresh == start:
        return result.text
    before = parse_draft(start, str(path)).blocks.get(section_id)
    try:
        block = parse_draft(fresh, str(path)).blocks.get(section_id)
    except DraftFormatError as exc:
        raise InputError(f"{path} changed while {section_id!r} was redrafted and no longer parses ({exc.message})",
                         "Nothing was written; fix the draft and run redo again (the answer is cached).") from exc
    untouched = block is not None and (not block.edited or (force and before is not None
                                                            and block.content == before.content))
    if not untouched:
        raise InputError(f"{path} changed while {section_id!r} was redrafted, and that section was edited in it",
                         "Nothing was written, your edit is as you saved it; run redo again (the answer is cached), "
                         "with --force to replace your edit.")
    return replace_section(parse_draft(fresh, str(path)), result.section)


async def redo_in_file(path: Path, section_id: str, settings: Settings, *, hint: str | None = None,
                       force: bool = False, paper_path: Path | None = None, backend: Backend | None = None,
                       prompts: PromptSet | None = None) -> Redone:
    """Re-draft one section of the draft at `path` and write it back; every other byte stays as it is, and an
    edit the author saved while the model answered is kept (see the module docstring)."""
    start = read_draft(path)
    result = await redo_section(start, path, section_id, settings, hint=hint, force=force, paper_path=paper_path,
                                backend=backend, prompts=prompts)
    text = _merge_fresh(path, section_id, start, result, force)
    kept = backup_file(path)
    atomic_write(path, text)
    return Redone(result, path, kept, merged=text != result.text)


__all__ = ["FigureStaging", "Redone", "Written", "draft_with_lookups", "finish_lookups", "output_path",
           "read_draft", "recorded_settings", "redo_in_file", "refuse_existing", "settings_for_redo",
           "start_lookups", "write_draft", "write_new_draft"]
