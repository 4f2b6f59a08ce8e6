"""Figure export on ../shared/papers: figures found, PNGs written, export time per paper next to extraction time
and to the offline draft it runs alongside (`draft s` without figures, `with fig s` with them: what `drafter new
--offline` costs more; with a model the export overlaps the model calls).

    python bench/figures.py                 # table on stdout
    python bench/figures.py --keep DIR      # also keep the PNGs (DIR/<paper>/figure-N.png) to look at them

The figures come from extraction (`Paper.figures`); when extraction finds none, from the labels pdftotext
prints at line starts ("Figure 3: ..."), with no caption box, so export locates each caption itself.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drafter.config import load_settings
from drafter.extract import load_paper
from drafter.figures import export_figures
from drafter.paper import Figure
from drafter.pipeline import draft_paper

PAPERS = Path(__file__).resolve().parents[1].parent / "shared" / "papers"
_LABEL = re.compile(r"^\s*(?:Figure|Fig\.)\s*(\d+)\s*[:.]\s*(.*)$")


def pdftotext_figures(pdf: Path) -> list[Figure]:
    """One Figure per label pdftotext shows at a line start, first occurrence only."""
    if shutil.which("pdftotext") is None:
        return []
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=False).stdout
    found: dict[str, Figure] = {}
    for page, page_text in enumerate(text.split("\f"), 1):
        for line in page_text.splitlines():
            match = _LABEL.match(line)
            if match and f"Figure {match.group(1)}" not in found:
                found[f"Figure {match.group(1)}"] = Figure(f"Figure {match.group(1)}", match.group(2), page)
    return list(found.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=Path, default=PAPERS)
    parser.add_argument("--keep", type=Path, help="keep the PNGs under this folder")
    args = parser.parse_args()
    pdfs = sorted(args.papers.glob("*.pdf"))
    if not pdfs:
        print(f"no PDFs in {args.papers}", file=sys.stderr)
        return 2
    print(f"{'paper':<30} {'pages':>5} {'source':>9} {'figures':>7} {'written':>7} {'extract s':>9} "
          f"{'export s':>8} {'ms/fig':>6} {'KB/fig':>6} {'draft s':>7} {'with fig s':>10}")
    totals = [0, 0, 0.0, 0.0, 0.0, 0.0]
    settings = load_settings({"offline": True})
    with tempfile.TemporaryDirectory() as tmp:
        for pdf in pdfs:
            started = time.perf_counter()
            paper = load_paper(pdf, None)
            extract_s = time.perf_counter() - started
            figures, source = paper.figures, "extract"
            if not figures:
                figures, source = pdftotext_figures(pdf), "pdftotext"
            out = (args.keep or Path(tmp)) / pdf.stem / "figures"
            result = export_figures(pdf, figures, out, [section.title for section in paper.sections])
            kb = sum(im.path.stat().st_size for im in result.images) / 1024
            count = len(result.images)
            paper.figures = figures
            started = time.perf_counter()
            asyncio.run(draft_paper(paper, settings))
            plain_s = time.perf_counter() - started
            started = time.perf_counter()
            asyncio.run(draft_paper(paper, settings, pdf=pdf, figures_to=Path(tmp) / pdf.stem / "draft-figures"))
            with_s = time.perf_counter() - started
            print(f"{pdf.stem[:30]:<30} {paper.pages:>5} {source:>9} {len(figures):>7} {count:>7} "
                  f"{extract_s:>9.2f} {result.seconds:>8.2f} {1000 * result.seconds / max(count, 1):>6.0f} "
                  f"{kb / max(count, 1):>6.0f} {plain_s:>7.2f} {with_s:>10.2f}")
            for warning in result.warnings:
                print(f"    not written: {warning}")
            totals[0] += len(figures)
            totals[1] += count
            totals[2] += extract_s
            totals[3] += result.seconds
            totals[4] += plain_s
            totals[5] += with_s
    print(f"{'all':<30} {'':>5} {'':>9} {totals[0]:>7} {totals[1]:>7} {totals[2]:>9.2f} {totals[3]:>8.2f} "
          f"{1000 * totals[3] / max(totals[1], 1):>6.0f} {'':>6} {totals[4]:>7.2f} {totals[5]:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
