"""Warm start-up time of the commands people run most, against the targets of issue 17.

Runs each command as a real subprocess (`python -m drafter ...`), once to warm the byte-code and the extraction
cache, then N times, and prints the median wall time next to its target. Then, per command, the modules that
`python -X importtime` says cost the most (by package: the sum of its modules' own import times; drafter by
module), and which of the heavy libraries were imported at all.

    python bench/startup.py [-n 7] [--top 8]

On a loaded machine the wall times swing: the median of several runs is the figure to quote, and the CPU time
(user + system) says what the command costs when it has a core to itself.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "examples" / "gated-residual-mixing.pdf"
DRAFT = ROOT / "examples" / "gated-residual-mixing.draft.md"

# (label, arguments, target seconds)
COMMANDS = [
    ("--help", ["--help"], 0.25),
    ("status DRAFT", ["status", str(DRAFT)], 0.25),
    ("inspect PDF", ["inspect", str(PAPER), "--no-enrich"], 0.5),
]
# Libraries that only drafting, extraction or rendering needs.
HEAVY = ("openai", "httpx", "pypdf", "pypdfium2", "PIL", "jinja2", "pylatexenc", "tenacity", "asyncio")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), XDG_CONFIG_HOME=str(home / "config"),
               DRAFTER_ENRICH="0", COLUMNS="100")
    return env


def _run(args: list[str], env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *flags, "-m", "drafter", *args], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"drafter {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc


def _median_seconds(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `runs` warm runs.

    The CPU time is what the command itself costs; the wall time also holds waiting for a core on a busy machine.
    """
    _run(args, env)  # warm: byte-code compiled, extraction cached
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        _run(args, env)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _import_profile(args: list[str], env: dict[str, str]) -> tuple[list[tuple[float, str]], list[str]]:
    """(ms, name) of import time by package (drafter by module), the sum of its modules' own times, and which of
    the heavy libraries were loaded at all."""
    stderr = _run(args, env, "-X", "importtime").stderr
    costs: dict[str, float] = {}
    for match in LINE.finditer(stderr):
        name = match.group(4)
        top = name.split(".")[0]
        key = ".".join(name.split(".")[:2]) if top == "drafter" else top
        costs[key] = costs.get(key, 0.0) + int(match.group(1)) / 1000
    loaded = [name for name in HEAVY if name in costs]
    return sorted(((ms, name) for name, ms in costs.items()), reverse=True), loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=7, help="timed runs per command (default: 7)")
    parser.add_argument("--top", type=int, default=8, help="import offenders listed per command (default: 8)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        env = _env(Path(home))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        bare = time.perf_counter() - started
        print(f"python itself (python -c pass): {bare:.3f}s")
        print(f"{'command':<14} {'wall':>7} {'cpu':>7} {'target':>7}   (medians of {args.runs} warm runs)")
        for label, argv, target in COMMANDS:
            wall, cpu = _median_seconds(argv, env, args.runs)
            verdict = "ok" if wall <= target else "OVER"
            print(f"{label:<14} {wall:6.3f}s {cpu:6.3f}s {target:6.2f}s  {verdict}")
        for label, argv, _target in COMMANDS:
            ranked, loaded = _import_profile(argv, env)
            print(f"\n{label}: heavy libraries imported: {', '.join(loaded) or 'none'}")
            for ms, name in ranked[:args.top]:
                print(f"  {ms:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
