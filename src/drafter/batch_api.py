"""Reading list -> OpenAI Batch API jobs (JSONL of section requests) -> response cache -> drafts, resumable.

The same drafts as the online path, by construction: every pass runs the ordinary batch drafting path
(`batch.run_batch`: extraction, naming, skipping finished drafts, clean-up, markers) with a backend that never
calls the model. Behind the response cache (`llm.CachedBackend`, so the same keys and the same records) it
answers from the Batch API's output files; a request it cannot answer yet is recorded and its paper stays
pending (`batch.Deferred`). The recorded requests are written as JSONL (bodies from `OpenAIBackend.body`, the
one place a chat request body is built), uploaded and submitted as batches; the state file in the output folder
(`.drafter-batch.json`) records every batch and which request is which before anything waits. The next pass
then finds the answers; sections that read other sections (`after:` with --chain) are asked in the next round,
and a request that failed or expired is asked once more before its paper is reported failed.

Callable without the CLI:

    result = asyncio.run(run_batch_api(read_list("papers.txt"), settings, Path("drafts")))
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from drafter.batch import DONE, FAILED, PENDING, BatchResult, Deferred, Entry, EntryResult, Reporter, run_batch
from drafter.cache import ResponseCache
from drafter.config import Settings, public_url
from drafter.errors import InputError, ModelError
from drafter.files import atomic_write, slugify
from drafter.llm import (
    BudgetSpent,
    CachedBackend,
    ContextTooLong,
    EmptyCompletion,
    OpenAIBackend,
    Reply,
    Request,
    adapt_profile,
    budget_error,
    rejected_parameter,
    reply_from_completion,
    scrub,
    token_limit,
)
from drafter.llm.errors import auth_error
from drafter.prompts import PromptSet

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

ENDPOINT: Final = "/v1/chat/completions"
WINDOW: Final = "24h"
STATE_NAME = ".drafter-batch.json"
FILES_DIR = ".drafter-batch"
# The Batch API's limits per input file (requests, bytes); a little under the 200 MB to be safe.
MAX_REQUESTS = 50_000
MAX_BYTES = 190 * 1024 * 1024
# "uploaded": the file is at the provider but the batch may not exist yet (a run stopped in between).
IN_FLIGHT = ("uploaded", "validating", "in_progress", "finalizing", "cancelling")
# Default polling: start after a few seconds, back off to about a minute.
POLL_FIRST, POLL_MAX, POLL_FACTOR = 5.0, 60.0, 1.5
ATTEMPTS = 2  # a failed or expired request is asked once more in a follow-up batch
# Rounds one run may submit: --chain's second round and the retries fit well within it; more means the requests
# keep changing between passes (e.g. a prompt file edited meanwhile), and submitting again would not converge.
MAX_ROUNDS = 6
# Outside lookups (Semantic Scholar) feed the prompts; answers cached at submission are reused this long, so
# the passes that collect a batch, up to a day later, render the very requests that were submitted.
LOOKUP_AGE = 7 * 24 * 3600

T = TypeVar("T")
Progress = Callable[[str], None]


# -- the state file --------------------------------------------------------------------------------------


@dataclass
class Submitted:
    """One batch: its ids, its last known status, and which request each custom_id is."""

    id: str  # "" until the batch is created
    input_file_id: str
    round: int
    requests: dict[str, dict[str, Any]]  # custom_id -> {"paper", "section", "key", "limit"}
    status: str = "uploaded"
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the batch's own `errors` (a failed batch)
    collected: bool = False  # output and error files downloaded

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    def request_keys(self) -> set[str]:
        return {r["key"] for r in self.requests.values()}


@dataclass
class State:
    path: Path
    endpoint: str = ""
    model: str = ""
    batches: list[Submitted] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.path.parent / FILES_DIR

    def save(self) -> None:
        data = {"version": 1, "endpoint": self.endpoint, "model": self.model,
                "batches": [asdict(b) for b in self.batches]}
        atomic_write(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def in_flight_keys(self) -> set[str]:
        return {k for b in self.batches if b.in_flight for k in b.request_keys()}


def load_state(out_dir: Path) -> State:
    """The state file of a Batch API run in `out_dir`, or an empty state."""
    path = out_dir / STATE_NAME
    if not path.is_file():
        return State(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        batches = [Submitted(**b) for b in data.get("batches", [])]
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a drafter Batch API state file ({exc})",
                         "Move it away if you made it; drafter keeps its batch ids there.") from exc
    return State(path, str(data.get("endpoint", "")), str(data.get("model", "")), batches)


# -- answers from collected batches -----------------------------------------------------------------------


@dataclass
class Outcome:
    """What the collected batches say about one request key: the answer, or each failure."""

    answers: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)  # (body, token limit sent)
    failures: list[dict[str, Any]] = field(default_factory=list)  # {"status", "body"} or {"error"}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                item = json.loads(line)
            except ValueError:
                log.warning("%s: skipping a line that is not JSON", path)
                continue
            if isinstance(item, dict):
                out.append(item)
    return out


def load_outcomes(state: State) -> dict[str, Outcome]:
    """Every request key's answer or failures, from the downloaded output and error files."""
    outcomes: dict[str, Outcome] = {}
    for batch in state.batches:
        if not batch.collected:
            continue
        seen: set[str] = set()
        for name in (f"{batch.id}-output.jsonl", f"{batch.id}-errors.jsonl"):
            for line in _read_jsonl(state.folder / name):
                request = batch.requests.get(str(line.get("custom_id")))
                if request is None:
                    continue
                seen.add(request["key"])
                outcome = outcomes.setdefault(request["key"], Outcome())
                response = line.get("response") or {}
                body = response.get("body") if isinstance(response, dict) else None
                status = response.get("status_code") if isinstance(response, dict) else None
                if status == 200 and isinstance(body, dict):
                    limit = request.get("limit")
                    outcome.answers.append((body, limit if isinstance(limit, int) else None))
                elif status is not None:
                    outcome.failures.append({"status": status, "body": body,
                                             "request_id": response.get("request_id")})
                else:
                    outcome.failures.append({"error": line.get("error") or {}})
        if batch.status in ("completed", "expired"):  # a request the provider dropped counts as failed
            for request in batch.requests.values():
                if request["key"] not in seen:
                    outcomes.setdefault(request["key"], Outcome()).failures.append(
                        {"error": {"code": "missing", "message": "no line in the batch's output or error file"}})
    return outcomes


