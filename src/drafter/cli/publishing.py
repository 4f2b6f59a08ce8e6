"""`drafter export` and `drafter preview`: a finished draft onto a blog, or into a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from drafter.cli.base import DraftArg, err, exit_codes, make_settings
from drafter.errors import InputError
from drafter.files import atomic_write

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).


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

    with exit_codes():
        if to not in TARGETS:
            raise InputError(f"unknown export target {to!r}", f"Use --to with one of: {', '.join(TARGETS)}.")
        if image_base_url and not image_base_url.startswith(("http://", "https://")):
            raise InputError(f"--image-base-url {image_base_url!r} is not an http(s) URL",
                             "Example: --image-base-url https://example.com/img/my-post")
        settings = make_settings(offline=True)
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

    with exit_codes():
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
