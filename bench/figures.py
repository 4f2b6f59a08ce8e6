"""Figures on the shared papers (../shared/papers and ../shared/papers-wide), scored on their ground truth.

    python bench/figures.py                  # per-paper table and totals on stdout
    python bench/figures.py --keep DIR       # also keep the PNGs (DIR/<paper>/figure-N.png) to look at them
    python bench/figures.py --timing         # also time the offline draft with and without figure export
    python bench/figures.py --only moco      # papers whose name contains a word

Per paper: captions (figures and tables) whose label and caption text match the ground truth's (`label`
and the first words of `caption_start`), labels extracted that the ground truth does not have (invented),
captioned figures exported as PNGs, crops that are byte-identical to another crop of the paper (duplicated),
crops whose label the ground truth lists as a table or not at all (tables exported as figures), and crops
under 150 px on their short side (slivers). Every skipped figure's one-line reason and every miss is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from drafter.config import load_settings
from drafter.extract import load_paper
from drafter.figures import export_figures
from drafter.paper import Paper
from drafter.pipeline import draft_paper
from drafter.text import fold_name

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MIN_SIDE = 150  # pixels: a crop thinner than this is a sliver


def norm(text: str) -> str:
    """Letters and digits only, lower case, accents and ligatures folded."""
    return re.sub(r"[^a-z0-9]+", "", unicodedata.normalize("NFKC", fold_name(text)))


def caption_matches(found: str, start: str) -> bool:
    """The extracted caption begins with the ground truth's first words (spacing and punctuation aside)."""
    want = norm(start)
    return bool(want) and norm(found)[:len(want) + 5].startswith(want[: max(12, len(want) - 4)])


def score_captions(paper: Paper, truth: dict) -> dict:
    if "figures" not in truth:  # schema 1: no captions labelled; extraction's own labels stand in
        return {"want": 0, "hit": 0, "misses": [], "invented": []}
    want = [(f["label"], f["caption_start"]) for f in (*truth.get("figures", []), *truth.get("tables", []))]
    ours = {f.label: f.caption for f in (*paper.figures, *paper.tables)}
    misses = [f"{label} ({'missing' if label not in ours else 'caption: ' + ours[label][:50]!r})"
              for label, start in want if label not in ours or not caption_matches(ours[label], start)]
    labels = {label for label, _ in want}
    invented = sorted(set(ours) - labels)
    return {"want": len(want), "hit": len(want) - len(misses), "misses": misses, "invented": invented}


def score_export(paper: Paper, truth: dict, pdf: Path, out: Path) -> dict:
    figures = {f["label"] for f in truth["figures"]} if "figures" in truth else {f.label for f in paper.figures}
    tables = {f["label"] for f in truth.get("tables", [])}
    result = export_figures(pdf, paper.figures, out, [s.title for s in paper.sections], paper.tables)
    digests: dict[str, list[str]] = {}
    small, not_figures = [], []
    for im in result.images:
        digests.setdefault(hashlib.sha256(im.path.read_bytes()).hexdigest(), []).append(im.figure.label)
        if min(im.size) < MIN_SIDE:
            small.append(f"{im.figure.label} {im.size[0]}x{im.size[1]}")
        if im.figure.label not in figures:
            not_figures.append(im.figure.label + (" (a table)" if im.figure.label in tables else ""))
    duplicated = [labels for labels in digests.values() if len(labels) > 1]
    exported = {im.figure.label for im in result.images} & figures
    return {"figures": len(figures), "exported": len(exported), "duplicated": duplicated, "small": small,
            "not_figures": not_figures, "warnings": result.warnings, "seconds": result.seconds,
            "kb": sum(im.path.stat().st_size for im in result.images) / 1024, "written": len(result.images)}


def draft_times(paper: Paper, pdf: Path, tmp: Path) -> tuple[float, float]:
    settings = load_settings({"offline": True})
    started = time.perf_counter()
    asyncio.run(draft_paper(paper, settings))
    plain = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(draft_paper(paper, settings, pdf=pdf, figures_to=tmp / pdf.stem / "draft-figures"))
    return plain, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=Path, nargs="*", default=[SHARED / "papers", SHARED / "papers-wide"])
    parser.add_argument("--keep", type=Path, help="keep the PNGs under this folder")
    parser.add_argument("--timing", action="store_true", help="also time offline drafts with and without figures")
    parser.add_argument("--only", nargs="*", default=[], help="papers whose file name contains one of these")
    args = parser.parse_args()
    pdfs = sorted(p for d in args.papers for p in d.glob("*.pdf") if p.with_suffix(".json").exists())
    pdfs = [p for p in pdfs if not args.only or any(w in p.stem for w in args.only)]
    if not pdfs:
        print(f"no PDFs with ground truth in {', '.join(map(str, args.papers))}", file=sys.stderr)
        return 2
    timing_head = "  draft s  with fig s" if args.timing else ""
    print(f"{'paper':24} {'captions':>8} {'invent':>6} {'figures':>7} {'export':>6} {'dup':>3} {'table':>5} "
          f"{'small':>5} {'extract s':>9} {'export s':>8} {'KB/fig':>6}{timing_head}")
    t = dict.fromkeys(("want", "hit", "invented", "figures", "exported", "dup", "tables", "small"), 0)
    details: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pdf in pdfs:
            truth = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
            started = time.perf_counter()
            paper = load_paper(pdf, None)
            extract_s = time.perf_counter() - started
            c = score_captions(paper, truth)
            e = score_export(paper, truth, pdf, (args.keep or Path(tmp)) / pdf.stem)
            timing = ""
            if args.timing:
                plain, with_fig = draft_times(paper, pdf, Path(tmp))
                timing = f"  {plain:7.2f}  {with_fig:9.2f}"
            dup = sum(len(d) for d in e["duplicated"])
            print(f"{pdf.stem[:24]:24} {c['hit']:>3}/{c['want']:<4} {len(c['invented']):>6} {e['figures']:>7} "
                  f"{e['exported']:>6} {dup:>3} {len(e['not_figures']):>5} {len(e['small']):>5} {extract_s:>9.2f} "
                  f"{e['seconds']:>8.2f} {e['kb'] / max(e['written'], 1):>6.0f}"
                  + timing)
            for kind, items in (("caption missed", c["misses"]), ("invented", c["invented"]),
                                ("skipped", e["warnings"]), ("duplicated", e["duplicated"]),
                                ("not a figure", e["not_figures"]), ("small", e["small"])):
                details += [f"  {pdf.stem}: {kind}: {item}" for item in items]
            for key, value in (("want", c["want"]), ("hit", c["hit"]), ("invented", len(c["invented"])),
                               ("figures", e["figures"]), ("exported", e["exported"]), ("dup", dup),
                               ("tables", len(e["not_figures"])), ("small", len(e["small"]))):
                t[key] += value
    print(f"\ncaption recall {t['hit'] / max(t['want'], 1):.3f} ({t['hit']}/{t['want']})   invented {t['invented']}   "
          f"figures exported {t['exported'] / max(t['figures'], 1):.3f} ({t['exported']}/{t['figures']})   "
          f"duplicated crops {t['dup']}   not figures exported {t['tables']}   crops under {MIN_SIDE} px {t['small']}")
    print("\n".join(details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
