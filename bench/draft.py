"""Draft wall time against an OpenAI-compatible server with fixed latency: concurrency, cache, tokens.

Starts the fake server from tests/fakeserver.py on 127.0.0.1 (so no key and no internet are needed), drafts
a paper through the real CLI code path (openai client, retries, cache), and prints:

- cold draft wall time / single-call latency (sections run concurrently: should be well under 2),
- calls made and prompt tokens per section (the server's usage numbers and drafter's own estimate),
- the cached re-run time and its call count (should be 0 calls),
- three 429s in a row survived (time and calls).

    python bench/draft.py [PAPER.pdf] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from drafter.config import load_settings  # noqa: E402
from drafter.extract import load_paper  # noqa: E402
from drafter.pipeline import draft_paper  # noqa: E402
from fakeserver import FakeOpenAI, Fault  # noqa: E402


def _section(request) -> str:
    match = re.search(r"Section id: ([a-z-]+)", request.messages[-1]["content"])
    return match.group(1) if match else "?"


async def _draft(paper, settings) -> tuple[float, object]:
    started = time.perf_counter()
    draft = await draft_paper(paper, settings)
    return time.perf_counter() - started, draft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paper", nargs="?", type=Path, default=ROOT / "examples" / "gated-residual-mixing.pdf")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per call at the server")
    args = parser.parse_args()

    started = time.perf_counter()
    import openai  # noqa: F401 - drafter imports it on first use; time that once, apart from drafting

    import_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as cache, FakeOpenAI(latency=args.latency) as server:
        flags = {"base_url": server.url, "model": "fake-model", "api_key": "bench-key", "cache_dir": cache}
        settings = load_settings(flags, env={})
        paper = load_paper(args.paper, Path(cache))

        cold, draft = asyncio.run(_draft(paper, settings))
        calls = len(server.requests)
        print(f"paper: {paper.title} ({args.paper.name})")
        print(f"server latency per call: {args.latency:.2f} s")
        print(f"cold draft: {cold:.2f} s for {calls} calls = {cold / args.latency:.2f}x one call "
              f"(sequential would be {calls:.0f}x)")
        print(f"peak requests in flight: {server.max_in_flight}")
        print(f"one-off import of the openai client (paid once per process, not per draft): {import_seconds:.2f} s")
        print("\nsection          prompt_tokens(server)  estimate  completion_tokens")
        for section_id, usage in sorted(draft.stats.per_section.items()):
            print(f"{section_id:<16} {usage['prompt_tokens']:>21}  {usage['estimated_prompt_tokens']:>8}  "
                  f"{usage['completion_tokens']:>17}")
        print(f"total prompt tokens: {draft.stats.prompt_tokens:,}")

        warm, _ = asyncio.run(_draft(paper, settings))
        print(f"\ncached re-run: {warm:.3f} s, {len(server.requests) - calls} calls "
              f"(cold/warm = {cold / max(warm, 1e-6):.0f}x)")

        server.enqueue(Fault.rate_limit(retry_after=0.5), Fault.rate_limit(retry_after=0.5),
                       Fault.rate_limit(retry_after=0.5))
        before = len(server.requests)
        nocache = settings.with_overrides(cache=False, jobs=1)
        took, _ = asyncio.run(_draft(paper, nocache))
        statuses = [r.status for r in server.requests[before:]]
        print(f"three 429s then success (--jobs 1, no cache): {took:.2f} s, {len(statuses)} requests, "
              f"statuses {statuses[:4]}...")


if __name__ == "__main__":
    main()
