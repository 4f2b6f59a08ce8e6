"""Command line -> pipeline calls. Parses flags, builds settings, prints; all the work happens elsewhere.

One module per group of commands (drafting, iterating, info, batching, publishing), each on the app, the shared
options and the one exit path of `base`; the list below registers them, in the order `--help` shows them."""

from __future__ import annotations

import sys

from drafter.cli import batching, drafting, info, iterating, publishing
from drafter.cli.base import app, err
from drafter.errors import EXIT_INTERRUPTED

# The commands, in the order `drafter --help` lists them.
app.command()(drafting.new)
app.command()(drafting.inspect)
app.command()(iterating.status)
app.command()(iterating.check)
app.command()(iterating.redo)
app.command()(info.prompt)
app.command()(info.sections)
app.command("config")(info.show_config)
app.command()(batching.batch)
app.command("export")(publishing.export_cmd)
app.command()(publishing.preview)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["app", "main"]
