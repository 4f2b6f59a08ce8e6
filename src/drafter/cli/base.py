"""The CLI's ground: the app and its consoles, the one exit path (errors become one line and an exit code),
logging with every secret scrubbed, the options commands share, and settings from flags."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from drafter import __version__
from drafter.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, DrafterError, os_error

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).
if TYPE_CHECKING:
    from drafter.config import Settings


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

state: dict[str, bool] = {"debug": False}


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
    state["debug"] = debug
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
        return scrub_secrets(super().format(record))


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


def scrub_secrets(text: str) -> str:
    from drafter.llm import scrub

    for name in ("DRAFTER_API_KEY", "OPENAI_API_KEY"):
        if os.environ.get(name):
            _secrets.add(os.environ[name])
    for secret in sorted(_secrets, key=len, reverse=True):
        text = scrub(text, secret)
    return scrub(text, None)


def print_traceback() -> None:
    if state["debug"]:
        # Exception chains quote server answers, which may echo the key: scrub like every other line.
        sys.stderr.write(scrub_secrets(traceback.format_exc()))


@contextmanager
def exit_codes() -> Iterator[None]:
    """The one exit path: drafter's errors become one line and an exit code; Ctrl-C exits 130."""
    try:
        yield
    except DrafterError as exc:
        print_traceback()
        err.print(f"[bold red]error:[/] {escape(scrub_secrets(exc.one_line()))}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: nothing was written; finished sections are cached, so re-running "
                  "picks up where this stopped.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as exc:
        print_traceback()
        err.print(f"[bold red]error:[/] {escape(scrub_secrets(os_error(exc).one_line()))}")
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # typer's own exits and usage errors
    except Exception as exc:
        # A bug, not a user error: still one line (the traceback with --debug), never a bare traceback.
        print_traceback()
        reason = escape(scrub_secrets(str(exc))[:300])
        err.print(f"[bold red]error:[/] internal error ({type(exc).__name__}: {reason}). "
                  f"This is a bug in drafter (exit {EXIT_INTERNAL}): re-run with --debug and report the traceback.")
        raise typer.Exit(EXIT_INTERNAL) from exc


def run_async(coro: Any) -> Any:
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


def make_settings(model: str | None = None, base_url: str | None = None, offline: bool = False,
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
    if state["debug"]:
        from drafter.llm import describe

        err.print(f"settings: {describe(settings)} (config file: {config_file()})")
    return settings


def warn(line: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(scrub_secrets(line))}")


def announce_offline(settings: Settings) -> None:
    if settings.offline and settings.origins.get("offline") != "flag":
        err.print("[yellow]note:[/] no model configured, so this draft is extracted from the paper's own "
                  "sentences (offline). To draft with a model: export OPENAI_API_KEY=sk-..., or use a local "
                  "server: --base-url http://localhost:11434/v1 --model llama3.1")


def report_checks(count: int, draft: str) -> None:
    """The closing line about the fact check: how many things to verify and where to find them."""
    if count:
        err.print(f"[yellow]check:[/] {count} thing{'s' if count != 1 else ''} to verify against the paper (the "
                  f"⚠️ callouts in the draft; `drafter check {escape(draft)}` lists them)")


def warn_cuts(stats: Any, draft: str) -> None:
    """One warning line per section whose answer stopped at its token limit, naming the fix; one for the sections
    whose prompt the server cut to its context window."""
    from drafter.pipeline import truncation_warning

    for section_id, limit in stats.cut_off.items():
        err.print(f"[yellow]warning:[/] {section_id}: the answer was cut off at its limit of {limit} tokens (the "
                  f"section says so); `drafter redo {escape(draft)} {section_id} --max-tokens {2 * limit}` gets "
                  "the whole answer")
    if (cut_prompt := truncation_warning(stats)) is not None:
        warn(cut_prompt)


DraftArg = Annotated[Path, typer.Argument(help="A draft written by `drafter new` (your edits included).",
                                          exists=True, dir_okay=False, readable=True, show_default=False)]
