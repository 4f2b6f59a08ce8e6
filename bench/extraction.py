"""Shared papers (PDF + hand-checked ground truth) -> extraction scores per field and per paper, and the failures.

    python bench/extraction.py                       # full run: every part, summary table, failures
    python bench/extraction.py --fields text         # extraction fields only (fast: one extraction per paper)
    python bench/extraction.py --figures             # figure export: exported %, duplicated crops, tables, small
    python bench/extraction.py --offline-drafts      # `drafter new --offline` exit code and `drafter check` clean
    python bench/extraction.py --timing              # extraction time against pdftotext (best of 3 each)
    python bench/extraction.py --paper moco --paper codex --fields text    # some papers only

Papers: every PDF with a `<slug>.json` beside it in ../shared/papers and ../shared/papers-wide (next to the
repository), or the folders given with --dir. The ground truth is schema 2 (../shared/LABELING.md); fields a
schema-1 file does not label (captions, furniture, body and subsection samples) print '-' for that paper.

Fields (the targets of issue 16 in brackets):
  title      normalised title equal                                             [32/32]
  authors    F1 of the author names (accent- and case-insensitive)               [>= 0.97]
  sections   F1 of the top-level body headings, matched in order (LCS)          [>= 0.97]
  abstract   the first and the last sentence both in the abstract (letters/digits compared) [31/32]
  year       right, over the papers that print a venue or an arXiv stamp        [>= 95%]
  captions   recall of labels whose caption starts with the labelled words; invented = labels not in the truth
                                                                                [>= 0.97, <= 1 invented]
  furniture  labelled furniture strings found in any section text or the abstract [0]
  body       body samples found, words only / exact spacing and punctuation    [>= 99% / >= 97%]
  subsec     subsection samples found as a level-2 heading under their parent   [>= 0.9]
  --figures  captioned figures exported; duplicated crops (identical PNG bytes); exported images that are not
             a labelled figure (tables, invented labels); crops under 150 px on the short side
                                                                                [>= 95%, 0, 0, 0]
  --offline-drafts  `drafter new --offline --no-figures` exits 0 and `drafter check` on the draft exits 0
  --timing   best-of-3 cold extraction seconds / best-of-3 pdftotext seconds   [within 4x]

Numbers are printed, never asserted: the tests (tests/test_extract_shared.py) hold what is met.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drafter.extract import load_paper
from drafter.paper import Paper
from drafter.text import fold_name

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_DIRS = (SHARED / "papers", SHARED / "papers-wide")
PARTS = ("text", "figures", "drafts", "timing")
REPEATS = 3  # timings are the best of a few runs, so other processes on the machine disturb the ratio less
SMALL_CROP = 150  # pixels on the short side


# -- normal forms -------------------------------------------------------------------------------------------


def norm_title(text: str) -> str:
    """NFKC, case-, accent- and whitespace-insensitive form of a title or heading."""
    return fold_name(unicodedata.normalize("NFKC", text))


def norm_words(text: str) -> str:
    """Words-only form of a sentence: accents and case folded, only letters and digits kept."""
    return re.sub(r"[^a-z0-9]+", "", fold_name(unicodedata.normalize("NFKC", text)))


def norm_exact(text: str) -> str:
    """Exact form: NFKC (ligatures expanded), whitespace runs collapsed; spacing and punctuation kept."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def words_with_positions(text: str) -> tuple[str, list[int]]:
    """`norm_words` of NFKC `text`, and for each kept character its index in the NFKC text."""
    text = unicodedata.normalize("NFKC", text)
    kept, where = [], []
    for i, ch in enumerate(text):
        folded = norm_words(ch)
        for c in folded:
            kept.append(c)
            where.append(i)
    return "".join(kept), where


_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _roman(token: str) -> int | None:
    if not token or any(c not in _ROMAN for c in token):
        return None
    total = 0
    for a, b in zip(token, token[1:] + " ", strict=True):
        value = _ROMAN[a]
        total += -value if b != " " and _ROMAN[b] > value else value
    return total


