"""Shared papers (PDF + ground-truth JSON) -> per-paper and overall extraction scores and timings.

Usage: python bench/extraction.py [PAPERS_DIR]   (default: ../shared/papers next to the repository)

A second table scores figures and tables against pdftotext (poppler-utils): the labels it shows at line
starts ("Figure 3", "Fig. 3", "Table 2") are the ones to find; a label found that pdftotext prints nowhere
is invented; a caption (as pdftotext prints it after its label) or a table row left inside a section's
text is a leak. Without pdftotext those columns print '-'.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from drafter.extract import load_paper
from drafter.paper import Paper
from drafter.text import fold_name

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "papers"


def norm_title(text: str) -> str:
    """NFKC, case- and whitespace-insensitive form of a title or heading."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def norm_sentence(text: str) -> str:
    """Comparable form of a sentence: NFKC, lower case, only letters and digits."""
    return re.sub(r"[^a-z0-9]+", "", unicodedata.normalize("NFKC", fold_name(text)))


def norm_url(url: str) -> str:
    """URL without scheme, 'www.' and trailing punctuation, lower case."""
    url = re.sub(r"^(?:https?|ftp)://", "", url.strip().lower())
    return url.removeprefix("www.").rstrip("/.")


def prf(found: list[str], truth: list[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of two lists compared as sets."""
    f, t = set(found), set(truth)
    if not f and not t:
        return 1.0, 1.0, 1.0
    tp = len(f & t)
    p = tp / len(f) if f else 0.0
    r = tp / len(t) if t else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def in_order(found: list[str], truth: list[str]) -> bool:
    """Whether the truth headings that were found appear in the same order."""
    positions = [found.index(t) for t in truth if t in found]
    return positions == sorted(positions)


# Timings are the best of a few runs, for pdftotext and drafter alike, so that other processes on the
# machine disturb the ratio less. Every drafter run is cold: a fresh, empty cache directory.
REPEATS = 3


def pdftotext_time(pdf: Path) -> float | None:
    """Best-of-REPEATS seconds pdftotext takes on the file, or None when pdftotext is not installed."""
    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run([exe, str(pdf), "-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def cold_load(pdf: Path, cache: Path) -> tuple[Paper, float]:
    """Best-of-REPEATS time of an uncached load_paper; the last run leaves its cache entry in `cache`."""
    best = float("inf")
    paper = None
    for i in range(REPEATS):
        with tempfile.TemporaryDirectory() as scratch:
            target = cache if i == REPEATS - 1 else Path(scratch)
            start = time.perf_counter()
            paper = load_paper(pdf, target)
            best = min(best, time.perf_counter() - start)
    assert paper is not None
    return paper, best


_LINE_LABEL = re.compile(r"^\f?\s*(Figure|Fig\.|Table)\s*(\d{1,2})\b(.*)$", re.M)
_ANY_LABEL = re.compile(r"(Figure|Fig\.|Table)\s*(\d{1,2})\b")


def _label(kind: str, number: str) -> str:
    return f"{'Table' if kind == 'Table' else 'Figure'} {number}"


def pdftotext_text(pdf: Path) -> str | None:
    """The PDF's text as pdftotext prints it, or None when pdftotext is not installed."""
    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    return subprocess.run([exe, str(pdf), "-"], capture_output=True, text=True, check=False).stdout


def score_floats(paper: Paper, reference: str | None) -> dict:
    """Figure/table labels found vs pdftotext's line-start labels, invented labels, leaks, paragraphs."""
    sections = norm_sentence(" ".join(s.text for s in paper.sections))
    found = {f.label for f in (*paper.figures, *paper.tables)}
    out: dict = {"figures": len(paper.figures), "tables": len(paper.tables),
                 "paragraphs": sum(len([p for p in s.text.split("\n\n") if p.strip()]) for s in paper.sections),
                 "footnotes": len(paper.footnotes)}
    leaks = set()
    for f in (*paper.figures, *paper.tables):  # our own captions and table rows must not be in the prose
        probes = [f.caption[:60], *(row for row in f.content.splitlines() if row.count("  ") >= 2)]
        if any(len(norm_sentence(p)) >= 20 and norm_sentence(p) in sections for p in probes):
            leaks.add(f.label)
    if reference is None:
        out.update(want=None, hit=None, invented=None, leaks=len(leaks))
        return out
    want = {_label(k, n) for k, n, _ in _LINE_LABEL.findall(reference)}
    printed = {_label(k, n) for k, n in _ANY_LABEL.findall(reference)}
    ours = {f.label: norm_sentence(f.caption) for f in (*paper.figures, *paper.tables)}
    for kind, number, rest in _LINE_LABEL.findall(reference):  # captions as pdftotext prints them
        caption = norm_sentence(re.sub(r"^\s*[.:]\s*", "", rest) if re.match(r"\s*[.:]\s*\S", rest) else "")
        label = _label(kind, number)
        if label in ours and not ours[label].startswith(caption[:40]):
            continue  # a sentence of the body that starts with "Fig. 4." on this line, not the caption
        if len(caption) >= 25 and caption[:60] in sections:
            leaks.add(label)
    out.update(want=len(want), hit=len(want & found), invented=len(found - printed), leaks=len(leaks))
    return out


def score(paper: Paper, truth: dict) -> dict:
    """Compare one extracted Paper with its ground truth."""
    authors = prf([fold_name(a) for a in paper.authors], [fold_name(a) for a in truth["authors"]])
    body = [norm_title(s.title) for s in paper.sections if s.level == 1 and not s.appendix]
    want = [norm_title(s) for s in truth["sections"]]
    sections = prf(body, want)
    abstract = norm_sentence(paper.abstract)
    urls = [norm_url(u) for u in paper.urls]
    want_urls = [norm_url(u) for u in truth.get("urls", [])]
    url_recall = sum(1 for u in want_urls if u in urls) / len(want_urls) if want_urls else None
    refs_want = truth.get("approx_reference_count") or 0
    printed_year = bool(truth.get("venue_as_printed") or truth.get("arxiv_stamp"))
    return {
        "title": norm_title(paper.title) == norm_title(truth["title"]),
        "authors": authors,
        "year": paper.year == truth.get("year"),
        "year_printed": printed_year,
        "venue": paper.venue == truth.get("venue"),
        "abs_first": norm_sentence(truth["abstract_first_sentence"]) in abstract,
        "abs_last": norm_sentence(truth["abstract_last_sentence"]) in abstract,
        "sections": sections,
        "order": in_order(body, want),
        "refs": (len(paper.references), refs_want, abs(len(paper.references) - refs_want) <= 0.1 * refs_want),
        "url_recall": url_recall,
    }


def run(papers_dir: Path) -> int:
    pdfs = sorted(papers_dir.glob("*.pdf"))
    pdfs = [p for p in pdfs if p.with_suffix(".json").exists()]
    if not pdfs:
        print(f"no PDFs with ground truth in {papers_dir}")
        return 1
    rows = []
    header = (f"{'paper':28} {'title':5} {'auth P/R/F1':14} {'year':4} {'venue':5} {'abs1':4} {'absN':4} "
              f"{'sect F1':7} {'ord':3} {'refs':9} {'urls':5} {'cold s':6} {'pdftxt':6} {'x':5} {'warm s':6}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        for pdf in pdfs:
            truth = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
            paper, cold = cold_load(pdf, cache)
            start = time.perf_counter()
            load_paper(pdf, cache)
            warm = time.perf_counter() - start
            ref = pdftotext_time(pdf)
            s = score(paper, truth)
            s.update(cold=cold, warm=warm, pdftotext=ref, name=pdf.stem)
            s["floats"] = score_floats(paper, pdftotext_text(pdf))
            rows.append(s)
            a = s["authors"]
            n, want, ok = s["refs"]
            url = "-" if s["url_recall"] is None else f"{s['url_recall']:.2f}"
            ratio = f"{cold / ref:.1f}" if ref else "-"
            print(f"{pdf.stem[:28]:28} {_yn(s['title']):5} {a[0]:.2f}/{a[1]:.2f}/{a[2]:.2f} "
                  f"{_yn(s['year']):4} {_yn(s['venue']):5} {_yn(s['abs_first']):4} {_yn(s['abs_last']):4} "
                  f"{s['sections'][2]:7.2f} {_yn(s['order']):3} {f'{n}/{want}':6}{_yn(ok):>3} {url:5} "
                  f"{cold:6.2f} {f'{ref:.2f}' if ref is not None else '-':>6} {ratio:>5} {warm:6.3f}")
    k = len(rows)
    printed = [r for r in rows if r["year_printed"]]
    urls = [r["url_recall"] for r in rows if r["url_recall"] is not None]
    ratios = [r["cold"] / r["pdftotext"] for r in rows if r["pdftotext"]]
    print("-" * len(header))
    print(f"title {sum(r['title'] for r in rows)}/{k}   "
          f"authors P {statistics.mean(r['authors'][0] for r in rows):.3f} "
          f"R {statistics.mean(r['authors'][1] for r in rows):.3f} "
          f"F1 {statistics.mean(r['authors'][2] for r in rows):.3f}   "
          f"year {sum(r['year'] for r in rows)}/{k} (where printed {sum(r['year'] for r in printed)}/{len(printed)})   "
          f"venue {sum(r['venue'] for r in rows)}/{k}")
    print(f"abstract first {sum(r['abs_first'] for r in rows)}/{k} last {sum(r['abs_last'] for r in rows)}/{k}   "
          f"sections F1 {statistics.mean(r['sections'][2] for r in rows):.3f} "
          f"order {sum(r['order'] for r in rows)}/{k}   refs within 10% {sum(r['refs'][2] for r in rows)}/{k}   "
          f"URL recall {statistics.mean(urls) if urls else float('nan'):.3f}")
    print(f"cold median {statistics.median(r['cold'] for r in rows):.3f} s"
          + (f" = {statistics.median(ratios):.2f}x pdftotext (median of per-paper ratios)" if ratios
             else " (pdftotext not installed: no comparison)")
          + f"   warm (cached) max {max(r['warm'] for r in rows):.3f} s")
    print_floats(rows)
    return 0


def print_floats(rows: list[dict]) -> None:
    """Figures and tables against pdftotext's line-start labels; leaks; paragraphs and footnotes kept."""
    print()
    header = (f"{'paper':28} {'figs':4} {'tabs':4} {'labels found/pdftotext':22} {'invented':8} {'leaks':5} "
              f"{'paragraphs':10} {'footnotes':9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        f = r["floats"]
        hit = "-" if f["want"] is None else f"{f['hit']}/{f['want']}"
        invented = "-" if f["invented"] is None else str(f["invented"])
        print(f"{r['name'][:28]:28} {f['figures']:4} {f['tables']:4} {hit:>22} {invented:>8} {f['leaks']:5} "
              f"{f['paragraphs']:10} {f['footnotes']:9}")
    print("-" * len(header))
    floats = [r["floats"] for r in rows]
    scored = [f for f in floats if f["want"] is not None]
    recall = (f"{sum(f['hit'] for f in scored) / max(1, sum(f['want'] for f in scored)):.3f}" if scored else "-")
    invented = str(sum(f["invented"] for f in scored)) if scored else "-"
    print(f"caption recall {recall} (of pdftotext's line-start labels)   invented {invented}   "
          f"leaks {sum(f['leaks'] for f in floats)}   paragraphs {sum(f['paragraphs'] for f in floats)}   "
          f"figures {sum(f['figures'] for f in floats)}   tables {sum(f['tables'] for f in floats)}   "
          f"footnotes {sum(f['footnotes'] for f in floats)}")


def _yn(flag: bool) -> str:
    return "ok" if flag else "NO"


def main() -> int:
    papers_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    if not papers_dir.is_dir():
        print(f"papers directory not found: {papers_dir}")
        return 1
    return run(papers_dir)


if __name__ == "__main__":
    sys.exit(main())
