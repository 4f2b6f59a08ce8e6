"""Flags, environment and config file -> Settings (flag > DRAFTER_* > OPENAI_* > config file > defaults)."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from drafter.errors import ConfigError
from drafter.plan import LLM_SECTIONS

APP = "drafter"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_JOBS = 12


def config_dir() -> Path:
    """Where the config file lives (platformdirs; honours XDG_CONFIG_HOME, or DRAFTER_CONFIG_DIR)."""
    override = os.environ.get("DRAFTER_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP))


def default_cache_dir() -> Path:
    """Where extracted papers and LLM responses are cached (honours XDG_CACHE_HOME, or DRAFTER_CACHE_DIR)."""
    override = os.environ.get("DRAFTER_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP))


def config_file() -> Path:
    return config_dir() / "config.toml"


def public_url(url: str | None) -> str | None:
    """An endpoint URL fit to record in a file or show in a message: no user:password@ and no query string (keys
    hide there)."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep none rather than fail on a message
        port = None
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, host + (f":{port}" if port else ""), parts.path, "", ""))


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens."""

    input: float
    output: float


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    offline: bool = False
    jobs: int = DEFAULT_JOBS
    timeout: float = 120.0
    retries: int = 6
    max_backoff: float = 60.0
    temperature: float = 0.3
    context_tokens: int = 12000
    cache: bool = True
    # Sections declaring `after: X` wait for X and read it (one more round trip); off by default for speed.
    chain: bool = False
    # Look up citations (Semantic Scholar) and equations (arXiv source): None = on unless drafting offline.
    enrich: bool | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    prompts_dir: Path | None = None
    prices: dict[str, Price] = field(default_factory=dict)
    # The Batch API's price relative to online calls (OpenAI: half price), for `batch --batch-api` costs.
    batch_discount: float = 0.5
    reasoning_effort: str | None = None  # low | medium | high, sent to endpoints that take it
    # Seconds a looked-up answer (Semantic Scholar, the arXiv source's equations) is reused from the cache; the
    # Batch API raises it so that lookups made at submission still hold when the batch is collected.
    lookup_age: float = 24 * 3600
    max_tokens: int | None = None  # every section's output budget (flag/env, or `max_tokens = N` in the file)
    # `export --to devto`: the blog a post first appears on; canonical_url = <this>/<slug>/
    canonical_base_url: str | None = None
    section_max_tokens: dict[str, int] = field(default_factory=dict)  # `[max_tokens]` table: per section
    # Where each setting came from, e.g. {"model": "flag", "api_key": "OPENAI_API_KEY"}; for --debug output.
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    @property
    def public_endpoint(self) -> str:
        """The endpoint as files and messages show it: without credentials or query."""
        return public_url(self.endpoint) or self.endpoint

    @property
    def backend_label(self) -> str:
        return "offline" if self.offline else self.model

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollar cost of that usage, or None when the config holds no price for the model."""
        price = self.prices.get(self.model)
        if price is None:
            return None
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000

    @property
    def enrich_on(self) -> bool:
        """Whether drafting looks things up outside: as set, else on unless the draft is offline."""
        return (not self.offline) if self.enrich is None else self.enrich

    def budget(self, section_id: str, declared: int) -> int:
        """A section's output budget: --max-tokens / DRAFTER_MAX_TOKENS, else the config's [max_tokens] entry
        for the section, else its `max_tokens = N`, else what the prompt declares."""
        if self.max_tokens is not None and self.origins.get("max_tokens") in ("flag", "DRAFTER_MAX_TOKENS"):
            return self.max_tokens
        return self.section_max_tokens.get(section_id) or self.max_tokens or declared

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_ENV_KEYS = {
    "model": ("DRAFTER_MODEL",),
    "base_url": ("DRAFTER_BASE_URL", "OPENAI_BASE_URL"),
    "api_key": ("DRAFTER_API_KEY", "OPENAI_API_KEY"),
    "jobs": ("DRAFTER_JOBS",),
    "timeout": ("DRAFTER_TIMEOUT",),
    "retries": ("DRAFTER_RETRIES",),
    "context_tokens": ("DRAFTER_CONTEXT_TOKENS",),
    "prompts_dir": ("DRAFTER_PROMPTS",),
    "offline": ("DRAFTER_OFFLINE",),
    "enrich": ("DRAFTER_ENRICH",),
    "reasoning_effort": ("DRAFTER_REASONING_EFFORT",),
    "max_tokens": ("DRAFTER_MAX_TOKENS",),
    "canonical_base_url": ("DRAFTER_CANONICAL_BASE_URL",),
}
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
_TYPES: dict[str, type] = {"jobs": int, "retries": int, "context_tokens": int, "timeout": float, "offline": bool,
                           "enrich": bool, "temperature": float, "max_backoff": float, "batch_discount": float,
                           "max_tokens": int}