@dataclass
class _RecordedResponse:
    """What the openai client's status errors read from a response, for an answer recorded in a batch line."""

    status_code: int
    request_id: str | None = None
    request: None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"x-request-id": self.request_id} if self.request_id else {}


def _status_error(status: int, body: Any, request_id: str | None = None) -> openai.APIStatusError:
    """The openai client's exception for an HTTP error the Batch API recorded in a line."""
    import openai

    classes: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
        404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
        429: openai.RateLimitError}
    kind = classes.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    response: Any = _RecordedResponse(status, request_id)
    inner = body.get("error") if isinstance(body, dict) else None
    message = str(inner.get("message")) if isinstance(inner, dict) and inner.get("message") else f"HTTP {status}"
    return kind(message, response=response, body=body)


class BatchAnswers:
    """The backend behind the response cache in a Batch API pass: answers from collected batches, raises the
    provider's error (as the online path words it) for a request that failed ATTEMPTS times, and records
    (defers) every other request for the next batch."""

    def __init__(self, online: OpenAIBackend, outcomes: dict[str, Outcome], key: Callable[[Request], str],
                 answered: dict[str, tuple[str, Reply]] | None = None) -> None:
        self.online = online
        self.outcomes = outcomes
        self.key = key
        self.name = online.name
        self.misses: dict[str, Request] = {}
        # key -> (paper label, reply) of every answer taken from a batch, for the accounting: a later pass
        # finds the same answer in the response cache, where it no longer counts as a call.
        self.answered = {} if answered is None else answered

    async def aclose(self) -> None:
        return None

    def _error(self, failure: dict[str, Any], request: Request) -> ModelError:
        """A line the provider could not run (expired, dropped, empty) as one line for the paper's row."""
        error = failure.get("error") or {}
        code, message = str(error.get("code") or "error"), str(error.get("message") or "no reason given")
        if code == "batch_expired":
            return ModelError(f"the Batch API did not run section {request.section_id} within its {WINDOW} window "
                              f"({ATTEMPTS} batches)",
                              "Re-run to submit it again, or draft this paper online without --batch-api.")
        return ModelError(f"the Batch API failed section {request.section_id} ({code}): "
                          f"{scrub(message, self.online.settings.api_key)}",
                          "Re-run to submit it again, or draft this paper online without --batch-api.")

    def _from_answers(self, key: str, outcome: Outcome, request: Request) -> Reply | None:
        """The first usable answer; an answer that spent its whole budget before any text teaches the endpoint
        profile more headroom (once, as online) and asks again; twice is the online path's error."""
        import openai.types.chat

        spent: list[tuple[BudgetSpent, int | None]] = []
        for body, limit in outcome.answers:
            try:
                reply = reply_from_completion(openai.types.chat.ChatCompletion.model_validate(body), request, limit)
            except BudgetSpent as exc:
                spent.append((exc, limit))
                continue
            except (EmptyCompletion, ValueError):
                outcome.failures.append({"error": {"code": "empty", "message": "an answer without text"}})
                continue
            self.answered[key] = (request.label, reply)
            return reply
        if spent:
            last, limit = spent[-1]
            if len(spent) >= ATTEMPTS:
                raise budget_error(request, last)
            profile = self.online.profile(request)
            if limit is not None and limit >= token_limit(request, profile):  # not learned yet: learn it now
                self.online.learn_headroom(request, profile)
        return None

    def _counted_failures(self, outcome: Outcome, request: Request) -> list[ModelError]:
        """The failures that count as attempts, as the online path words them. A parameter the endpoint
        rejected switches the endpoint profile instead (as online) and is not a failure."""
        counted: list[ModelError] = []
        for failure in outcome.failures:
            if "status" in failure:
                exc = _status_error(int(failure["status"]), failure["body"], failure.get("request_id"))
                param = rejected_parameter(exc)
                if param is not None:
                    if param not in self.online.body(request):
                        continue  # learned already: the next request no longer carries it
                    profile = self.online.profile(request)
                    adapted = adapt_profile(profile, param)
                    if adapted is not None:
                        self.online.remember_profile(request, adapted)
                        continue
                error = self.online.model_error(exc, request)
                if isinstance(error, ContextTooLong):
                    raise error  # the pipeline shrinks the paper context: a new request for the next round
                counted.append(error)
            else:
                counted.append(self._error(failure, request))
        return counted

    async def complete(self, request: Request) -> Reply:
        key = self.key(request)
        outcome = self.outcomes.get(key)
        if outcome is not None:
            reply = self._from_answers(key, outcome, request)
            if reply is not None:
                return reply
            failures = self._counted_failures(outcome, request)
            if len(failures) >= ATTEMPTS:
                raise failures[-1]
        self.misses[key] = request
        raise Deferred(f"section {request.section_id} waits for the Batch API")


