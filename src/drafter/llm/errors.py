"""What an endpoint's failure means: transient or not, refused, how long it asked us to wait, and the one-line
ModelError the user sees (the online path and the Batch API word every failure the same way)."""

from __future__ import annotations

import email.utils
import re
import time

from drafter.errors import ModelError
from drafter.llm.types import ContextTooLong, EmptyCompletion, MalformedCompletion, NoProgress

# OpenAI, vLLM, llama.cpp ("exceeds the available context size", type exceed_context_size_error), Ollama ("the
# prompt is longer than the context length currently available", "the input length exceeds the context length"),
# LM Studio ("Trying to keep the first N tokens when context the overflows. However, the model is loaded with
# context length of only M tokens", "The number of tokens to keep from the initial prompt is greater than the
# context length (n_keep: N>= n_ctx: M)") and text-generation-inference ("`inputs` tokens + `max_new_tokens` must
# be <= 4096", "`inputs` must have less than 4096 tokens", router/src/validation.rs).
CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|exceeds? the (available )?context|context size|"
    r"too many tokens|prompt is too long|input is too long|exceed_context_size|longer than the context length|"
    r"inputs`? tokens \+ `?max_new_tokens`? must be|inputs`? must have less than \d+ tokens|"
    r"when context the overflows|greater than the context length",
    re.I,
)
# The sizes a context error gives: the window (llama.cpp's n_ctx field; OpenAI and vLLM "maximum context length
# is N tokens"; TGI "must be <= N"; llama.cpp's newer "exceeds the available context size (N tokens)") and the
# prompt as the server counted it (llama.cpp's n_prompt_tokens; "resulted in N tokens", "N in the messages",
# "has N input tokens", TGI "Given: N `inputs` tokens", llama.cpp "request (N tokens)"; LM Studio's n_ctx and
# n_keep, "context length of only M", "keep the first N tokens").
WINDOW_SIZE = re.compile(r"maximum context length is (\d+)|must be <= (\d+)|context size \((\d+) tokens\)|"
                         r"context length of only (\d+)|n_ctx: (\d+)", re.I)
PROMPT_SIZE = re.compile(r"resulted in (\d+) tokens|\((\d+) in the messages|has (\d+) input tokens|"
                         r"given: (\d+) `?inputs|request \((\d+) tokens\)|keep the first (\d+) tokens|"
                         r"n_keep: (\d+)", re.I)
# A refused connection usually means the local server is not running: say so after a short while instead of
# backing off for a minute. Timeouts and dropped connections keep the full retry budget.
REFUSED_ATTEMPTS = 3
# Tries of a request to an endpoint that accepts connections but has never answered anything this run (no
# response headers, no GET /props answer): a second silent wait of --timeout tells as much as a seventh would.
SILENT_ATTEMPTS = 2


def status_of(exc: BaseException | None) -> int | None:
    return getattr(exc, "status_code", None)


def error_code(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    code = getattr(exc, "code", None) or ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = code or str(inner.get("code") or inner.get("type") or "")
    return str(code)


def server_message(exc: BaseException) -> str:
    """What the server said: its error object's message, or the error itself when it is only a string (TGI's
    `{"error": "...", "error_type": ...}`, Ollama's native `{"error": "..."}`)."""
    body = getattr(exc, "body", None)
    if isinstance(body, str) and body.strip():
        return body.strip()
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str) and inner.strip():
            return inner.strip()
    return str(getattr(exc, "message", "") or exc)


def context_sizes(exc: BaseException, message: str) -> tuple[int | None, int | None]:
    """(window, prompt) in tokens as a context error gives them, each None where it does not."""
    body = getattr(exc, "body", None)
    fields = body.get("error", body) if isinstance(body, dict) else None
    found: list[int | None] = []
    for name, pattern in (("n_ctx", WINDOW_SIZE), ("n_prompt_tokens", PROMPT_SIZE)):
        value = fields.get(name) if isinstance(fields, dict) else None
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            match = pattern.search(message)
            value = int(next(g for g in match.groups() if g)) if match else None
        found.append(value)
    return found[0], found[1]


