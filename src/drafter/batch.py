"""Reading list (text file, folder of PDFs, .bib, stdin) -> one draft per entry, resumable, with a summary.

Throughput: downloads run in threads, extraction in worker processes (CPU-bound pure Python), and every paper's
sections share one backend and so one request gate (drafter.llm.gate), so LLM requests in flight never exceed
`settings.jobs` (nor the server's slots) across the whole batch while later papers are still being extracted. A
failed entry is reported and the rest go on; a finished draft is written atomically, and an existing draft of the
same PDF (front matter `paper_sha256`) is skipped unless `force`. Callable without the CLI:

    if __name__ == "__main__":  # extraction runs in worker processes, which re-import the main script
        result = asyncio.run(run_batch(read_list("papers.txt"), settings, Path("drafts")))
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from drafter import sources
from drafter.assemble import read_front_matter
from drafter.config import Settings
from drafter.drafts import write_new_draft
from drafter.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_MODEL, DrafterError, InputError, os_error
from drafter.files import slugify
from drafter.llm import Backend, Events, Reply, make_backend
from drafter.paper import Paper
from drafter.pipeline import check_draftable, truncation_warning
from drafter.plan import LLM_SECTIONS
from drafter.prompts import PromptSet

T = TypeVar("T")

DONE, SKIPPED, FAILED, PENDING = "done", "skipped", "failed", "pending"


class Deferred(DrafterError):
    """A backend that answers later (the Batch API plan) has no answer yet: the entry stays pending."""

log = logging.getLogger(__name__)


# -- reading lists -----------------------------------------------------------------------------------


@dataclass
class Entry:
    """One line of a reading list: the source string, where it came from, and a problem found on reading."""

    source: str
    where: str = ""  # e.g. "papers.txt:3" or "refs.bib:vaswani2017"
    base: Path | None = None  # folder that relative paths are relative to
    error: str | None = None

    @property
    def label(self) -> str:
        return self.source or self.where


def read_list(spec: str, stdin: TextIO | None = None) -> list[Entry]:
    """Entries of a reading list: `-` (stdin), a folder (its PDFs), a .bib file, or a text file of sources."""
    if spec == "-":
        return parse_lines((stdin or sys.stdin).read(), "stdin", Path.cwd())
    path = Path(spec).expanduser()
    if path.is_dir():
        pdfs = sorted(p for p in path.iterdir() if p.suffix.lower() == ".pdf" and p.is_file())
        if not pdfs:
            raise InputError(f"{path} holds no PDF files",
                             "Point batch at a folder of .pdf files, a list or a .bib file.")
        return [Entry(str(p), p.name) for p in pdfs]
    if not path.is_file():
        raise InputError(f"{spec}: no such file or folder",
                         "Pass a text file of sources, a folder of PDFs, a .bib file, or - for stdin.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not a UTF-8 text file",
                         "A reading list is text: one PDF path, arXiv id or URL per line (or a .bib file). "
                         "To draft one PDF use `drafter new`.") from exc
    if path.suffix.lower() == ".bib":
        entries = parse_bib(text, path.parent, path.name)
    else:
        entries = parse_lines(text, path.name, path.parent)
    if not entries:
        raise InputError(f"{path} lists no papers", "Add one PDF path, arXiv id or URL per line.")
    return entries


def parse_lines(text: str, name: str, base: Path) -> list[Entry]:
    """One source per line; `#` starts a comment (at the start of a line or after a space); blanks ignored."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        source = re.sub(r"(^|\s)#.*$", "", line).strip()
        if source:
            out.append(Entry(source, f"{name}:{number}", base))
    return out


_BIB_ENTRY = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")


def _bib_fields(body: str) -> dict[str, str]:
    """`key = {value} | "value" | bare` pairs of one BibTeX entry body (braces nest)."""
    fields: dict[str, str] = {}
    i, n = 0, len(body)
    while i < n:
        match = re.compile(r"\s*,?\s*([A-Za-z][\w\-:.]*)\s*=\s*").match(body, i)
        if not match:
            nxt = body.find(",", i)
            if nxt < 0:
                break
            i = nxt + 1
            continue
        key, i = match.group(1).lower(), match.end()
        if i < n and body[i] in "{\"":
            close = "}" if body[i] == "{" else '"'
            depth, j = 0, i
            while j < n:
                ch = body[j]
                if ch == "\\":
                    j += 2
                    continue
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                if (close == "}" and depth == 0 and ch == "}") or (close == '"' and ch == '"' and j > i
                                                                   and depth == 0):
                    break
                j += 1
            value, i = body[i + 1:j], j + 1
        else:
            end = body.find(",", i)
            end = n if end < 0 else end
            value, i = body[i:end], end
        fields[key] = re.sub(r"\s+", " ", value).strip()
    return fields


