"""A local one-slot model server at real speed: what a draft costs it (issue 17).

    python bench/local.py                        # ~10 s answers, --timeout 30, default --jobs, /props served
    python bench/local.py --no-props             # a server without /props (llama-cpp-python): learned from arrivals
    python bench/local.py --source /tmp/old/src  # the same against another checkout's code (before numbers)
    python bench/local.py --dead                 # a server that accepts and never answers, --timeout 5
    python bench/local.py --parallel             # a 16-slot server: are all sections in flight at once?

drafter runs as a real subprocess (`python -m drafter new examples/gated-residual-mixing.pdf`, fresh cache, no
figures, no lookups) against tests/fakellama.py: a FIFO queue, prompt processing then generation at a fixed token
rate, streams when asked, non-streamed generations run to their end even if the client left, queued requests of
gone clients dropped. Printed: sections completed, generations started (per section), tokens wasted, queued
requests dropped, the draft's wall time (drafter's own drafting time, less extraction) over the server's busy
time. Targets: every section, <= 1 generation per section (+1), 0 wasted, 0 dropped, wall/busy <= 1.25.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDF = ROOT / "examples" / "gated-residual-mixing.pdf"
sys.path.insert(0, str(ROOT / "tests"))

from fakellama import FakeLlama  # noqa: E402

N_SECTIONS = 11


def run_drafter(url: str, source: Path | None, timeout: float, extra: list[str]) -> tuple[int, str, float, Path]:
    """One `drafter new` against url; returns (exit code, stderr, seconds, draft path)."""
    work = Path(tempfile.mkdtemp(prefix="drafter-local-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))}
    env.update({"DRAFTER_CACHE_DIR": str(work / "cache"), "DRAFTER_CONFIG_DIR": str(work / "config"),
                "DRAFTER_ENRICH": "0"})
    if source is not None:
        env["PYTHONPATH"] = str(source)
    out = work / "draft.md"
    command = [sys.executable, "-m", "drafter", "new", str(SAMPLE_PDF), "-o", str(out), "--base-url", url,
               "--model", "local-model", "--timeout", f"{timeout:g}", "--no-figures", *extra]
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, check=False, timeout=3600)
    return proc.returncode, proc.stderr, time.monotonic() - started, out


def sections_done(draft: Path) -> int:
    if not draft.exists():
        return 0
    text = draft.read_text(encoding="utf-8")
    return len(re.findall(r"<!-- drafter:begin id=[\w-]+ source=llm ", text))


def drafting_seconds(stderr: str) -> float | None:
    """drafter's own drafting time (the 'wrote ...: ..., N.Ns' line): the wall time less extraction."""
    match = re.search(r"wrote .*?, ([\d.]+)s\s*$", stderr, re.M)
    return float(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="run drafter from this src/ folder instead of the installed one")
    parser.add_argument("--no-props", action="store_true", help="the server has no GET /props")
    parser.add_argument("--dead", action="store_true", help="a server that accepts and never answers")
    parser.add_argument("--parallel", action="store_true", help="a server with 16 slots")
    parser.add_argument("--timeout", type=float, default=None, help="drafter's --timeout (default 30, dead: 5)")
    parser.add_argument("--answer-seconds", type=float, default=10.0, help="about this long an answer")
    args = parser.parse_args()
    tokens = 140  # generated per answer, at a rate that takes ~70% of answer-seconds; prompts take the rest
    rate = tokens / (0.7 * args.answer_seconds)
    slots = 16 if args.parallel else 1
    server = FakeLlama(slots, prompt_rate=650.0 * 10 / args.answer_seconds, token_rate=rate, answer_tokens=tokens,
                       props=not args.no_props, mode="silent" if args.dead else "normal")
    timeout = args.timeout if args.timeout is not None else (5.0 if args.dead else 30.0)
    with server:
        code, stderr, seconds, draft = run_drafter(server.url, args.source, timeout, [])
        counts = server.counters()
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    print(f"server: {slots} slot(s), /props {'no' if args.no_props else 'yes'}, "
          f"{'never answers' if args.dead else f'~{args.answer_seconds:g} s an answer'}; drafter --timeout "
          f"{timeout:g}, default --jobs" + (f", code from {args.source}" if args.source else ""))
    print(f"exit code:             {code} after {seconds:.1f}s" + (f" ({len(errors)} error line)" if errors else ""))
    for line in errors:
        print(f"  {line}")
    if args.dead:
        return 0
    done = sections_done(draft)
    drafting = drafting_seconds(stderr)
    print(f"sections completed:    {done}/{N_SECTIONS}")
    print(f"generations started:   {counts['started']} ({counts['started'] / N_SECTIONS:.2f} per section)")
    print(f"tokens wasted:         {counts['wasted']} of {counts['generated']} generated")
    print(f"queued reqs dropped:   {counts['dropped']} (most queued at once: {counts['max_queued']})")
    print(f"most generating:       {counts['max_running']} at once")
    print(f"prompt tokens read:    {counts['prompt_processed']}")
    busy = counts["busy"]
    if drafting is not None and busy:
        print(f"draft wall / busy:     {drafting:.1f}s / {busy:.1f}s = {drafting / busy:.2f}x")
    else:
        print(f"draft wall / busy:     (no draft written) / {busy:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
