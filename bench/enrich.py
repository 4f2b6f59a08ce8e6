"""The time enrichment adds to `drafter new arXiv:ID`: stand-in arXiv, Semantic Scholar and model with set latency.

Each scenario runs the real CLI in a subprocess with a fresh cache (cold) and then again with the same cache
(warm): --no-enrich, enrichment on (Semantic Scholar answering, e-print present), Semantic Scholar answering
500 every time, and Semantic Scholar hanging past the enrichment deadline. Printed: wall seconds, requests
each stand-in saw, and the difference to --no-enrich. Request spacing is off by default (--polite turns on
the real 3 s arXiv and 1 s Semantic Scholar spacing).

    python bench/enrich.py [--latency 0.3] [--model-latency 0.5] [--polite]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakearxiv import FakeArxiv, make_eprint_tar, make_pdf  # noqa: E402
from fakes2 import FakeS2  # noqa: E402
from fakeserver import FakeOpenAI  # noqa: E402

ARXIV_ID = "1706.03762"
TITLE = "Attention Is All You Need"
MAIN = (r"\documentclass{article}\begin{document}\section{Model}\input{model}"
        r"\section{Training}\[ lr = d^{-0.5} \min(s^{-0.5}, s \cdot w^{-1.5}) \]\end{document}")
MODEL = "\n".join(rf"\begin{{equation}} h_{i} = \mathrm{{softmax}}(QK^T_{i}/\sqrt{{d}}) V \label{{eq:{i}}}"
                  r"\end{equation}" for i in range(40))


def run(env: dict[str, str], out: Path, *extra: str) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "drafter", "new", ARXIV_ID, "-o", str(out), "--force", *extra],
                          capture_output=True, text=True, env={**os.environ, **env}, check=False, timeout=300)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"drafter failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, sum("warning" in line for line in proc.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per Semantic Scholar / e-print answer")
    parser.add_argument("--model-latency", type=float, default=0.5)
    parser.add_argument("--polite", action="store_true", help="real request spacing (arXiv 3 s, S2 1 s)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="drafter-bench-enrich-"))
    try:
        with FakeArxiv() as arxiv, FakeS2(latency=args.latency) as s2, \
                FakeOpenAI(latency=args.model_latency) as model:
            arxiv.add(ARXIV_ID, TITLE, ["Ashish Vaswani"], pdf=make_pdf("Gated Widgets", paragraphs=30))
            arxiv.eprints[ARXIV_ID] = make_eprint_tar({"main.tex": MAIN, "model.tex": MODEL})
            arxiv.pdf_delay = args.latency
            pid = s2.add_paper(TITLE, arxiv=ARXIV_ID, citation_count=150000)
            s2.add_citations(pid, [(f"Follow-up paper {i}", 2018 + i % 7, (i * 7919) % 50000) for i in range(1800)])
            base_env = {
                "DRAFTER_ARXIV_API": arxiv.api_url, "DRAFTER_ARXIV_EPRINT": f"{arxiv.base}/e-print",
                "DRAFTER_S2_API": s2.url, "DRAFTER_BASE_URL": model.url, "DRAFTER_MODEL": "fake-model",
                "DRAFTER_ARXIV_DELAY": "3" if args.polite else "0", "DRAFTER_S2_DELAY": "1" if args.polite else "0",
                "DRAFTER_ENRICH_TIMEOUT": "5",
            }
            scenarios = [("--no-enrich", {}, ("--no-enrich",)), ("enrich", {}, ()),
                         ("S2 always 500", {"always_500": True}, ()), ("S2 hangs 8 s", {"latency": 8.0}, ())]
            print(f"S2/e-print latency {args.latency}s, model latency {args.model_latency}s, "
                  f"{'polite spacing' if args.polite else 'no request spacing'}, enrichment deadline 5 s")
            print(f"{'scenario':<16} {'cache':<5} {'seconds':>8} {'vs off':>7} {'S2 req':>7} {'e-print':>8} "
                  f"{'warnings':>9}")
            baseline: dict[str, float] = {}
            for name, mode, extra in scenarios:
                s2.always_500, s2.latency = mode.get("always_500", False), mode.get("latency", args.latency)
                cache = tmp / name.replace(" ", "-")
                for label in ("cold", "warm"):
                    if label == "cold":
                        shutil.rmtree(cache, ignore_errors=True)
                    s2.requests.clear()
                    arxiv.requests.clear()
                    seconds, warnings = run({**base_env, "DRAFTER_CACHE_DIR": str(cache)}, tmp / "post.md", *extra)
                    baseline.setdefault(label, seconds)
                    print(f"{name:<16} {label:<5} {seconds:8.2f} {seconds - baseline[label]:+7.2f} "
                          f"{len(s2.requests):7d} {len(arxiv.paths('/e-print')):8d} {warnings:9d}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