def _zotero_pdf(value: str, base: Path) -> Path | None:
    """The first PDF of a Zotero/Better BibTeX `file` field (`Desc:path:mime;...` or plain paths)."""
    for attachment in re.split(r"(?<!\\);", value):
        parts = [p.replace("\\:", ":").replace("\\\\", "\\") for p in re.split(r"(?<!\\):", attachment)]
        candidates = [p for p in parts if p.lower().endswith(".pdf")]
        if not candidates and len(parts) >= 3 and parts[-1].strip() == "application/pdf":
            candidates = [":".join(parts[1:-1])]
        if not candidates and len(parts) == 1:
            candidates = parts
        for candidate in candidates:
            candidate = candidate.strip().strip("{}")
            if not candidate:
                continue
            path = Path(candidate).expanduser()
            return path if path.is_absolute() else base / path
    return None


_BIB_NEXT = re.compile(r"\n[ \t]*@[A-Za-z]+[ \t]*[{(]")


def parse_bib(text: str, base: Path, name: str = "bib") -> list[Entry]:
    """Entries with an arXiv eprint (or arXiv URL), a `file` PDF (Zotero), or a `url`, in that preference."""
    out: list[Entry] = []
    pos = 0
    while (match := _BIB_ENTRY.search(text, pos)) is not None:
        kind = match.group(1).lower()
        opener, closer = match.group(2), ")" if match.group(2) == "(" else "}"
        depth, j = 1, match.end()
        while j < len(text) and depth:
            if text[j] == opener:
                depth += 1
            elif text[j] == closer:
                depth -= 1
            j += 1
        if depth:
            # Never closed: like biber, the entry ends where the next one starts a line, and is reported, so
            # one unclosed brace does not swallow every later entry (and lend them its name).
            cut = _BIB_NEXT.search(text, match.end())
            pos = cut.start() + 1 if cut else len(text)
            if kind not in ("comment", "string", "preamble"):
                key = text[match.end():pos].partition(",")[0].strip() or kind
                out.append(Entry("", f"{name}:{key}", base, error=f"{name}:{key}: the entry's {opener} is never "
                                 f"closed; add the missing {closer}"))
            continue
        body, pos = text[match.end():j - 1], j
        if kind in ("comment", "string", "preamble"):
            continue
        key, _, rest = body.partition(",")
        fields = _bib_fields(rest)
        where = f"{name}:{key.strip() or kind}"
        arxiv = fields.get("eprint") or fields.get("arxiv") or fields.get("arxivid") or ""
        prefix = fields.get("archiveprefix", fields.get("eprinttype", "arxiv")).lower()
        url = fields.get("url", "")
        source = ""
        if arxiv and prefix == "arxiv" and sources.parse_source(arxiv).kind == "arxiv":
            source = arxiv
        elif url and sources.parse_source(url).kind == "arxiv":
            source = url
        elif fields.get("file"):
            pdf = _zotero_pdf(fields["file"], base)
            source = str(pdf) if pdf is not None else ""
        if not source and url:
            source = url
        if source:
            out.append(Entry(source, where, base))
        else:
            out.append(Entry("", where, base, error=f"{where} has no eprint, url or PDF file field"))
    return out


# -- results -----------------------------------------------------------------------------------------


@dataclass
class EntryResult:
    entry: Entry
    status: str = PENDING
    output: Path | None = None
    title: str = ""
    sections: int = 0
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    exit_code: int = 0
    seconds: float = 0.0
    checks: int = 0  # fact-check findings in the draft

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class BatchResult:
    results: list[EntryResult]
    seconds: float = 0.0
    retries: int = 0
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.results)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.results)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def exit_code(self) -> int:
        """0 if every entry was drafted or skipped, 70 if a bug in drafter failed one, 1 if any failed in the
        model, else 2."""
        if all(r.status in (DONE, SKIPPED) for r in self.results):
            return 0
        codes = {r.exit_code for r in self.results}
        return next((code for code in (EXIT_INTERNAL, EXIT_MODEL) if code in codes), EXIT_INPUT)