def norm_label(label: str) -> str:
    """'Fig. 3' / 'FIGURE 3' / 'Table III' / 'Figure A.1' -> 'figure 3' / 'figure 3' / 'table 3' / 'figure a1'."""
    words = fold_name(label).replace("fig.", "figure").replace("tab.", "table").split()
    if words:
        words[-1] = re.sub(r"^([a-z])\.(?=\d)", r"\1", words[-1])  # "A.1" = "A1" (not "1.1" = "11")
    if words and (number := _roman(words[-1])) is not None:
        words[-1] = str(number)
    return " ".join(words)


def prf(found: list[str], truth: list[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of two lists compared as sets."""
    f, t = set(found), set(truth)
    if not f and not t:
        return 1.0, 1.0, 1.0
    tp = len(f & t)
    p = tp / len(f) if f else 0.0
    r = tp / len(t) if t else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def ordered_f1(found: list[str], truth: list[str]) -> float:
    """F1 where the true positives are the longest common subsequence: right headings in the right order."""
    if not found and not truth:
        return 1.0
    table = [[0] * (len(truth) + 1) for _ in range(len(found) + 1)]
    for i, a in enumerate(found):
        for j, b in enumerate(truth):
            table[i + 1][j + 1] = table[i][j] + 1 if a == b else max(table[i][j + 1], table[i + 1][j])
    tp = table[-1][-1]
    return 2 * tp / (len(found) + len(truth)) if tp else 0.0


def short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- one paper ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One paper's scores: `fields` maps a field to its value (None: not labelled); `failures` explain misses."""

    name: str
    schema: int
    fields: dict[str, Any] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, name: str, detail: str) -> None:
        self.failures.append((name, detail))


def score_header(paper: Paper, truth: dict, res: Result) -> None:
    """Title, authors, year where printed, abstract first and last sentence."""
    res.fields["title"] = norm_title(paper.title) == norm_title(truth["title"])
    if not res.fields["title"]:
        res.fail("title", f"want {truth['title']!r} got {paper.title!r}")
    got, want = [fold_name(a) for a in paper.authors], [fold_name(a) for a in truth["authors"]]
    res.fields["authors"] = prf(got, want)[2]
    if got != want:
        missing, extra = [a for a in want if a not in got], [a for a in got if a not in want]
        res.fail("authors", f"missing {missing} extra {extra}" if missing or extra else f"order {paper.authors}")
    printed = bool(truth.get("venue_as_printed") or truth.get("arxiv_stamp"))
    res.fields["year_printed"] = printed
    res.fields["year"] = paper.year == truth.get("year")
    if not res.fields["year"]:
        res.fail("year" if printed else "year(unprinted)", f"want {truth.get('year')} got {paper.year}")
    abstract = norm_words(paper.abstract)
    first, last = truth["abstract_first_sentence"], truth["abstract_last_sentence"]
    ok_first = norm_words(first) in abstract if first else not abstract
    ok_last = norm_words(last) in abstract if last else not abstract
    res.fields["abstract"] = ok_first and ok_last
    if not ok_first:
        res.fail("abstract.first", f"want {short(first)!r} got {short(paper.abstract)!r}")
    if not ok_last:
        res.fail("abstract.last", f"want {short(last)!r} got …{paper.abstract[-70:]!r}")


def score_sections(paper: Paper, truth: dict, res: Result) -> None:
    """Top-level body headings in order; subsection samples at level 2 under their parent."""
    got = [norm_title(s.title) for s in paper.sections if s.level == 1 and not s.appendix]
    want = [norm_title(s) for s in truth["sections"]]
    res.fields["sections"] = ordered_f1(got, want)
    if got != want:
        res.fail("sections", f"want {want} got {got}")
    samples = truth.get("subsections_sample")
    if samples is None:
        res.fields["subsec"] = None
        return
    parent, seen = "", {}
    for sec in paper.sections:
        seen.setdefault(norm_title(sec.title), []).append((sec.level, parent if sec.level > 1 else ""))
        if sec.level == 1:
            parent = norm_title(sec.title)
    hit = 0
    for sample in samples:
        places = seen.get(norm_title(sample["title"]), [])
        if (2, norm_title(sample["parent"])) in places:
            hit += 1
        else:
            where = f"found as {places}" if places else "not found"
            res.fail("subsec", f"{sample['title']!r} under {sample['parent']!r}: {where}")
    res.fields["subsec"] = (hit, len(samples))


def score_captions(paper: Paper, truth: dict, res: Result) -> None:
    """Labels whose caption starts with the labelled words; labels found that the truth does not have."""
    if "figures" not in truth:
        res.fields["captions"] = res.fields["invented"] = None
        return
    ours: dict[str, list[str]] = {}
    for f in (*paper.figures, *paper.tables):
        ours.setdefault(norm_label(f.label), []).append(f.caption)
    wanted = [*truth["figures"], *truth["tables"]]
    hit = 0
    for item in wanted:
        captions = ours.get(norm_label(item["label"]), [])
        start = norm_words(item["caption_start"])
        if any(norm_words(c).startswith(start) for c in captions):
            hit += 1
        elif captions:
            res.fail("captions", f"{item['label']} p{item['page']}: want {short(item['caption_start'], 50)!r} "
                                 f"got {short(captions[0], 50)!r}")
        else:
            res.fail("captions", f"{item['label']} p{item['page']} missing ({short(item['caption_start'], 50)!r})")
    labels = {norm_label(item["label"]) for item in wanted}
    invented = [f for f in (*paper.figures, *paper.tables) if norm_label(f.label) not in labels]
    for f in invented:
        res.fail("invented", f"{f.label} p{f.page}: {short(f.caption, 50)!r}")
    res.fields["captions"] = (hit, len(wanted))
    res.fields["invented"] = len(invented)


def score_text(paper: Paper, truth: dict, res: Result) -> None:
    """Furniture kept out of every section and the abstract; body samples found (words only, exact)."""
    if "furniture" not in truth:
        res.fields["furniture"] = res.fields["body_words"] = res.fields["body_exact"] = None
        return
    leaks = 0
    texts = [("abstract", paper.abstract), *((s.title, s.text) for s in paper.sections)]
    for item in truth["furniture"]:
        key = norm_words(item)
        places = [title for title, text in texts if key and key in norm_words(text)]
        if places:
            leaks += 1
            res.fail("furniture", f"{short(item, 50)!r} in {short(', '.join(places), 60)}")
    res.fields["furniture"] = leaks
    body = " ".join(s.text for s in paper.sections)
    words, where = words_with_positions(body)
    exact_body = norm_exact(body)
    nfkc = unicodedata.normalize("NFKC", body)
    found_words = found_exact = 0
    for sample in truth["body_samples"]:
        at = words.find(norm_words(sample))
        if at < 0:
            res.fail("body.words", f"{short(sample, 90)!r} not found")
            continue
        found_words += 1
        if norm_exact(sample) in exact_body:
            found_exact += 1
        else:
            ours = nfkc[where[at]: where[at + len(norm_words(sample)) - 1] + 1]
            res.fail("body.exact", f"want {short(sample, 90)!r}\n{'':>34}got  {short(ours, 90)!r}")
    n = len(truth["body_samples"])
    res.fields["body_words"], res.fields["body_exact"] = (found_words, n), (found_exact, n)


def score_figures(pdf: Path, paper: Paper, truth: dict, res: Result, keep: Path | None) -> None:
    """Export the figures as a draft would; score them against the labelled figures."""
    from drafter.figures import export_figures

    with tempfile.TemporaryDirectory() as tmp:
        out = (keep / pdf.stem) if keep else Path(tmp) / "figures"
        result = export_figures(pdf, paper.figures, out, [s.title for s in paper.sections], paper.tables)
        blobs = {im.figure.label: hashlib.sha256(im.path.read_bytes()).hexdigest() for im in result.images}
    exported = {norm_label(im.figure.label) for im in result.images}
    seen: dict[str, str] = {}
    duplicates = 0
    for label, digest in blobs.items():
        if digest in seen:
            duplicates += 1
            res.fail("fig.duplicate", f"{label} is byte-identical to {seen[digest]}")
        else:
            seen[digest] = label
    small = [im for im in result.images if min(im.size) < SMALL_CROP]
    for im in small:
        res.fail("fig.small", f"{im.figure.label}: {im.size[0]}x{im.size[1]} px")
    for warning in result.warnings:
        res.fail("fig.skipped", short(warning, 100))
    res.fields["fig_dup"], res.fields["fig_small"] = duplicates, len(small)
    res.fields["fig_images"] = len(result.images)
    if "figures" not in truth:
        res.fields["fig_exported"] = res.fields["fig_not_figure"] = None
        return
    want = [norm_label(f["label"]) for f in truth["figures"]]
    hit = sum(1 for label in want if label in exported)
    for item in truth["figures"]:
        if norm_label(item["label"]) not in exported:
            res.fail("fig.missing", f"{item['label']} p{item['page']} not exported")
    not_figure = [im for im in result.images if norm_label(im.figure.label) not in set(want)]
    for im in not_figure:
        res.fail("fig.not_figure", f"{im.figure.label} p{im.figure.page} exported but not a labelled figure")
    res.fields["fig_exported"] = (hit, len(want))
    res.fields["fig_not_figure"] = len(not_figure)


def score_offline_draft(pdf: Path, res: Result, work: Path) -> None:
    """`drafter new --offline --no-figures` exits 0; `drafter check` on the untouched draft exits 0."""
    env = {**os.environ, "DRAFTER_ENRICH": "0", "XDG_CACHE_HOME": str(work / "cache"),
           "XDG_CONFIG_HOME": str(work / "config"), "NO_COLOR": "1"}
    env.pop("OPENAI_API_KEY", None)
    draft = work / f"{pdf.stem}.md"
    cmd = [sys.executable, "-m", "drafter"]
    new = subprocess.run([*cmd, "new", str(pdf), "--offline", "--no-figures", "--no-enrich", "-f", "-o", str(draft)],
                         capture_output=True, text=True, env=env, check=False)
    res.fields["draft_exit"] = new.returncode
    if new.returncode != 0:
        last = new.stderr.strip().splitlines()[-1] if new.stderr.strip() else ""
        res.fail("draft.new", f"exit {new.returncode}: {short(last, 90)}")
        res.fields["draft_check"] = False
        return
    check = subprocess.run([*cmd, "check", str(draft)], capture_output=True, text=True, env=env, check=False)
    res.fields["draft_check"] = check.returncode == 0
    if check.returncode != 0:
        lines = [ln for ln in (check.stdout + check.stderr).splitlines() if ln.strip()]
        res.fail("draft.check", f"exit {check.returncode}: " + " | ".join(short(ln, 80) for ln in lines[:3]))


def best_of(fn: Any) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def score_timing(pdf: Path, res: Result) -> None:
    """Cold extraction (no cache) and pdftotext, best of REPEATS each."""
    exe = shutil.which("pdftotext")
    res.fields["seconds"] = best_of(lambda: load_paper(pdf, None))
    res.fields["pdftotext"] = None if exe is None else best_of(
        lambda: subprocess.run([exe, str(pdf), "-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=False))


def score_paper(pdf: Path, parts: set[str], work: Path, keep: Path | None) -> Result:
    truth = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
    res = Result(pdf.stem, int(truth.get("schema") or 1))
    paper = load_paper(pdf, work / "papers-cache")
    if "text" in parts:
        score_header(paper, truth, res)
        score_sections(paper, truth, res)
        score_captions(paper, truth, res)
        score_text(paper, truth, res)
    if "figures" in parts:
        score_figures(pdf, paper, truth, res, keep)
    if "drafts" in parts:
        score_offline_draft(pdf, res, work)
    if "timing" in parts:
        score_timing(pdf, res)
    return res


# -- tables ---------------------------------------------------------------------------------------------------


def _frac(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return f"{value[0]}/{value[1]}"
    if isinstance(value, bool):
        return "ok" if value else "NO"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


COLUMNS = {  # field -> (header, width, part)
    "title": ("title", 5, "text"), "authors": ("auth", 4, "text"), "sections": ("sect", 4, "text"),
    "abstract": ("abs", 3, "text"), "year": ("year", 4, "text"), "captions": ("capt", 5, "text"),
    "invented": ("inv", 3, "text"), "furniture": ("furn", 4, "text"), "body_words": ("bodyW", 5, "text"),
    "body_exact": ("bodyX", 5, "text"), "subsec": ("sub", 3, "text"),
    "fig_exported": ("figs", 5, "figures"), "fig_dup": ("dup", 3, "figures"),
    "fig_not_figure": ("nfig", 4, "figures"), "fig_small": ("sml", 3, "figures"),
    "draft_exit": ("new", 3, "drafts"), "draft_check": ("chk", 3, "drafts"),
    "ratio": ("xpdf", 5, "timing"),
}


def print_table(results: list[Result], parts: set[str]) -> None:
    cols = [(k, *v) for k, v in COLUMNS.items() if v[2] in parts]
    header = f"{'paper':24} " + " ".join(f"{h:>{w}}" for _, h, w, _ in cols)
    print(header)
    print("-" * len(header))
    for r in results:
        if "timing" in parts and r.fields.get("pdftotext"):
            r.fields["ratio"] = r.fields["seconds"] / r.fields["pdftotext"]
        cells = []
        for key, _, width, _ in cols:
            value = r.fields.get(key)
            if key == "ratio" and value is not None:
                cells.append(f"{value:>{width}.1f}")
            else:
                cells.append(f"{_frac(value):>{width}}")
        print(f"{r.name[:24]:24} " + " ".join(cells))
    print("-" * len(header))


def _sum_pairs(values: list[Any]) -> tuple[int, int]:
    pairs = [v for v in values if v is not None]
    return sum(a for a, _ in pairs), sum(b for _, b in pairs)


def _rate(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]} = {pair[0] / pair[1]:.3f}" if pair[1] else "-"


def print_summary(results: list[Result], parts: set[str]) -> None:
    k = len(results)

    def col(key: str) -> list[Any]:
        return [r.fields.get(key) for r in results]

    if "text" in parts:
        printed = [r for r in results if r.fields["year_printed"]]
        labelled = [v for v in col("invented") if v is not None]
        print(f"title {sum(col('title'))}/{k} [32/32]   authors F1 {statistics.mean(col('authors')):.3f} [0.97]   "
              f"sections F1 in order {statistics.mean(col('sections')):.3f} [0.97]   "
              f"abstract first+last {sum(col('abstract'))}/{k} [31/32]")
        print(f"year where printed {sum(r.fields['year'] for r in printed)}/{len(printed)} [95%]   "
              f"year all {sum(col('year'))}/{k}   captions {_rate(_sum_pairs(col('captions')))} [0.97]   "
              f"invented {sum(labelled)} [<=1]   (captions on {len(labelled)} labelled papers)")
        furn = [v for v in col("furniture") if v is not None]
        print(f"furniture in sections {sum(furn)} [0] on {sum(1 for v in furn if v)} papers   "
              f"body words {_rate(_sum_pairs(col('body_words')))} [0.99]   "
              f"body exact {_rate(_sum_pairs(col('body_exact')))} [0.97]   "
              f"subsections {_rate(_sum_pairs(col('subsec')))} [0.9]")
    if "figures" in parts:
        print(f"figures exported {_rate(_sum_pairs(col('fig_exported')))} [0.95]   "
              f"duplicated crops {sum(col('fig_dup'))} [0]   "
              f"not-a-figure exported {sum(v for v in col('fig_not_figure') if v is not None)} [0]   "
              f"crops < {SMALL_CROP} px {sum(col('fig_small'))} [0]   images {sum(col('fig_images'))}")
    if "drafts" in parts:
        print(f"offline drafts exit 0 {sum(1 for v in col('draft_exit') if v == 0)}/{k}   "
              f"check clean {sum(1 for v in col('draft_check') if v)}/{k} [all]")
    if "timing" in parts:
        ratios = [v for v in col("ratio") if v is not None]
        seconds = col("seconds")
        print(f"extraction total {sum(seconds):.2f} s, median {statistics.median(seconds):.3f} s"
              + (f" = {statistics.median(ratios):.2f}x pdftotext median, max {max(ratios):.2f}x, "
                 f"total {sum(seconds) / sum(r.fields['pdftotext'] for r in results):.2f}x [4x]"
                 if ratios else "   (pdftotext not installed: no comparison)"))


def print_failures(results: list[Result]) -> None:
    failing = [r for r in results if r.failures]
    if not failing:
        print("\nno failures")
        return
    print(f"\nfailures ({sum(len(r.failures) for r in failing)} on {len(failing)} papers):")
    for r in failing:
        for name, detail in r.failures:
            print(f"  {r.name[:18]:18} {name:14} {detail}")


# -- command line ---------------------------------------------------------------------------------------------


def find_pdfs(dirs: list[Path], slugs: list[str]) -> list[Path]:
    pdfs = [p for d in dirs for p in sorted(d.glob("*.pdf")) if p.with_suffix(".json").exists()]
    if slugs:
        pdfs = [p for p in pdfs if p.stem in slugs]
    return pdfs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--dir", type=Path, action="append", help="papers folder (repeatable)")
    parser.add_argument("--paper", action="append", default=[], help="only this slug (repeatable)")
    parser.add_argument("--fields", default="", help=f"comma-separated parts: {', '.join(PARTS)} (default: all)")
    parser.add_argument("--figures", action="store_true", help="the figure-export part")
    parser.add_argument("--offline-drafts", action="store_true", help="the offline-draft part")
    parser.add_argument("--timing", action="store_true", help="the timing part")
    parser.add_argument("--keep", type=Path, help="keep the exported PNGs under DIR/<slug>/")
    parser.add_argument("--no-failures", action="store_true", help="print the tables only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = {p.strip() for p in args.fields.split(",") if p.strip()}
    parts |= {name for name, flag in (("figures", args.figures), ("drafts", args.offline_drafts),
                                      ("timing", args.timing)) if flag}
    parts = parts or set(PARTS)
    if parts - set(PARTS):
        print(f"unknown part(s): {', '.join(sorted(parts - set(PARTS)))}; choose from {', '.join(PARTS)}")
        return 2
    dirs = args.dir or [d for d in DEFAULT_DIRS if d.is_dir()]
    pdfs = find_pdfs(dirs, args.paper)
    if not pdfs:
        print(f"no PDFs with ground truth in {', '.join(map(str, dirs)) or SHARED}"
              + (f" named {', '.join(args.paper)}" if args.paper else ""))
        return 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = [score_paper(pdf, parts, Path(tmp), args.keep) for pdf in pdfs]
    print_table(results, parts)
    print_summary(results, parts)
    if not args.no_failures:
        print_failures(results)
    print(f"\n{len(results)} papers, parts {', '.join(p for p in PARTS if p in parts)}, "
          f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