# -- the provider's Batch API ----------------------------------------------------------------------------


class Provider:
    """Files and batches through the openai client, with the online path's retry policy for transient errors."""

    def __init__(self, online: OpenAIBackend) -> None:
        self.online = online
        self.client = online.client
        self.settings = online.settings

    async def _call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        import openai

        try:
            async for attempt in self.online.policy.retrying():
                with attempt:
                    return await make()
        except openai.NotFoundError as exc:
            if what.startswith(("upload", "create")):
                route = "/files" if what.startswith("upload") else "/batches"
                raise ModelError(f"{self.settings.public_endpoint} has no Batch API (404 on {route})",
                                 "Draft online: run the same command without --batch-api.") from exc
            raise ModelError(f"{self.settings.public_endpoint}: {what} not found (404)",
                             f"The provider no longer knows it; move {STATE_NAME} away to start afresh.") from exc
        except openai.AuthenticationError as exc:
            raise auth_error(self.settings.public_endpoint) from exc
        except openai.APIConnectionError as exc:
            raise ModelError(f"cannot connect to {self.settings.public_endpoint} ({what})",
                             "Check --base-url and the network; re-running resumes.") from exc
        except openai.APIStatusError as exc:
            message = scrub(str(exc.message), self.settings.api_key)
            raise ModelError(f"{self.settings.public_endpoint}: {what} failed ({exc.status_code}): {message}",
                             "Try again later; re-running resumes from the state file.") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def upload(self, name: str, data: bytes) -> str:
        made = await self._call(f"upload of {name}", lambda: self.client.files.create(
            file=(name, data, "application/jsonl"), purpose="batch"))
        return made.id

    async def create(self, file_id: str, round_number: int) -> Any:
        return await self._call(f"create batch from {file_id}", lambda: self.client.batches.create(
            input_file_id=file_id, endpoint=ENDPOINT, completion_window=WINDOW,
            metadata={"tool": "drafter", "round": str(round_number)}))

    async def find(self, file_id: str) -> Any | None:
        """The batch created from this input file, if there is one (among the most recent 500)."""

        async def scan() -> Any | None:
            seen = 0
            async for remote in self.client.batches.list(limit=100):
                if remote.input_file_id == file_id:
                    return remote
                seen += 1
                if seen >= 500:
                    break
            return None

        return await self._call(f"batch list (looking for {file_id})", scan)

    async def retrieve(self, batch_id: str) -> Any:
        return await self._call(f"batch {batch_id}", lambda: self.client.batches.retrieve(batch_id))

    async def cancel(self, batch_id: str) -> Any:
        return await self._call(f"batch {batch_id}", lambda: self.client.batches.cancel(batch_id))

    async def download(self, file_id: str) -> bytes:
        content = await self._call(f"file {file_id}", lambda: self.client.files.content(file_id))
        return content.content


