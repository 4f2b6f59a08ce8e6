"""Shared pytest fixtures: machine isolation, the fake OpenAI server, sample papers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakeserver import FakeOpenAI

# CI must pass or fail on the code, not on the draw: there the property tests run a fixed sequence of examples
# (locally they keep exploring with fresh seeds, and any counterexample found goes into an @example).
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"
SAMPLE_PDF = EXAMPLES_DIR / "gated-residual-mixing.pdf"
SHARED_PAPERS = Path(__file__).resolve().parents[2] / "shared" / "papers"

ISOLATED_ENV_PREFIXES = ("OPENAI_", "DRAFTER_")
CLOSED_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once


@pytest.fixture(autouse=True)
def _isolate_machine(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at fresh temp dirs and drop OPENAI_* / DRAFTER_* env vars.

    No test can read the developer's config, cache or a real API key.  Returns the
    fake home directory.
    """
    root = tmp_path_factory.mktemp("home")
    home = root / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_STATE_HOME": home / ".local" / "state",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    for name in list(os.environ):
        if name.upper().startswith(ISOLATED_ENV_PREFIXES) or name in ("S2_API_KEY",):
            monkeypatch.delenv(name)
    # Enrichment (Semantic Scholar, arXiv e-prints) defaults to real services: off in every test that reads the
    # environment, and pointed at a closed local port for settings built without it or a test that turns it on
    # without its own stand-in (tests/fakes2.py, tests/fakearxiv.py): a lookup there fails at once, one warning.
    monkeypatch.setenv("DRAFTER_ENRICH", "0")
    monkeypatch.setenv("DRAFTER_S2_DELAY", "0")  # a stray lookup is refused at once, not after the 1 s spacing
    monkeypatch.setenv("DRAFTER_S2_API", CLOSED_URL)
    monkeypatch.setenv("DRAFTER_ARXIV_EPRINT", CLOSED_URL + "/e-print")
    return home


@pytest.fixture
def fake_server_factory() -> Iterator[Callable[..., FakeOpenAI]]:
    """``make(latency=0.0, reply=None, model_ids=("fake-model",)) -> started FakeOpenAI``.

    Every server made is stopped at teardown, which also fails the test if a server
    recorded an internal error.
    """
    servers: list[FakeOpenAI] = []

    def make(**kwargs: Any) -> FakeOpenAI:
        server = FakeOpenAI(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    errors = [e for s in servers for e in s.errors]
    assert not errors, f"fake OpenAI server raised internally: {errors!r}"


@pytest.fixture
def fake_server(fake_server_factory: Callable[..., FakeOpenAI]) -> FakeOpenAI:
    """A started :class:`FakeOpenAI` with zero latency, stopped after the test."""
    return fake_server_factory(latency=0.0)


def require_shared(path: Path, what: str) -> Path:
    """`path` from ../shared; without it the test skips, but under CI (env CI set) its absence is a failure:
    CI must run every test, not pass by skipping them."""
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{what} not found at {path} (CI is set: ../shared must be there)")
    pytest.skip(f"{what} not available at {path}")


@pytest.fixture
def shared_papers() -> Path:
    """``<workspace>/shared/papers`` (real paper PDFs); skips the test if it is absent (fails under CI)."""
    return require_shared(SHARED_PAPERS, "shared papers")


@pytest.fixture
def sample_pdf() -> Path:
    """The committed example paper ``examples/gated-residual-mixing.pdf``."""
    assert SAMPLE_PDF.is_file(), f"{SAMPLE_PDF} missing: run python examples/build_sample_pdf.py"
    return SAMPLE_PDF
