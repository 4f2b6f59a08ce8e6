"""How each behaviour of real 2026 endpoints reaches the draft, through the real CLI against the fake server.

    python bench/models.py            # every behaviour, one row each
    python bench/models.py -k think   # only the behaviours whose name contains "think"

Each behaviour runs `python -m drafter new examples/gated-residual-mixing.pdf` in a subprocess (fresh cache
and output folder) against tests/fakeserver.py on 127.0.0.1 in one of its model modes, and the table shows:
the exit code, model calls against the 11 of a normal run, whether chain-of-thought or chatter reached the
draft, sections marked cut, and the body the last answered request carried (token parameter, temperature).
A second run with --no-cache shows whether the learned profile made it start right (calls on the 2nd run).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDF = ROOT / "examples" / "gated-residual-mixing.pdf"
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import CHATTY_CLOSER, THOUGHT, FakeOpenAI  # noqa: E402

N_SECTIONS = 11


@dataclass
class Behaviour:
    name: str
    server: dict[str, object]
    model: str = "fake-model"
    args: list[str] = field(default_factory=list)


BEHAVIOURS = [
    Behaviour("polite (baseline)", {}),
    Behaviour("rejects max_tokens+temperature, 1000 hidden", {"rejects": ("max_tokens", "temperature"),
                                                             "reasoning_tokens": 1000}, "team-writer-prod"),
    Behaviour("known name gpt-5-mini, 1000 hidden", {"rejects": ("max_tokens", "temperature"),
                                                     "reasoning_tokens": 1000}, "gpt-5-mini"),
    Behaviour("rejects reasoning_effort", {"rejects": ("reasoning_effort",)}, args=["--reasoning-effort", "high"]),
    Behaviour("hidden reasoning 6000 > headroom", {"reasoning_tokens": 6000}, "o4-mini"),
    Behaviour("hidden reasoning 100000 (hopeless)", {"reasoning_tokens": 100_000}, "o3"),
    Behaviour("<think> in content", {"thinking": "content"}),
    Behaviour("<think> cut at --max-tokens 20", {"thinking": "content"}, args=["--max-tokens", "20"]),
    Behaviour("reasoning_content field", {"thinking": "reasoning_content"}),
    Behaviour("reasoning field", {"thinking": "reasoning"}),
    Behaviour("chatty wrappers", {"chatty": True}),
    Behaviour("cut-offs (--max-tokens 4)", {"enforce_limit": True}, args=["--max-tokens", "4"]),
]


def _env(cache: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DRAFTER_"))}
    env.update({"DRAFTER_CACHE_DIR": str(cache), "DRAFTER_CONFIG_DIR": str(home / "config"), "HOME": str(home)})
    return env


def _draft(server: FakeOpenAI, behaviour: Behaviour, out: Path, env: dict[str, str], *extra: str) -> int:
    args = [sys.executable, "-m", "drafter", "new", str(SAMPLE_PDF), "-o", str(out), "--base-url", server.url,
            "--model", behaviour.model, *behaviour.args, *extra]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False).returncode


def run(behaviour: Behaviour) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(**behaviour.server) as server:  # type: ignore[arg-type]
        root = Path(tmp)
        env = _env(root / "cache", root / "home")
        out = root / "d.md"
        code = _draft(server, behaviour, out, env)
        calls = len(server.requests)
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        again = _draft(server, behaviour, root / "d2.md", env, "--no-cache")
        calls_again = len(server.requests) - calls
        last = next((r.body for r in reversed(server.requests) if r.status == 200), {})
        shape = ("max_completion_tokens" if "max_completion_tokens" in last else "max_tokens") + (
            "+temp" if "temperature" in last else "") + ("+effort" if "reasoning_effort" in last else "")
        thought = "yes" if text and (THOUGHT[:30] in text or "<think>" in text) else "no"
        chatter = "yes" if text and ("Sure! Here's" in text or CHATTY_CLOSER[:20] in text) else "no"
        cut = len(re.findall(r"<!-- drafter:begin [^>]*\bcut=\d+", text))
        return [behaviour.name, str(code), f"{calls}/{N_SECTIONS}", thought, chatter, str(cut), shape,
                f"{calls_again} (exit {again})"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only behaviours whose name contains this")
    args = parser.parse_args(argv)
    header = ["behaviour", "exit", "calls", "thought in draft", "chatter in draft", "cut sections", "last body",
              "2nd run calls"]
    rows = [run(b) for b in BEHAVIOURS if args.k in b.name]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