_FILE_KEYS = {"model", "base_url", "api_key", "jobs", "timeout", "retries", "context_tokens", "prompts_dir",
              "offline", "temperature", "max_backoff", "cache_dir", "batch_discount", "enrich", "reasoning_effort",
              "max_tokens", "canonical_base_url"}
# What a draft records about how it was made; `redo` uses it where no flag or environment variable says.
RECORDED_KEYS = ("model", "base_url")


# Every numeric setting's range, the same whichever source sets it (the flags' own min= and max= say the same).
_LIMITS: dict[str, tuple[float | None, float | None, str]] = {
    "jobs": (1, 256, "Use --jobs 1 to 256."),
    "timeout": (1, None, "Use --timeout 1 or more (seconds)."),
    "retries": (0, 100, "Use 0 (no retry) to 100."),
    "context_tokens": (500, None, "Raise --context-tokens."),
    "max_tokens": (1, None, "Use --max-tokens 1 or more."),
    "max_backoff": (0, None, "Use 0 or more seconds."),
    "temperature": (0, 2, "Use 0 to 2."),
}
_STRINGS = {"model", "base_url", "api_key", "reasoning_effort", "prompts_dir", "cache_dir"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    kind = _TYPES.get(name)
    invalid = ConfigError(f"{origin}: {name} = {value!r} is not a valid {kind.__name__ if kind else 'value'}",
                          "Fix or remove that setting.")
    if name in _STRINGS and not isinstance(value, str | Path):  # a TOML list or number where a name belongs
        raise ConfigError(f"{origin}: {name} = {value!r} must be one text value", f'Example: {name} = "..."')
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind is not None:
            if isinstance(value, bool | list | dict) or (kind is int and isinstance(value, float)
                                                          and not value.is_integer()):
                raise invalid  # true is not 1 job, 2.7 is not 2
            return _in_limits(name, kind(value), origin)
    except (TypeError, ValueError) as exc:
        raise invalid from exc
    if name in ("prompts_dir", "cache_dir"):
        return Path(str(value)).expanduser()
    return str(value)


def _in_limits(name: str, number: float, origin: str) -> float:
    low, high, hint = _LIMITS.get(name, (None, None, ""))
    if not math.isfinite(number):
        raise ConfigError(f"{origin}: {name} = {number} is not a finite number", hint or "Use a number.")
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
        raise ConfigError(f"{origin}: {name} = {number:g} is out of range (must be {bounds})", hint)
    return number


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", "Fix the file or delete it.") from exc
    unknown = sorted(set(data) - _FILE_KEYS - {"prices"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}",
                          f"Known settings: {', '.join(sorted(_FILE_KEYS | {'prices'}))}.")
    return data


def _prices(raw: Any, path: Path) -> dict[str, Price]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [prices] must be a table of model = {{input = $, output = $}}",
                          'Example: [prices."gpt-4o-mini"] input = 0.15, output = 0.6 (dollars per 1M tokens).')
    out: dict[str, Price] = {}
    for model, value in raw.items():
        try:
            out[model] = Price(float(value["input"]), float(value["output"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: price for {model!r} needs numeric input and output (dollars per 1M tokens)",
                              'Example: [prices."gpt-4o-mini"] input = 0.15, output = 0.6.') from exc
    return out


def _section_budgets(raw: Any, path: Path) -> tuple[int | None, dict[str, int]]:
    """`max_tokens = N` (every section) or a `[max_tokens]` table of section = N."""
    example = "Example: max_tokens = 1500, or [max_tokens] then math = 1500."
    if isinstance(raw, dict):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw.values()):
            raise ConfigError(f"{path}: [max_tokens] values must be positive whole numbers of tokens", example)
        unknown = sorted(set(raw) - set(LLM_SECTIONS))
        if unknown:
            raise ConfigError(f"{path}: [max_tokens] names unknown section(s) {', '.join(unknown)}",
                              f"Sections the model drafts: {', '.join(LLM_SECTIONS)}.")
        return None, {str(k): int(v) for k, v in raw.items()}
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw, {}
    raise ConfigError(f"{path}: max_tokens must be a positive whole number or a table of section = tokens", example)


def load_settings(flags: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                  file: Path | None = None, recorded: dict[str, Any] | None = None) -> Settings:
    """Resolve settings: flag > DRAFTER_* env > OPENAI_* env > recorded (what a draft says it was made with, for
    `redo`) > config file > defaults."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    recorded = {k: v for k, v in (recorded or {}).items() if k in RECORDED_KEYS and v}
    env = dict(os.environ if env is None else env)
    path = file or config_file()
    from_file = _read_config_file(path)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if "max_tokens" in from_file:
        file_budget, values["section_max_tokens"] = _section_budgets(from_file.pop("max_tokens"), path)
        if file_budget is not None:
            from_file["max_tokens"] = file_budget
    for name in _FILE_KEYS:
        if name in flags:
            values[name], origins[name] = _coerce(name, flags[name], "flag"), "flag"
            continue
        for var in _ENV_KEYS.get(name, ()):
            if env.get(var):
                values[name], origins[name] = _coerce(name, env[var], var), var
                break
        else:
            if name in recorded:
                values[name], origins[name] = _coerce(name, recorded[name], "draft"), "draft"
            elif name in from_file:
                values[name], origins[name] = _coerce(name, from_file[name], str(path)), str(path)
    for name in ("cache", "chain"):
        if name in flags:
            values[name] = bool(flags[name])
    if "prices" in from_file:
        values["prices"] = _prices(from_file["prices"], path)
    if not 0 < values.get("batch_discount", 0.5) <= 1:
        raise ConfigError(f"batch_discount must be above 0 and at most 1 (got {values['batch_discount']})",
                          "Use the provider's Batch API price as a fraction of the online price, e.g. 0.5.")
    effort = values.get("reasoning_effort")
    if effort is not None and str(effort).lower() not in REASONING_EFFORTS:
        raise ConfigError(f"reasoning effort {effort!r} ({origins.get('reasoning_effort')}) is not one of "
                          f"{', '.join(REASONING_EFFORTS)}", "Use --reasoning-effort low, medium or high.")
    if effort is not None:
        values["reasoning_effort"] = str(effort).lower()
    base_url = values.get("base_url")
    canonical = values.get("canonical_base_url")
    if canonical and not str(canonical).startswith(("http://", "https://")):
        raise ConfigError(f"canonical_base_url {canonical!r} ({origins.get('canonical_base_url')}) must start with "
                          "http:// or https://", "Example: canonical_base_url = \"https://blog.example.com/posts\"")
    if base_url and not str(base_url).startswith(("http://", "https://")):
        raise ConfigError(f"base URL {base_url!r} must start with http:// or https://",
                          "Example: --base-url http://localhost:11434/v1")
    if not values.get("api_key") and not base_url and not values.get("offline"):
        # Nothing to talk to: the embedded offline drafter does the job.
        values["offline"] = True
        origins["offline"] = "no API key or base URL configured"
    if base_url and "model" not in values and not values.get("offline"):
        raise ConfigError(f"a custom base URL ({public_url(str(base_url))}) needs a model name",
                          "Pass --model NAME (the name your server serves, e.g. llama3.1 for Ollama) "
                          "or set DRAFTER_MODEL.")
    return Settings(**values, origins=origins)
