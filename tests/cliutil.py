"""Helpers for driving the CLI in tests: in-process (CliRunner) and as a real subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from drafter.cli import app

TEMPLATE = Path(__file__).resolve().parents[2] / "shared" / "TEMPLATE.md"
POST_TEMPLATE = Path(__file__).resolve().parents[1] / "prompts" / "post.md.j2"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Run:
    """Run drafter in-process; exceptions are not swallowed (a traceback would fail the test)."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def cli_process(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 60) -> Run:
    """Run `python -m drafter` in a subprocess (real signals, real stdout/stderr)."""
    proc = subprocess.run([sys.executable, "-m", "drafter", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def interruptible() -> None:
    """`preexec_fn` for a child a test will send SIGINT. A shell's background job (`cmd &`, as some CI runners
    start the suite) inherits SIGINT *ignored*, Python then installs no KeyboardInterrupt handler, and the signal
    would do nothing: the child gets the default disposition back, as it has when a user runs drafter."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def model_flags(server_url: str) -> list[str]:
    return ["--base-url", server_url, "--model", "fake-model"]


def headings(markdown: str) -> list[str]:
    """Markdown headings outside code fences, as '#'-prefixed lines."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6} ", line):
            out.append(line.rstrip())
    return out


def heading_pattern(template_heading: str) -> re.Pattern[str]:
    """A template heading as a regex: each [placeholder] matches any text."""
    parts = re.split(r"\[[^\]]*\]", template_heading)
    return re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$")
