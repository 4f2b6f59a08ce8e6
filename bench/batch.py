"""8 PDFs + a fake server with 0.5 s latency -> ratio of `drafter batch --jobs 16` wall time to the ideal.

Ideal = total calls x latency / jobs + extraction time (the 8 PDFs extracted in parallel, cold cache). Uses
../shared/papers when present, else copies of the example PDF in examples/. Runs the real CLI in a subprocess;
a second run of the same list must make 0 requests.

    python bench/batch.py [--latency 0.5] [--jobs 16]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from drafter.sources import extract_pdf  # noqa: E402
from fakeserver import FakeOpenAI  # noqa: E402

SHARED = ROOT.parent / "shared" / "papers"


def papers(tmp: Path) -> list[Path]:
    found = sorted(SHARED.glob("*.pdf"))[:8] if SHARED.is_dir() else []
    if len(found) == 8:
        return found
    example = next(iter(sorted((ROOT / "examples").glob("*.pdf"))), None)
    if example is None:
        sys.exit("no papers: need ../shared/papers or a PDF in examples/")
    out = []
    for i in range(8):  # distinct bytes, so each copy is its own paper
        path = tmp / f"copy-{i}.pdf"
        path.write_bytes(example.read_bytes() + f"\n% copy {i}\n".encode())
        out.append(path)
    return out


def extraction_seconds(pdfs: list[Path]) -> float:
    """Wall time to extract every PDF in parallel on this machine's cores, without the cache."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, len(pdfs))) as pool:
        list(pool.map(extract_pdf, [str(p) for p in pdfs], [None] * len(pdfs)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="drafter-bench-"))
    try:
        pdfs = papers(tmp)
        listing = tmp / "list.txt"
        listing.write_text("".join(f"{p}\n" for p in pdfs), encoding="utf-8")
        extract = extraction_seconds(pdfs)
        with FakeOpenAI(latency=args.latency) as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))}
            env.update(DRAFTER_BASE_URL=server.url, DRAFTER_MODEL="fake-model", DRAFTER_CACHE_DIR=str(tmp / "cache"),
                       DRAFTER_CONFIG_DIR=str(tmp / "config"))
            command = [sys.executable, "-m", "drafter", "batch", str(listing), "--out", str(tmp / "out"),
                       "--jobs", str(args.jobs)]
            started = time.perf_counter()
            first = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            calls = len(server.requests)
            peak = server.max_in_flight
            again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            second_calls = len(server.requests) - calls
        if first.returncode or again.returncode:
            sys.exit(f"batch failed ({first.returncode}/{again.returncode}):\n{first.stderr}\n{again.stderr}")
        ideal = calls * args.latency / args.jobs
        print(f"papers: {len(pdfs)}, calls: {calls}, peak in flight: {peak}, latency {args.latency}s, "
              f"jobs {args.jobs}")
        print(f"wall: {elapsed:.2f}s (includes interpreter start); ideal calls x latency / jobs: {ideal:.2f}s; "
              f"parallel extraction: {extract:.2f}s")
        inside = re.search(r"([\d.]+)s\s*$", first.stderr.strip())
        if inside:
            print(f"batch itself (from its summary, without interpreter start): {inside.group(1)}s")
        print(f"ratio wall / (ideal + extraction): {elapsed / (ideal + extract):.2f}  (target <= 1.3)")
        print(f"second run: {second_calls} requests (target 0)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