def _update(batch: Submitted, remote: Any) -> None:
    batch.status = str(remote.status)
    batch.output_file_id = remote.output_file_id
    batch.error_file_id = remote.error_file_id
    counts = remote.request_counts
    if counts is not None:
        batch.counts = {"total": counts.total, "completed": counts.completed, "failed": counts.failed}
    errors = getattr(remote.errors, "data", None) or []
    batch.errors = [f"{e.code or 'error'}: {e.message or ''}" + (f" (line {e.line})" if e.line else "")
                    for e in errors]


async def _collect(provider: Provider, state: State, batch: Submitted) -> None:
    """Download a finished batch's output and error files into the state folder."""
    for file_id, suffix in ((batch.output_file_id, "output"), (batch.error_file_id, "errors")):
        if file_id:
            atomic_write(state.folder / f"{batch.id}-{suffix}.jsonl", await provider.download(file_id))
    batch.collected = True
    state.save()


async def _create(provider: Provider, state: State, batch: Submitted, recover: bool) -> None:
    """Create the batch for an uploaded file and record it; when recovering from a run that stopped between
    the two, adopt the batch that run may have created instead of creating a second one."""
    remote = await provider.find(batch.input_file_id) if recover else None
    if remote is None:
        remote = await provider.create(batch.input_file_id, batch.round)
    batch.id = remote.id
    _update(batch, remote)
    state.save()  # before anything waits: a re-run finds it and never submits these again


async def refresh(provider: Provider, state: State, wanted: set[str] | None = None) -> None:
    """Ask the provider about every batch in flight (or those holding `wanted` keys); collect finished ones."""
    for batch in state.batches:
        if batch.status == "uploaded":
            await _create(provider, state, batch, recover=True)
        if not batch.in_flight or wanted is None or batch.request_keys() & wanted:
            await _poll(provider, state, batch)


async def _poll(provider: Provider, state: State, batch: Submitted) -> None:
    """Ask the provider about one batch while it is in flight; collect its answers once it has ended."""
    if batch.in_flight:
        _update(batch, await provider.retrieve(batch.id))
        state.save()
    if not batch.in_flight and not batch.collected:
        await _collect(provider, state, batch)


