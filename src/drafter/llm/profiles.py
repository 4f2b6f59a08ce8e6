"""What an endpoint accepts and how it serves: the request body per (endpoint, model) profile, learned from the
endpoint's 400s, and the number of requests the server runs at once; both kept in `<cache>/endpoints.json`.

Endpoints differ in what a request may carry: reasoning models (o1/o3/o4-mini, the gpt-5 family, and any
deployment name an Azure or proxy user gives them) reject `max_tokens` and any `temperature` but 1, and spend
hidden reasoning tokens out of the completion budget; some servers reject `stream_options` or streaming itself.
A 400 naming a parameter as unsupported switches the profile and retries at once (not a failure), and the switch
is remembered for the run and in the cache directory, so the next run starts right.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from drafter.config import public_url
from drafter.files import atomic_write
from drafter.llm.errors import server_message, status_of
from drafter.llm.types import Request

log = logging.getLogger(__name__)

# Extra completion tokens for hidden reasoning on top of a section's visible budget. A limit is a cap, not a
# spend: reasoning models are billed for what they use.
REASONING_HEADROOM = 4096
MIN_BUDGET_HEADROOM = 2048  # at least this much more after an answer spent its whole budget before any text
# Known reasoning models (matched after any "provider/" prefix); deployment names are learned from 400s.
_REASONING_NAME = re.compile(r"^(?:o[1-9](?:-(?:mini|pro|preview|deep-research)[\w.-]*)?|o[1-9]-\d[\w.-]*|"
                             r"gpt-5(?![\w.-]*chat)[\w.-]*)$", re.I)
ADAPTABLE = ("max_tokens", "max_completion_tokens", "temperature", "reasoning_effort", "stream_options", "stream")
_PARAM = r"max_completion_tokens|max_tokens|temperature|reasoning_effort|stream_options|stream"
_REJECTION = re.compile(rf"(?:unsupported|not supported|unrecognized|unknown|not permitted|not allowed|extra inputs|"
                        rf"does not support)[^\n]{{0,60}}?\b({_PARAM})\b|\b({_PARAM})\b'?"
                        r"[^\n]{0,30}?(?:is not supported|is unsupported|not permitted|is not allowed|"
                        r"does not support)", re.I)


@dataclass(frozen=True)
class Profile:
    """How to build a request body for one (endpoint, model)."""

    token_param: str = "max_tokens"  # or "max_completion_tokens" (reasoning models)
    temperature: bool = True  # send the temperature (reasoning models take only their default)
    headroom: int = 0  # completion tokens added to each section's budget for hidden reasoning
    effort: bool = True  # send reasoning_effort when the user asked for one
    stream: bool = True  # ask for the answer as a stream of tokens (online only; the Batch API never streams)
    stream_usage: bool = True  # ...with the usage in a last chunk (stream_options.include_usage)

    @property
    def reasoning(self) -> bool:
        return self.token_param == "max_completion_tokens"


REASONING = Profile("max_completion_tokens", temperature=False, headroom=REASONING_HEADROOM)


def is_reasoning_name(model: str) -> bool:
    """o1/o3/o4-mini..., the gpt-5 family (not the chat variants), with or without a "provider/" prefix."""
    return bool(_REASONING_NAME.match(model.rsplit("/", 1)[-1].strip()))


def default_profile(model: str) -> Profile:
    """The profile a model starts with before the endpoint says otherwise: by its name."""
    return REASONING if is_reasoning_name(model) else Profile()


def adapt_profile(profile: Profile, param: str) -> Profile | None:
    """The profile after the endpoint rejected `param`, or None when there is nothing left to change.

    A rejected max_tokens or temperature means a reasoning model (the two come together): switch to
    max_completion_tokens, drop the temperature and add headroom at once, so each request adapts only once.
    A rejected stream_options drops the usage chunk; a rejected stream asks for whole answers.
    """
    if param in ("max_tokens", "temperature") and (profile.token_param == "max_tokens" or profile.temperature):
        if param == "temperature" and profile.token_param == "max_tokens" and not profile.temperature:
            return None
        return replace(profile, token_param="max_completion_tokens", temperature=False,
                       headroom=max(profile.headroom, REASONING_HEADROOM))
    if param == "max_completion_tokens" and profile.token_param == "max_completion_tokens":
        return replace(profile, token_param="max_tokens")
    if param == "reasoning_effort" and profile.effort:
        return replace(profile, effort=False)
    if param == "stream_options" and profile.stream and profile.stream_usage:
        return replace(profile, stream_usage=False)
    if param == "stream" and profile.stream:
        return replace(profile, stream=False, stream_usage=False)
    return None


def rejected_parameter(exc: BaseException) -> str | None:
    """The request parameter a 400/422 names as unsupported (OpenAI: code unsupported_parameter or
    unsupported_value with `param`; proxies and local servers: in the message), else None."""
    if status_of(exc) not in (400, 422):
        return None
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("param") in ADAPTABLE and str(inner.get("code") or "") in (
            "unsupported_parameter", "unsupported_value", "invalid_request_body", ""):
        return str(inner["param"])
    match = _REJECTION.search(server_message(exc))
    return (match.group(1) or match.group(2)).lower() if match else None


def endpoint_key(endpoint: str) -> str:
    """The endpoint as it is remembered: scheme, host, port and path, never credentials or a query string."""
    return (public_url(endpoint) or endpoint).rstrip("/")


class Profiles:
    """What each (endpoint, model) accepts and how many requests each endpoint serves at once: learned during the
    run, kept in `<cache>/endpoints.json`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: dict[str, Profile] = {}
        self.slots: dict[str, int] = {}
        if path is None:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # none yet, or damaged: learned again and rewritten
        if not isinstance(data, dict):
            return
        profiles = data.get("profiles", data)  # older files hold profiles only
        for key, value in (profiles.items() if isinstance(profiles, dict) else []):
            with contextlib.suppress(TypeError, ValueError):
                profile = Profile(**value)
                if profile.token_param in ("max_tokens", "max_completion_tokens"):
                    self.known[key] = profile
        slots = data.get("slots")
        for key, value in (slots.items() if isinstance(slots, dict) else []):
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                self.slots[key] = value

    @staticmethod
    def key(endpoint: str, model: str) -> str:
        return f"{endpoint_key(endpoint)} {model}"

    def get(self, key: str, model: str) -> Profile:
        return self.known.get(key) or default_profile(model)

    def remember(self, key: str, profile: Profile) -> None:
        if self.known.get(key) == profile:
            return
        self.known[key] = profile
        self._save()

    def remember_slots(self, endpoint: str, slots: int) -> None:
        key = endpoint_key(endpoint)
        if self.slots.get(key) == slots:
            return
        self.slots[key] = slots
        self._save()

    def known_slots(self, endpoint: str) -> int | None:
        return self.slots.get(endpoint_key(endpoint))

    def _save(self) -> None:
        if self.path is None:
            return
        data: dict[str, Any] = {"profiles": {k: asdict(v) for k, v in sorted(self.known.items())},
                                "slots": dict(sorted(self.slots.items()))}
        try:
            atomic_write(self.path, json.dumps(data, indent=1))
        except OSError as exc:  # a read-only cache costs only the memory across runs
            log.warning("cannot save endpoint profiles to %s: %s", self.path, exc)


def token_limit(request: Request, profile: Profile) -> int:
    """The completion-token limit a request carries: the section's budget plus the profile's headroom."""
    headroom = profile.headroom * (2 if request.reasoning_effort == "high" and profile.reasoning else 1)
    return request.max_tokens + headroom


def chat_body(request: Request, profile: Profile | None = None) -> dict[str, Any]:
    """The chat-completions body for a request as this endpoint profile takes it (by default: the profile the
    model's name suggests): model, messages, the token limit, temperature and reasoning effort. Streaming is
    the online client's business (see OpenAIBackend), not part of the body a Batch API line carries."""
    profile = profile or default_profile(request.model)
    body: dict[str, Any] = {"model": request.model, "messages": request.messages,
                            profile.token_param: token_limit(request, profile)}
    if profile.temperature:
        body["temperature"] = request.temperature
    if request.reasoning_effort and profile.effort:
        body["reasoning_effort"] = request.reasoning_effort
    return body
