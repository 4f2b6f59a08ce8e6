"""`batch --batch-api` against the fake Batch API -> requests per batch, files, and drafter's own time.

The wall time splits into waiting for the provider (polling; the fake finishes a batch after a few status
checks) and everything else: extraction, rendering and hashing every request, writing and uploading the
JSONL, downloading the answers and assembling the drafts. Papers are synthetic PDFs with distinct titles and text
(so every request differs; extraction runs once per paper, cold cache). A second run of the same list must create
no batch. `--max-requests` lowers the per-file limit to show the split into several files and batches.

    python bench/batch_api.py [--papers 40] [--max-requests 0]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import drafter.batch_api as batch_api  # noqa: E402
from drafter.batch import read_list  # noqa: E402
from drafter.config import load_settings  # noqa: E402
from fakearxiv import make_pdf  # noqa: E402
from fakebatchapi import FakeBatchAPI  # noqa: E402

WORDS = ["Gated", "Sparse", "Residual", "Lantern", "Forest", "Boat", "Mixer", "Kernel", "Spectral", "Tiny",
         "Recurrent", "Adaptive"]


def make_papers(folder: Path, count: int) -> None:
    """Distinct synthetic papers (tests/fakearxiv.make_pdf): each title and body differ, so do the requests."""
    folder.mkdir(parents=True)
    for i in range(count):
        title = " ".join(WORDS[(i + k * 5) % len(WORDS)] for k in range(3)) + f" Networks {i}"
        (folder / f"paper-{i:03d}.pdf").write_bytes(make_pdf(title, seed=f"paper {i}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=40)
    parser.add_argument("--max-requests", type=int, default=0, help="requests per JSONL file (0: the API's 50,000)")
    args = parser.parse_args()
    if args.max_requests:
        batch_api.MAX_REQUESTS = args.max_requests
    tmp = Path(tempfile.mkdtemp(prefix="drafter-bench-batch-api-"))
    try:
        make_papers(tmp / "papers", args.papers)
        with FakeBatchAPI(steps=1) as fake:
            # Hermetic: no Semantic Scholar lookups (they would go to the internet).
            settings = load_settings({"base_url": fake.url, "model": "fake-model", "cache_dir": tmp / "cache",
                                      "enrich": False}, env={}, file=tmp / "none.toml")
            entries = read_list(str(tmp / "papers"))
            started = time.perf_counter()
            result = asyncio.run(batch_api.run_batch_api(entries, settings, tmp / "out", poll=0.05))
            wall = time.perf_counter() - started
            done = sum(r.status == "done" for r in result.batch.results)
            sizes = [len(lines) for lines in fake.inputs.values()]
            files = sorted((tmp / "out" / ".drafter-batch").glob("round*.jsonl"))
            megabytes = sum(f.stat().st_size for f in files) / 1e6
            print(f"papers: {args.papers}, drafted: {done}, chat/completions calls: {len(fake.chat_calls)}")
            print(f"batches: {len(sizes)}, requests per batch: {sizes}, JSONL files: {len(files)} "
                  f"({megabytes:.2f} MB)")
            print(f"wall time: {wall:.2f}s, waiting for the provider: {result.seconds_waiting:.2f}s, "
                  f"outside waiting: {wall - result.seconds_waiting:.2f}s "
                  f"({(wall - result.seconds_waiting) / max(1, sum(sizes)) * 1000:.1f} ms per request)")
            print(f"tokens: {result.batch.prompt_tokens:,} prompt + {result.batch.completion_tokens:,} completion")
            started = time.perf_counter()
            again = asyncio.run(batch_api.run_batch_api(entries, settings, tmp / "out", poll=0.05))
            print(f"second run: {len(again.created)} batches created, {len(fake.chat_calls)} model calls, "
                  f"{time.perf_counter() - started:.2f}s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