def _failure_report(state: State, batch: Submitted) -> str:
    lines = list(batch.errors)
    errors_file = state.folder / f"{batch.id}-errors.jsonl"
    for line in _read_jsonl(errors_file)[:3]:
        lines.append(json.dumps(line.get("error") or line.get("response"), ensure_ascii=False)[:200])
    return "; ".join(lines) or "no reason given"


# -- submitting ----------------------------------------------------------------------------------------


def custom_id(request: Request, key: str) -> str:
    """`<paper slug>/<section>/<key prefix>`: names the paper and section, unique per request."""
    title = request.paper.title if request.paper is not None else request.label
    return f"{slugify(title)[:60]}/{request.section_id}/{key[:16]}"


def jsonl_files(lines: list[str], max_requests: int | None = None, max_bytes: int | None = None) -> list[bytes]:
    """JSONL lines split into files under the Batch API's limits (requests and bytes per file)."""
    max_requests = max_requests or MAX_REQUESTS
    max_bytes = max_bytes or MAX_BYTES
    files: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        data = (line + "\n").encode("utf-8")
        if current and (len(current) >= max_requests or size + len(data) > max_bytes):
            files.append(b"".join(current))
            current, size = [], 0
        current.append(data)
        size += len(data)
    if current:
        files.append(b"".join(current))
    return files


async def submit(provider: Provider, state: State, misses: dict[str, Request], round_number: int,
                 progress: Progress) -> list[Submitted]:
    """Write the requests as JSONL, upload, create one batch per file and record each in the state file."""
    rows: list[tuple[str, dict[str, Any], str]] = []
    for key, request in misses.items():
        cid = custom_id(request, key)
        body = provider.online.body(request)
        line = json.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body}, ensure_ascii=False)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        rows.append((cid, {"paper": request.label, "section": request.section_id, "key": key, "limit": limit},
                     line))
    made: list[Submitted] = []
    start = 0
    for data in jsonl_files([r[2] for r in rows]):
        count = data.count(b"\n")
        chunk = rows[start:start + count]
        start += count
        name = f"round{round_number}-{len(state.batches) + 1}.jsonl"
        atomic_write(state.folder / name, data)
        file_id = await provider.upload(name, data)
        batch = Submitted("", file_id, round_number, {cid: meta for cid, meta, _ in chunk})
        state.batches.append(batch)
        state.save()  # the upload is recorded before the batch is created: see `_create`
        await _create(provider, state, batch, recover=False)
        made.append(batch)
        progress(f"submitted batch {batch.id}: {count} requests ({name}, {len(data):,} bytes, file {file_id})")
    return made


# -- waiting ---------------------------------------------------------------------------------------------


async def wait(provider: Provider, state: State, batches: list[Submitted], poll: float | None,
               progress: Progress) -> None:
    """Poll until every batch given is finished (backing off from POLL_FIRST to POLL_MAX unless `poll` is set),
    reporting request counts on change; collect each as it finishes."""
    interval = poll if poll is not None else POLL_FIRST
    started = time.monotonic()
    last: dict[str, tuple[str, int, int]] = {}
    while True:
        for batch in batches:
            await _poll(provider, state, batch)
            seen = (batch.status, batch.counts.get("completed", 0), batch.counts.get("failed", 0))
            if last.get(batch.id) != seen:
                last[batch.id] = seen
                progress(f"batch {batch.id}: {batch.status}, {seen[1]}/{batch.counts.get('total', '?')} done"
                         + (f", {seen[2]} failed" if seen[2] else "") + f" ({time.monotonic() - started:.0f}s)")
        if not any(b.in_flight for b in batches):
            return
        await asyncio.sleep(interval)
        if poll is None:
            interval = min(POLL_MAX, interval * POLL_FACTOR)


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class BatchApiResult:
    """The batch result (one row per entry) plus what happened at the provider."""

    batch: BatchResult
    created: list[Submitted] = field(default_factory=list)
    waiting: list[Submitted] = field(default_factory=list)  # still in flight (--no-wait)
    cancelled: list[Submitted] = field(default_factory=list)
    passes: int = 0
    seconds_waiting: float = 0.0
    state_file: Path | None = None