def is_quota(exc: BaseException) -> bool:
    return "insufficient_quota" in error_code(exc) or "quota" in str(getattr(exc, "message", "")).lower()


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: rate limits (not exhausted quota), server errors, timeouts, dropped connections, a request
    that made no progress, an empty answer (not one that spent its budget: that gets more room instead)."""
    import openai  # imported on first use: it costs about a second at start-up

    from drafter.llm.types import BudgetSpent

    if isinstance(exc, BudgetSpent):
        return False
    if isinstance(exc, EmptyCompletion | NoProgress | openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.RateLimitError):
        return not is_quota(exc)
    status = status_of(exc)
    return isinstance(exc, openai.APIStatusError) and status is not None and (status >= 500 or status == 408)


LOADING = re.compile(r"\bloading( the)? model\b|\bmodel is (still )?loading\b|\bmodel (is )?not (yet )?loaded\b", re.I)


def is_loading(exc: BaseException | None) -> bool:
    """A 503 saying the server is still loading its model (llama.cpp: `{"error": {"code": 503, "message": "Loading
    model", "type": "unavailable_error"}}` until the model is in memory): it is starting, not failing."""
    return exc is not None and status_of(exc) == 503 and bool(LOADING.search(server_message(exc)))


def is_refused(exc: BaseException | None) -> bool:
    """The endpoint refused the connection (nothing listens there), as opposed to a timeout or a drop."""
    import openai

    if not isinstance(exc, openai.APIConnectionError) or isinstance(exc, openai.APITimeoutError):
        return False
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower() or (
                "all connection attempts failed" in str(cause).lower()):
            return True
        cause = cause.__cause__
    return False


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header value (a number of seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def scrub(text: str, secret: str | None) -> str:
    """Remove an API key (and OpenAI-style key fragments) from text shown to the user."""
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"\bsk-[A-Za-z0-9_\-*]{6,}", "sk-***", text)


def auth_error(where: str) -> ModelError:
    """The endpoint rejected the API key: the same line for every call that meets it."""
    return ModelError(f"{where} rejected the API key (401)", "Check OPENAI_API_KEY or DRAFTER_API_KEY, or use "
                      "--offline.")


def model_error(exc: BaseException, *, where: str, model: str, section: str, tries: int, timeout: float,
                secret: str | None) -> ModelError:
    """The one line a failed chat request reports (after its retries)."""
    import openai

    message = scrub(server_message(exc), secret)
    if isinstance(exc, MalformedCompletion):
        return ModelError(f"{where} sent a malformed answer for section {section} ({tries} tries): {exc}",
                          "Check that --base-url points at an OpenAI-compatible /v1 endpoint.")
    if isinstance(exc, EmptyCompletion):
        return ModelError(f"model {model} returned an empty answer for section {section} ({tries} tries)",
                          "Try again, raise --context-tokens or use a stronger model.")
    if isinstance(exc, openai.AuthenticationError):
        return auth_error(where)
    if isinstance(exc, openai.PermissionDeniedError):
        return ModelError(f"{where} denied access to model {model} (403): {message}",
                          "Check that your key may use this model.")
    if isinstance(exc, openai.NotFoundError):
        return ModelError(f"model {model!r} not found at {where} (404)",
                          "Check --model against the models your server lists (GET /models).")
    if isinstance(exc, openai.RateLimitError) and is_quota(exc):
        return ModelError(f"quota exhausted at {where} (429 insufficient_quota)",
                          "Add credit or switch model; finished sections are cached, so re-running resumes.")
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError) and CONTEXT_PATTERNS.search(
            f"{error_code(exc)} {message}"):
        window, prompt = context_sizes(exc, message)
        error = ContextTooLong(f"section {section}: prompt too long for {model}'s context window"
                               + (f" of {window} tokens" if window else "") + f": {message}",
                               "Lower --context-tokens, or give the server a larger context window (a server "
                               "running several requests at once may split its window among them).")
        error.window, error.prompt = window, prompt
        return error
    if is_loading(exc):
        return ModelError(f"{where} was still loading its model after {timeout:g}s when section {section} gave up "
                          f"(503: {message})", "Run again once the server has loaded it (GET /health answers 200), "
                          "or raise --timeout for a slow load.")
    if isinstance(exc, NoProgress) and exc.silent:
        tries = min(tries, SILENT_ATTEMPTS)
        return ModelError(f"{where} accepts connections but never answered: nothing came for section {section} in "
                          f"{timeout:g}s ({tries} tries)", "Check that --base-url is the model server's address "
                          "and that it is not stuck; raise --timeout if it loads its model slowly.")
    if isinstance(exc, NoProgress | openai.APITimeoutError):
        return ModelError(f"{where} sent nothing for section {section} for {timeout:g}s ({tries} tries)",
                          "Check that the server is running and not stuck; raise --timeout for a slow one.")
    if isinstance(exc, openai.APIConnectionError):
        tries = min(tries, REFUSED_ATTEMPTS) if is_refused(exc) else tries
        return ModelError(f"cannot connect to {where} ({tries} tries)",
                          "Check --base-url and that the server is running, or use --offline.")
    status = status_of(exc)
    return ModelError(f"{where} failed for section {section}" + (f" ({status})" if status else "")
                      + f": {message}", "Try again later; finished sections are cached.")