# -- progress ----------------------------------------------------------------------------------------


class Reporter:
    """Progress hooks (all optional); the base class reports nothing."""

    def begin(self, results: list[EntryResult], events: Events) -> None:
        return None

    def stage(self, result: EntryResult, what: str) -> None:
        return None

    def section_done(self, result: EntryResult, section_id: str, reply: Reply) -> None:
        return None

    def retry(self, section_id: str, wait: float, reason: str) -> None:
        return None

    def streamed(self, section_id: str, label: str, tokens: int, seconds: float) -> None:
        """An answer arriving: its tokens so far (-1: the request ended), as Events.on_stream reports them."""
        return None

    def finished(self, result: EntryResult) -> None:
        return None

    def end(self, batch: BatchResult) -> None:
        return None


class LogReporter(Reporter):
    """Plain log lines (for logs and pipes): one per paper started and finished, and per retry."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.total = 0
        self.done = 0
        self.started = time.perf_counter()

    def begin(self, results: list[EntryResult], events: Events) -> None:
        self.total = len(results)
        self.write(f"batch: {self.total} entries")

    def stage(self, result: EntryResult, what: str) -> None:
        if what == "drafting":
            self.write(f"drafting {result.title or result.entry.label}")

    def retry(self, section_id: str, wait: float, reason: str) -> None:
        self.write(f"retry {section_id} in {wait:.1f}s: {reason}")

    def finished(self, result: EntryResult) -> None:
        self.done += 1
        what = result.error if result.status == FAILED else (str(result.output) if result.output else "")
        self.write(f"[{self.done}/{self.total}] {result.status} {result.entry.label}: {what} "
                   f"({time.perf_counter() - self.started:.1f}s)")


class RichReporter(Reporter):
    """A live progress display: papers done / total, sections in flight, tokens so far and arriving (tokens/s),
    retries waiting."""

    def __init__(self, console: object) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("[bold]papers"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                 console=console, transient=True)  # type: ignore[arg-type]
        self.task = self.progress.add_task("papers", total=1, status="")
        self.events = Events()
        self.tokens = 0
        self.retry_until: list[float] = []
        self.arriving: dict[tuple[str, str], tuple[int, float]] = {}  # (paper, section) -> (tokens, seconds)
        self.streamed_tokens = 0  # every streamed token seen

    def _refresh(self) -> None:
        now = time.monotonic()
        self.retry_until = [t for t in self.retry_until if t > now]
        waiting = f", {len(self.retry_until)} retries waiting" if self.retry_until else ""
        arriving = ""
        if self.arriving:
            tokens = sum(t for t, _ in self.arriving.values())
            rate = sum(t / s for t, s in self.arriving.values() if s > 0.2)
            arriving = f" (+{tokens:,} arriving, {rate:.1f} tok/s)"
        self.progress.update(self.task, status=f"{self.events.in_flight} sections in flight, "
                                               f"{self.tokens:,} tokens{arriving}{waiting}")

    def streamed(self, section_id: str, label: str, tokens: int, seconds: float) -> None:
        key = (label, section_id)
        if tokens < 0:
            self.arriving.pop(key, None)
        else:
            self.streamed_tokens += tokens - self.arriving.get(key, (0, 0.0))[0]
            self.arriving[key] = (tokens, seconds)
        self._refresh()

    def begin(self, results: list[EntryResult], events: Events) -> None:
        self.events = events
        self.progress.update(self.task, total=len(results))
        self.progress.start()
        self._refresh()

    def section_done(self, result: EntryResult, section_id: str, reply: Reply) -> None:
        if not reply.cached:
            self.tokens += reply.tokens
        self._refresh()

    def retry(self, section_id: str, wait: float, reason: str) -> None:
        self.retry_until.append(time.monotonic() + wait)
        self._refresh()

    def stage(self, result: EntryResult, what: str) -> None:
        self._refresh()

    def finished(self, result: EntryResult) -> None:
        self.progress.advance(self.task)
        self._refresh()

    def end(self, batch: BatchResult) -> None:
        self.progress.stop()


# -- outputs -----------------------------------------------------------------------------------------


def _candidates(out_dir: Path, slug: str) -> list[Path]:
    pattern = re.compile(rf"^{re.escape(slug)}(?:-(\d+))?\.md$")
    found = [p for p in out_dir.glob(f"{slug}*.md") if pattern.match(p.name)]
    return sorted(found, key=lambda p: int(pattern.match(p.name).group(1) or 1))  # type: ignore[union-attr]


def existing_draft(out_dir: Path, slug: str, sha256: str) -> Path | None:
    """A draft in `out_dir` named <slug>[-N].md whose front matter records this PDF (`paper_sha256`)."""
    for path in _candidates(out_dir, slug):
        try:
            with path.open(encoding="utf-8") as fh:
                head = fh.read(8192)
        except (OSError, UnicodeDecodeError):
            continue
        if sha256 and read_front_matter(head).get("paper_sha256") == sha256:
            return path
    return None


def free_name(out_dir: Path, slug: str, claimed: set[Path]) -> Path:
    """<slug>.md, else <slug>-2.md, -3 ...: the first that neither exists nor is claimed in this run."""
    number = 1
    while True:
        path = out_dir / (f"{slug}.md" if number == 1 else f"{slug}-{number}.md")
        if path not in claimed and not path.exists():
            claimed.add(path)
            return path
        number += 1


# -- the batch ---------------------------------------------------------------------------------------


PARENT_POLL = 1.0  # seconds between a worker's checks that the process that started it is still there


def _quiet_worker() -> None:
    """Worker processes leave Ctrl-C to the parent, which shuts the pool down; and they go when their parent is
    gone without shutting it down (killed, or SIGTERM's default), instead of waiting forever as orphans on a task
    queue whose write end they hold open themselves."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()  # this process (fork, spawn) or the fork server, which ends with it
    threading.Thread(target=_exit_with, args=(parent,), name="drafter-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(0)  # the parent is gone: nobody will read a result, and nothing here is worth finishing


def _noop() -> None:
    return None


def extraction_pool(workers: int) -> ProcessPoolExecutor:
    """Started worker processes for CPU-bound extraction.

    `fork` (instant: the workers inherit every imported module) when this process has no other thread yet
    (the CLI forks before it starts any), or on Python 3.11, where the workers only run pure-Python
    extraction; otherwise `forkserver` (seconds slower to start: each worker imports the main module again).
    """
    methods = multiprocessing.get_all_start_methods()
    context: multiprocessing.context.BaseContext
    if "fork" in methods and (threading.active_count() == 1 or sys.version_info < (3, 12)):
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload(["__main__", "drafter.sources"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet_worker)
    try:
        for future in [pool.submit(_noop) for _ in range(workers)]:
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    return pool


@dataclass
class _Run:
    settings: Settings
    out_dir: Path
    force: bool
    backend: Backend | None  # made on first use (see `drafting_backend`) unless the caller passed one
    prompts: PromptSet
    reporter: Reporter
    pool: Executor | None
    metas: asyncio.Task[dict[str, sources.ArxivMeta | InputError]] | None
    events: Events = field(default_factory=Events)
    claimed: set[Path] = field(default_factory=set)
    seen: dict[str, EntryResult] = field(default_factory=dict)
    figures: bool = True  # export each draft's figures next to it
    export_after: bool = False  # ...only once its sections are drafted (see pipeline.draft_paper)
    cancel: threading.Event = field(default_factory=threading.Event)  # set: downloads stop early

    def drafting_backend(self) -> Backend:
        """The one shared backend (and so the one --jobs limit), made when the first paper is ready to draft:
        by then the openai import, warmed in a thread while the first PDFs were extracted, is done."""
        if self.backend is None:
            self.backend = make_backend(self.settings, self.events)
        return self.backend


def _warm_model_client(settings: Settings) -> threading.Thread | None:
    """Import the openai client (about half a second) in a thread, overlapping the first extractions."""
    if settings.offline:
        return None
    thread = threading.Thread(target=importlib.import_module, args=("openai",), name="warm-openai", daemon=True)
    thread.start()
    return thread


async def in_daemon_thread(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in a daemon thread of its own. Downloads run here, not in asyncio's thread pool: asyncio.run
    joins that pool when it ends, so an interrupted batch would wait for a download stuck in a read of a silent
    server (up to its socket timeout); a daemon thread is left behind at exit instead."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # the batch stopped waiting (interrupted): nobody reads this outcome
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            outcome: tuple[T | None, BaseException | None] = (fn(*args), None)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, which raises it
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is closed: the batch ended (interrupted) and nobody waits for this
            return

    threading.Thread(target=work, daemon=True, name=f"drafter-{getattr(fn, '__name__', 'fetch')}").start()
    return await future


async def _extract(run: _Run, path: Path) -> Paper:
    cache = str(run.settings.cache_dir)
    if run.pool is None:
        return await asyncio.to_thread(sources.extract_pdf, str(path), cache)
    return await asyncio.get_running_loop().run_in_executor(run.pool, sources.extract_pdf, str(path), cache)


async def _one(run: _Run, result: EntryResult, source: sources.Source | None) -> None:
    started = time.perf_counter()
    try:
        if result.entry.error or source is None:
            raise InputError(result.entry.error or f"{result.entry.label}: not a usable source")
        run.reporter.stage(result, "fetching")
        metas = await run.metas if (run.metas is not None and source.kind == "arxiv") else None
        fetched = await in_daemon_thread(sources.fetch, source, run.settings.cache_dir, metas, run.cancel)
        run.reporter.stage(result, "extracting")
        paper = sources.finish_paper(await _extract(run, fetched.pdf), fetched)
        result.title = paper.title
        check_draftable(paper)
        slug = slugify(paper.title)
        twin = run.seen.get(paper.sha256)
        if twin is not None:
            result.status, result.error = SKIPPED, f"same PDF as {twin.entry.label}"
            result.output = twin.output
            return
        run.seen[paper.sha256] = result
        existing = existing_draft(run.out_dir, slug, paper.sha256)
        if existing is not None and not run.force:
            result.status, result.output = SKIPPED, existing
            run.claimed.add(existing)
            return
        for warning in paper.warnings:  # what extraction could not find, once per paper
            log.warning("%s: %s", result.entry.label, warning)
        run.reporter.stage(result, "drafting")

        def on_done(label: str, section_id: str, reply: Reply) -> None:
            run.reporter.section_done(result, section_id, reply)

        # --force replaces this paper's own draft (keeping the old one); a new name is claimed before drafting.
        target = existing if existing is not None else free_name(run.out_dir, slug, run.claimed)
        run.claimed.add(target)
        written = await write_new_draft(paper, run.settings, target, pdf=fetched.pdf, force=existing is not None,
                                        figures=run.figures, backend=run.drafting_backend(), prompts=run.prompts,
                                        on_done=on_done, label=result.entry.label, export_after=run.export_after)
        for warning in written.warnings:
            log.warning("%s: %s", result.entry.label, warning)
        draft = written.draft
        stats = draft.stats
        result.sections, result.requests, result.cache_hits = stats.sections, stats.requests, stats.cache_hits
        result.prompt_tokens, result.completion_tokens = stats.prompt_tokens, stats.completion_tokens
        result.checks = stats.checks
        problem = draft.figures.summary() if draft.figures else None
        if problem:
            log.warning("%s: %s", result.entry.label, problem)
        if (cut_prompt := truncation_warning(stats)) is not None:
            log.warning("%s: %s", result.entry.label, cut_prompt)
        for section_id, limit in stats.cut_off.items():
            log.warning("%s: %s was cut off at its limit of %d tokens (noted in the draft; `drafter redo %s %s "
                        "--max-tokens %d` gets the whole answer)", result.entry.label, section_id, limit, target,
                        section_id, 2 * limit)
        result.status, result.output = DONE, target
    except Deferred:
        result.status = PENDING
    except DrafterError as exc:
        result.status, result.error, result.exit_code = FAILED, exc.one_line(), exc.exit_code
    except BrokenProcessPool as exc:
        result.status, result.exit_code = FAILED, EXIT_INPUT
        result.error = (f"the extraction worker for this PDF died ({exc}). Draft it with `drafter new` to "
                        "see the error.")
    except OSError as exc:
        result.status, result.exit_code = FAILED, EXIT_INPUT
        result.error = os_error(exc).one_line()
    except Exception as exc:  # a bug hit by one entry must not end the rest of the batch
        log.debug("entry %s failed", result.entry.label, exc_info=True)
        result.status, result.exit_code = FAILED, EXIT_INTERNAL
        result.error = (f"internal error: {type(exc).__name__}: {exc}. Run `drafter --debug new` on this entry "
                        "and report it")
    finally:
        result.seconds = time.perf_counter() - started
        if result.status != PENDING:
            run.reporter.finished(result)


def _source_key(source: sources.Source | None) -> tuple[str, str] | None:
    """What makes two list entries the same paper before anything is fetched."""
    if source is None:
        return None
    if source.kind == "path":
        return "path", str(Path(source.value).resolve())
    return source.kind, source.arxiv_key if source.kind == "arxiv" else source.value


async def _same_as(run: _Run, result: EntryResult, first: EntryResult, drafting: asyncio.Task[None]) -> None:
    """A repeated entry: skipped once the first copy is done, with its draft; it fetches and looks up nothing."""
    await asyncio.wait([drafting])
    result.status, result.error, result.output = SKIPPED, f"same source as {first.entry.label}", first.output
    result.title = first.title
    run.reporter.finished(result)


async def run_batch(entries: list[Entry], settings: Settings, out_dir: Path, force: bool = False,
                    reporter: Reporter | None = None, *, workers: int | None = None,
                    backend: Backend | None = None, prompts: PromptSet | None = None,
                    figures: bool = True, export_after: bool = False) -> BatchResult:
    """Draft every entry into `out_dir`; never raises for one entry's failure (see `EntryResult.error`).

    `workers`: extraction processes (default: the machine's cores); 0 extracts in a thread instead.
    `figures`: export each paper's figures next to its draft (`<draft-stem>-figures/`); with `export_after`, only
    once its sections are drafted, so an entry that stays pending exports nothing.
    """
    reporter = reporter or Reporter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [EntryResult(e) for e in entries]
    parsed: list[sources.Source | None] = []
    for result in results:
        try:
            parsed.append(sources.parse_source(result.entry.source, result.entry.base)
                          if not result.entry.error else None)
        except InputError as exc:
            result.entry.error = exc.one_line()
            parsed.append(None)
    arxiv = [s for s in parsed if s is not None and s.kind == "arxiv"]
    local = sum(1 for s in parsed if s is not None)
    workers = min(os.cpu_count() or 1, max(local, 1)) if workers is None else workers
    events = Events(on_retry=reporter.retry, on_stream=reporter.streamed)
    prompts = prompts or PromptSet(settings.prompts_dir)
    cancel = threading.Event()  # set on Ctrl-C: downloads and arXiv waits stop early
    batch = BatchResult(results)
    started = time.perf_counter()
    # Workers first: forked before this process starts any thread (see `extraction_pool`).
    pool = extraction_pool(workers) if workers > 0 and local else None
    own_backend = backend is None
    if own_backend:
        _warm_model_client(settings)  # after the fork: workers must not inherit a half-done import
    tasks: list[asyncio.Task[None]] = []
    metas = asyncio.create_task(in_daemon_thread(sources.arxiv_metadata, arxiv, settings.cache_dir, cancel)) \
        if arxiv else None
    run = _Run(settings, out_dir, force, backend, prompts, reporter, pool, metas, events, figures=figures,
               export_after=export_after, cancel=cancel)
    reporter.begin(results, events)
    try:
        # Repeated entries are settled before any fetch or lookup starts (10,000 copies of one id: one draft,
        # one download, one lookup, not 10,000 threads starving the first's lookups).
        firsts: dict[tuple[str, str], tuple[EntryResult, asyncio.Task[None]]] = {}
        for result, source in zip(results, parsed, strict=True):
            key = _source_key(source)
            if key is not None and key in firsts:
                tasks.append(asyncio.create_task(_same_as(run, result, *firsts[key]), name="batch:repeat"))
                continue
            drafting = asyncio.create_task(_one(run, result, source), name=f"batch:{result.entry.label}")
            tasks.append(drafting)
            if key is not None:
                firsts[key] = (result, drafting)
        await asyncio.gather(*tasks)
    except BaseException:
        batch.interrupted = True
        cancel.set()
        raise
    finally:
        for task in [*tasks, *([metas] if metas else [])]:
            task.cancel()
        await asyncio.gather(*tasks, *([metas] if metas else []), return_exceptions=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if own_backend and run.backend is not None:
            await run.backend.aclose()
        batch.seconds = time.perf_counter() - started
        batch.retries = events.retries
        reporter.end(batch)
    return batch


def planned_calls(result: BatchResult) -> int:
    """LLM calls a full draft of every entry takes (for throughput reports)."""
    return len(result.results) * len(LLM_SECTIONS)


__all__ = ["BatchResult", "Deferred", "Entry", "EntryResult", "LogReporter", "Reporter", "RichReporter",
           "existing_draft", "free_name", "parse_bib", "parse_lines", "read_list", "run_batch"]