def _account(rows: list[EntryResult], answered: dict[str, tuple[str, Reply]]) -> None:
    """Tokens per paper: every batch answer this run took, whichever pass drafted the paper."""
    for row in rows:
        if row.status != DONE:
            continue
        replies = [reply for label, reply in answered.values() if label == row.entry.label]
        row.requests = len(replies)
        row.cache_hits = max(0, row.sections - row.requests)
        row.prompt_tokens = sum(r.prompt_tokens for r in replies)
        row.completion_tokens = sum(r.completion_tokens for r in replies)


async def _pass(entries: list[Entry], settings: Settings, out_dir: Path, force: bool, prompts: PromptSet,
                answers: BatchAnswers, workers: int | None,
                figures: bool = False) -> BatchResult:
    backend: Any = answers
    if settings.cache:
        backend = CachedBackend(answers, ResponseCache(settings.cache_dir), settings.endpoint)
    # Figures only once a paper's sections are all answered: one still waiting for the provider exports nothing
    # now and everything in the pass that writes its draft.
    return await run_batch(entries, settings, out_dir, force, Reporter(), workers=workers, backend=backend,
                           prompts=prompts, figures=figures, export_after=True)


def _open_state(out_dir: Path, settings: Settings) -> State:
    """The folder's state, refused when its batches in flight belong to another endpoint."""
    state = load_state(out_dir)
    recorded = public_url(state.endpoint)
    if recorded and recorded != settings.public_endpoint and any(b.in_flight for b in state.batches):
        raise InputError(f"the batches in flight in {state.path} were submitted to {recorded}, not "
                         f"{settings.public_endpoint}", f"Use --base-url {recorded} to collect them, or another "
                         "--out folder.")
    state.endpoint, state.model = settings.public_endpoint, settings.model  # the state never holds credentials
    return state


async def _cancel_in_flight(provider: Provider, state: State, outcome: BatchApiResult, say: Progress) -> None:
    """`--cancel`: ask the provider to cancel every batch of this folder still in flight."""
    await refresh(provider, state)
    for batch in state.batches:
        if batch.in_flight and batch.status != "cancelling":
            _update(batch, await provider.cancel(batch.id))
            state.save()
            outcome.cancelled.append(batch)
            say(f"cancelling batch {batch.id} ({batch.status}); re-run without --cancel to collect what "
                "it finished and submit the rest again")
    if not outcome.cancelled:
        say("no batch in flight to cancel")


def _raise_if_failed(state: State, misses: dict[str, Request]) -> None:
    """A batch the provider failed, holding requests still missing: stop with its report."""
    for batch in state.batches:
        if batch.status == "failed" and batch.request_keys() & set(misses):
            raise ModelError(f"batch {batch.id} failed at the provider: {_failure_report(state, batch)}",
                             f"The state is kept in {state.path} for inspection; move it away to submit again, "
                             "or draft online without --batch-api.")


@dataclass
class _Rounds:
    """The submission rounds of one run: the last round number, how many this run submitted, and whether more
    may go (not after someone cancelled a batch)."""

    number: int
    submitted: int = 0
    may_submit: bool = True


async def _submit_misses(provider: Provider, state: State, misses: dict[str, Request], papers: int,
                         rounds: _Rounds, say: Progress) -> list[Submitted]:
    """Submit the requests a pass missed that no batch in flight holds; the batches created."""
    in_flight = state.in_flight_keys()
    new = {k: r for k, r in misses.items() if k not in in_flight}
    if not new or not rounds.may_submit:
        return []
    rounds.submitted += 1
    if rounds.submitted > MAX_ROUNDS:
        raise ModelError(f"the section requests kept changing between passes ({MAX_ROUNDS} rounds submitted in "
                         "this run)", "Check that the prompts and the papers stay the same while a batch runs, "
                         "then re-run; the state is kept.")
    rounds.number += 1
    say(f"round {rounds.number}: {len(new)} requests for {papers} papers")
    return await submit(provider, state, new, rounds.number, say)


