"""Shared papers -> false alarms and misses of the fact check (drafter.check), per paper.

Usage: python bench/faithfulness.py [PAPERS_DIR]   (default: ../shared/papers next to the repository)

For every paper it builds two sets of section texts:
- faithful: made only of the paper's own sentences and numbers, so every finding is a false alarm. Sentences
  copied as extracted; sentences quoted ("The authors write: "..."") whole, or with an ellipsis; and each number
  the paper prints restated in another spelling the check must accept (1,024 / 1024, 71.3% / 71.3 percent,
  0.25 / 0.250, 3.5x / 3.5×, 40M / 40 million); and numbers from table cells and captions;
- planted: wrong numbers (a real number with one digit changed, and a fixed list of invented ones such as
  "91.7%" and "37 days"), misquotes (a real sentence with one word changed or dropped), broken LaTeX and prompt
  slots, so every planted item the check does not report is a miss.
A planted wrong number whose value the paper prints elsewhere ("3.4x" where the paper prints 3.4 for something else,
"1.7M" where the paper prints a plain 1.7, as tables with an "(M)" header do) is accepted by design: the check
prefers silence to false alarms; such numbers are listed apart ("printed"), not counted as misses.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

from drafter.check import _CITATION, _canonical, _scan_numbers, check_section, index_paper  # bench reads internals
from drafter.config import load_settings
from drafter.paper import Paper
from drafter.sources import load_source

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "papers"
SECTIONS = ("summary", "problem", "solution", "innovations", "takeaways", "discussion")
INVENTED = ["91.7%", "37 days", "3.4x", "1.7M tokens", "0.873", "12,345 steps", "6.02 BLEU", "4.61 bits/dim"]
BROKEN_MATH = [r"$$\frac{QK^T}{\sqrt{d_k}$$", r"$\left( \sum_i x_i$", r"$$\begin{foo} a \end{foo}$$",
               r"$x_{t$", r"$$ a + b \right) $$"]
SLOTS = ["- **<practical insight>**: <how it applies to real work>", "### Core Innovation #1: [Name of the method]"]


def sentences(paper: Paper) -> list[str]:
    """The body's sentences (abstract and sections) with 8 to 60 words, six of them real words (not extracted
    formulas), whitespace collapsed."""
    text = "\n\n".join([paper.abstract, *(s.text for s in paper.sections)])
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", " ".join(paragraph.split())):
            if 8 <= len(sentence.split()) <= 60 and len(re.findall(r"\b[A-Za-z]{3,}\b", sentence)) >= 6:
                out.append(sentence)
    return out


def respell(text: str) -> str | None:
    """The same quantity written another way, or None if this spelling has no useful variant."""
    m = re.fullmatch(r"(\d{1,3}(?:,\d{3})+)(.*)", text)
    if m:
        return m.group(1).replace(",", "") + m.group(2)
    m = re.fullmatch(r"(\d{4,})(\s.*|)", text)
    if m and not 1900 <= int(m.group(1)) <= 2099:
        return f"{int(m.group(1)):,}{m.group(2)}"
    m = re.fullmatch(r"([\d.]+)\s?%", text)
    if m:
        return f"{m.group(1)} percent"
    m = re.fullmatch(r"([\d.]+)\s?(?:×|x)", text)
    if m:
        return f"{m.group(1)}×" if text.endswith("x") else f"{m.group(1)}x"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([MB])\b(.*)", text)
    if m:
        return f"{m.group(1)} {'million' if m.group(2) == 'M' else 'billion'}{m.group(3)}"
    m = re.fullmatch(r"(\d+\.\d+)(.*)", text)
    if m:
        return f"{m.group(1)}0{m.group(2)}"
    return None


def perturb(text: str, rng: random.Random) -> str | None:
    """A real number with its last digit changed: a realistic wrong number (None for short numbers)."""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digits) < 3:
        return None
    i = digits[-1]
    return text[:i] + str((int(text[i]) + rng.randint(1, 9)) % 10) + text[i + 1:]


def misquote(sentence: str, rng: random.Random) -> str | None:
    """One word changed or dropped inside the sentence (a quote that starts or ends mid-sentence is still the
    paper's words, and a dropped symbol is not a different wording), or None if it has no such word."""
    words = sentence.split()
    # words inside parentheses may be a citation, which the check drops from both sides; and a quote may end
    # just before one, so the two words before a closing parenthetical count as the last ones
    inside, depth = set(), 0
    for i, w in enumerate(words):
        depth += w.count("(")
        if depth:
            inside.add(i)
        depth = max(0, depth - w.count(")"))
    end = len(words)
    while end and end - 1 in inside:
        end -= 1
    content = [i for i, w in enumerate(words[2:end - 2], 2) if len(w) > 3 and w.isalpha() and i not in inside]
    if not content:
        return None
    i = rng.choice(content)
    if rng.random() < 0.5:
        words[i] = "remarkably" if words[i].lower() != "remarkably" else "notably"
    else:
        del words[i]
    return " ".join(words)


def bench(pdf: Path) -> dict[str, object]:
    settings = load_settings({"offline": True})
    paper = load_source(str(pdf), settings)
    started = time.perf_counter()
    index = index_paper(paper)
    index_ms = (time.perf_counter() - started) * 1000
    rng = random.Random(pdf.stem)
    said = sentences(paper)
    numbered = [s for s in said if re.search(r"\d", s)]
    plain = rng.sample(said, min(30, len(said)))
    with_numbers = rng.sample(numbered, min(40, len(numbered)))
    quoted = rng.sample(said, min(30, len(said)))

    faithful: list[str] = [*plain, *with_numbers]
    faithful += [f'The authors write: "{s.rstrip(".")}."' for s in quoted[:15]]
    for s in quoted[15:]:
        words = s.split()
        cut = len(words) // 3
        faithful.append(f'As the paper puts it, "{" ".join(words[:cut])} ... {" ".join(words[cut + 1:])}"')
    numbers = [n.text for s in numbered for n in _scan_numbers(s)]
    variants = [v for v in (respell(n) for n in dict.fromkeys(numbers)) if v]
    faithful += [f"The paper reports {v} here." for v in variants[:40]]
    floats = [*paper.figures, *paper.tables]
    cells = list(dict.fromkeys(n.text for f in floats  # numbers, not [12]-style citation marks
                               for n in _scan_numbers(_CITATION.sub(" ", f"{f.caption}\n{f.content}"))))
    faithful += [f"{rng.choice(['Its table lists', 'A caption gives', 'The results show'])} {c} for this row."
                 for c in rng.sample(cells, min(20, len(cells)))]

    false_alarms: list[str] = []
    checked_ms = 0.0
    for i, text in enumerate(faithful):
        started = time.perf_counter()
        findings = check_section(SECTIONS[i % len(SECTIONS)], text, index)
        checked_ms += (time.perf_counter() - started) * 1000
        false_alarms += [f"{f.kind}: {f.text[:70]}" for f in findings]

    planted: list[tuple[str, str, str]] = []  # kind, text as planted, sentence
    for text in INVENTED:
        planted.append(("number", text, f"The model reaches {text} in the main experiment."))
    results = [n for n in numbers if not re.fullmatch(r"(?:19|20)\d\d[a-z]?", n)]  # years cite works
    for n in rng.sample(results, min(30, len(results))):
        wrong = perturb(n, rng)
        if wrong:
            planted.append(("number", wrong, f"The paper reports {wrong} here."))
    for s in rng.sample(said, min(30, len(said))):
        wrong = misquote(s, rng)
        if wrong:
            planted.append(("quote", "", f'The authors write: "{wrong}"'))
    planted += [("math", m, f"The key formula is {m} as shown.") for m in BROKEN_MATH]
    planted += [("placeholder", s, s) for s in SLOTS]

    misses: list[str] = []
    printed: list[str] = []
    for i, (kind, text, sentence) in enumerate(planted):
        findings = check_section(SECTIONS[i % len(SECTIONS)], sentence, index)
        if any(f.kind == kind for f in findings):
            continue
        if kind == "number" and any(index.has_number([_canonical(v) for v in n.values], references=False)
                                    for n in _scan_numbers(text)):
            printed.append(text)  # the wrong number is printed elsewhere in the paper: no text check can tell
            continue
        misses.append(f"{kind}: {(text or sentence)[:70]}")
    return {"paper": pdf.stem, "faithful": len(faithful), "false": false_alarms, "planted": len(planted),
            "printed": printed, "misses": misses, "index_ms": index_ms, "check_ms": checked_ms / len(faithful)}


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    pdfs = sorted(folder.glob("*.pdf"))
    if not pdfs:
        print(f"no PDFs in {folder}: pass the shared papers folder", file=sys.stderr)
        return 2
    rows = [bench(pdf) for pdf in pdfs]
    print(f"{'paper':<28} {'faithful':>8} {'false alarms':>12} {'planted':>7} {'misses':>6} {'printed':>7} "
          f"{'index ms':>8} {'check ms':>8}")
    for r in rows:
        print(f"{r['paper']:<28} {r['faithful']:>8} {len(r['false']):>12} {r['planted']:>7} "  # type: ignore[arg-type]
              f"{len(r['misses']):>6} {len(r['printed']):>7} {r['index_ms']:>8.1f} {r['check_ms']:>8.2f}")  # type: ignore[arg-type]
    total = {k: sum(len(r[k]) if isinstance(r[k], list) else r[k] for r in rows)  # type: ignore[arg-type,misc]
             for k in ("faithful", "false", "planted", "misses", "printed")}
    print(f"{'total':<28} {total['faithful']:>8} {total['false']:>12} {total['planted']:>7} {total['misses']:>6} "
          f"{total['printed']:>7}")
    for r in rows:
        for item in r["false"]:  # type: ignore[attr-defined]
            print(f"false alarm  {r['paper']}: {item}")
        for item in r["misses"]:  # type: ignore[attr-defined]
            print(f"miss         {r['paper']}: {item}")
        if r["printed"]:
            print(f"printed      {r['paper']}: {', '.join(r['printed'])}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