def _final_rows(results: list[EntryResult | None], entries: list[Entry], answered: dict[str, tuple[str, Reply]],
                waiting: bool) -> list[EntryResult]:
    """One row per entry, tokens counted; a paper still pending with nothing in flight was cancelled."""
    rows = [r if r is not None else EntryResult(e) for r, e in zip(results, entries, strict=True)]
    _account(rows, answered)
    for row in rows:
        if row.status == PENDING and not waiting:
            row.status, row.exit_code = FAILED, 1
            row.error = "not drafted: its batch was cancelled. Re-run to submit the rest again"
    return rows


async def run_batch_api(entries: list[Entry], settings: Settings, out_dir: Path, force: bool = False, *,
                        wait_for_results: bool = True, cancel: bool = False, poll: float | None = None,
                        progress: Progress | None = None, workers: int | None = None,
                        prompts: PromptSet | None = None, figures: bool = True) -> BatchApiResult:
    """Draft every entry into `out_dir` through the Batch API; resumable from the state file in `out_dir`.

    Each pass drafts what is still pending from the answers collected so far; the requests it misses are
    submitted (once), and the run waits for the batches holding them, then passes again.
    `figures`: export each paper's figures next to its draft, in the pass that writes the draft."""
    if settings.offline:
        raise InputError("--batch-api needs a model endpoint (drafting offline makes no model calls)",
                         "Set OPENAI_API_KEY (or --base-url and --model), or drop --batch-api.")
    say = progress or (lambda line: None)
    # Lookups cached at submission stay valid while the batch may take (see LOOKUP_AGE): the drafts sent and the
    # drafts written read the same looked-up data.
    lookups_kept = settings.with_overrides(lookup_age=max(settings.lookup_age, LOOKUP_AGE))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prompts = prompts or PromptSet(settings.prompts_dir)
    state = _open_state(out_dir, settings)
    online = OpenAIBackend(settings)
    provider = Provider(online)
    keyer = CachedBackend(online, ResponseCache(settings.cache_dir), settings.endpoint)
    results: list[EntryResult | None] = [None] * len(entries)
    outcome = BatchApiResult(BatchResult([]), state_file=state.path)
    started = time.perf_counter()
    answered: dict[str, tuple[str, Reply]] = {}
    try:
        if cancel:
            await _cancel_in_flight(provider, state, outcome, say)
            outcome.batch = BatchResult([EntryResult(e) for e in entries])
            return outcome
        await refresh(provider, state)
        rounds = _Rounds(max((b.round for b in state.batches), default=0))
        while True:
            pending = [i for i, r in enumerate(results) if r is None or r.status == PENDING]
            answers = BatchAnswers(online, load_outcomes(state), keyer.key, answered)
            run = await _pass([entries[i] for i in pending], lookups_kept, out_dir, force, prompts, answers,
                              workers, figures)
            outcome.passes += 1
            for i, row in zip(pending, run.results, strict=True):
                results[i] = row
            waiting_labels = {row.entry.label for row in run.results if row.status == PENDING}
            misses = {k: r for k, r in answers.misses.items() if r.label in waiting_labels}
            _raise_if_failed(state, misses)
            outcome.created += await _submit_misses(provider, state, misses, len(waiting_labels), rounds, say)
            holding = [b for b in state.batches if b.in_flight and b.request_keys() & set(misses)]
            if not holding or not wait_for_results:
                outcome.waiting = [] if wait_for_results else holding
                break
            before = time.perf_counter()
            await wait(provider, state, holding, poll, say)
            outcome.seconds_waiting += time.perf_counter() - before
            if any(b.status == "cancelled" for b in holding):
                rounds.may_submit = False  # someone cancelled: collect what is there, submit nothing more now
    finally:
        await online.aclose()
    outcome.batch = BatchResult(_final_rows(results, entries, answered, bool(outcome.waiting)),
                                seconds=time.perf_counter() - started)
    return outcome


__all__ = ["ATTEMPTS", "BatchAnswers", "BatchApiResult", "Outcome", "Provider", "State", "Submitted",
           "custom_id", "jsonl_files", "load_outcomes", "load_state", "run_batch_api"]
