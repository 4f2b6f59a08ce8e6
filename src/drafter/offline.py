"""Paper + section id -> Markdown drafted from the paper's own sentences (the embedded offline default).

No model and no network: each section is filled with sentences chosen from the part of the paper the
section is about, scored by cue words, kept in the paper's order, and flagged as extracted text that the
author should rewrite.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise

from drafter.paper import Paper, Section

NOTE = "> 📝 *Offline draft: sentences extracted from the paper. Rewrite them in your own words.*"

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
_ABBREV = re.compile(r"(\be\.g|\bi\.e|\bet al|\bFigs?|\bEqs?|\bSecs?|\bvs|\bcf|\bNo|\bresp|\b[A-Z])\.$")
_CUES = {
    "hook": r"\b(problem|challeng|important|critical|key|state[- ]of[- ]the[- ]art|outperform|significant|"
            r"enable|first|new)\w*",
    "contribution": r"\b(we (propose|present|introduce|show|develop|describe)|this (paper|work)|in this (paper|work)|"
                    r"our (approach|method|model|framework))\b",
    "problem": r"\b(however|but|limit|challeng|difficult|problem|expensive|costly|slow|fail|lack|unable|"
               r"suffer|bottleneck|require|hard|struggl|restrict|drawback|insufficient|suboptimal|cannot|poor|"
               r"prohibitive|gap|issue)\w*",
    "solution": r"\b(we (propose|introduce|present)|our (approach|method|model)|key idea|instead|based on|"
                r"allows?|enables?|simple)\b",
    "result": r"(\boutperform|\bimprov|\bachiev|\bfaster|\bstate[- ]of[- ]the[- ]art|\bbetter|\bbest|%|\bgain)",
    "future": r"\b(future|limitation|open|remain|extend|further|plan to|could be|would be)\w*",
}
_STOP = set(
    """a an the of for and or in on to with by from at as is are we our this that these those via using use
    based toward towards into over under its their be can new deep learning neural network networks model
    models paper approach method methods""".split()
)


def sentences(text: str) -> list[str]:
    """Readable sentences of a text: whole-line noise, math-heavy and very short or long ones dropped. Heading lines
    (`## Title`, as `Paper.part_text` separates sections) end the text before them and are not sentences."""
    chunks = re.split(r"(?m)^#{1,6} [^\n]*$", text)
    return [s for chunk in chunks for s in _chunk_sentences(chunk)]


def _chunk_sentences(text: str) -> list[str]:
    flat = re.sub(r"\s+", " ", text).strip()
    pieces: list[str] = []
    for piece in _SPLIT.split(flat):
        if pieces and _ABBREV.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"  # "e.g. Smith", "Fig. 3", "A. Author": not a sentence end
        else:
            pieces.append(piece)
    out = []
    for raw in pieces:
        s = raw.strip()
        letters = sum(c.isalpha() for c in s)
        if not (40 <= len(s) <= 420) or letters < 0.6 * len(s) or not s[0].isupper() or s[-1] not in ".!?":
            continue
        out.append(s)
    return out


def _pick(candidates: Iterable[str], cue: str, n: int, exclude: Iterable[str] = ()) -> list[str]:
    """Up to n sentences with the most cue matches (ties: earlier first), returned in the paper's order."""
    pool = [s for s in dict.fromkeys(candidates) if s not in set(exclude)]
    pattern = re.compile(_CUES[cue], re.I)
    scored = sorted(range(len(pool)), key=lambda i: (-len(pattern.findall(pool[i])), i))
    chosen = sorted(i for i in scored[:n] if pattern.search(pool[i]) or len(pool) <= n)
    if not chosen:
        chosen = list(range(min(n, len(pool))))
    return [pool[i] for i in chosen]


def _sents(paper: Paper, *parts: str) -> list[str]:
    return [s for part in parts for s in sentences(paper.part_text(part) if part != "abstract" else paper.abstract)]


def _quote(items: list[str]) -> str:
    return " ".join(items) if items else "*(the paper's text gave nothing usable here: write this part yourself)*"


def _method_topics(paper: Paper) -> list[Section]:
    """Sub-sections of the method part (or the method sections themselves): the candidate innovations."""
    method_titles = {s.title for s in paper.part_sections("method")}
    subs: list[Section] = []
    inside = False
    for sec in paper.sections:
        if sec.appendix:
            continue
        if sec.level == 1:
            inside = sec.title in method_titles
            continue
        if inside and sentences(sec.text):
            subs.append(sec)
    return subs or [s for s in paper.part_sections("method") if sentences(s.text)]


def _summary(paper: Paper) -> str:
    abstract = _sents(paper, "abstract") or _sents(paper, "introduction")
    quick = _pick(abstract, "contribution", 1)
    # Abstracts open with the setting and the problem: the hook. Add the headline result if there is one.
    hook = [s for s in abstract[:3] if s not in quick][:2]
    hook += [s for s in _pick(abstract, "result", 1) if s not in hook and s not in quick]
    return f"{_quote(hook)}\n\n**Quick Summary**: {_quote(quick)}"


def _problem(paper: Paper) -> str:
    """Sentences that name a difficulty, each with the sentence before it (which says what is difficult)."""
    pool = _sents(paper, "introduction") or _sents(paper, "abstract")
    chosen: list[int] = []
    for sentence in _pick(pool, "problem", 3):
        index = pool.index(sentence)
        chosen += [i for i in (index - 1, index) if i >= 0 and i not in chosen]
    return _quote([pool[i] for i in sorted(chosen)[:5]])


def _solution(paper: Paper) -> str:
    """The contribution sentence and the sentences right after it, which usually say how it works."""
    abstract = _sents(paper, "abstract")
    pool = abstract or _sents(paper, "introduction")
    [lead] = _pick(pool, "contribution", 1) or [""]
    if lead and lead in pool:
        start = pool.index(lead)
        chosen = pool[start:start + 3]
    else:
        chosen = _pick(pool, "solution", 3)
    return _quote(chosen)


def _innovations(paper: Paper) -> str:
    """Two innovations: the method's first two sub-sections; where the paper has fewer, the claims of its
    abstract and introduction that the first ones did not use (never an unfilled slot)."""
    topics = _method_topics(paper)
    claims = _sents(paper, "abstract", "introduction")
    used: list[str] = []
    blocks = []
    for n in (1, 2):
        if len(topics) >= n:
            topic = topics[n - 1]
            chosen = _pick(sentences(topic.text), "solution", 3, used)
            name = topic.title
        else:
            chosen = _pick(claims, "contribution", 2, used)
            name = "What the Paper Claims" if n == 1 else "A Further Claim of the Paper"
        used += chosen
        blocks.append(f"### Core Innovation #{n}: {name}\n{_quote(chosen)}")
        if n == 1:
            blocks.append(f'```python\n# TODO(author): a short snippet that illustrates "{name}".\n'
                          "# (Offline mode does not write code.)\n```")
    return "\n\n".join(blocks)


_EQUATION = re.compile(r"^(?=.*[=≤≥∝∑∏∫])(?=.*[A-Za-zα-ωΑ-Ω]).{3,160}$")
_EQ_NUMBER = re.compile(r"\s\((\d{1,2})\)")
_PROSE_END = re.compile(r"(?:[A-Za-z]{2,}[:,]\s+|\.\s+|;\s+(?=[A-Z]))")


def equations(text: str) -> list[str]:
    """Displayed equations: short symbol-heavy lines, and formulas that end in an equation number '(n)'."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if _EQUATION.match(line) and len(re.findall(r"[A-Za-z]{4,}", line)) <= 4 and not _EQ_NUMBER.search(line):
            found.append(line)  # (numbered ones are found below, formatted alike)
    for match in _EQ_NUMBER.finditer(text):
        before = text[max(0, match.start() - 240):match.start()]
        ends = list(_PROSE_END.finditer(before))
        formula = before[ends[-1].end():] if ends else before
        if "=" in formula and 3 <= len(formula) <= 200:
            found.append(f"{formula.strip()}    ({match.group(1)})")
    return list(dict.fromkeys(found))


def _math(paper: Paper) -> str:
    found: list[str] = []
    for sec in paper.part_sections("method") or paper.body_sections():
        found += [e for e in equations(sec.text) if e not in found]
    if not found:
        return ("*(No displayed equations were found in the extracted text. If the paper has key equations, "
                "add them here in LaTeX with an intuitive explanation.)*")
    shown = "\n".join(found[:5])
    return (f"Equations as extracted from the method sections (convert them to LaTeX and explain each term):\n\n"
            f"```text\n{shown}\n```")


def _takeaways(paper: Paper) -> str:
    results = _pick(_sents(paper, "experiments", "conclusion", "abstract"), "result", 3)
    future = _pick(_sents(paper, "conclusion", "discussion"), "future", 2, exclude=results)
    practitioners = "\n".join(f"- {s}" for s in results) or f"- {_quote([])}"
    researchers = "\n".join(f"- {s}" for s in future) or f"- {_quote([])}"
    return f"### For Practitioners\n{practitioners}\n\n### For Researchers\n{researchers}"


def _impact(paper: Paper) -> str:
    changed = _quote(_pick(_sents(paper, "conclusion", "abstract"), "contribution", 2))
    return (f"### What This Paper Changed\n{changed}\n\n### Papers That Built On This\n"
            "- *(Offline mode cannot know later work: list follow-up papers here and verify each one.)*")


def cited_references(paper: Paper, n: int = 5) -> list[str]:
    """The n references cited most often in the body (numbered citations), else the first n."""
    body = " ".join(s.text for s in paper.sections)
    counts: Counter[int] = Counter()
    for group in re.findall(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]", body):
        for number in re.findall(r"\d+", group):
            index = int(number)
            if 1 <= index <= len(paper.references):
                counts[index] += 1
    if counts:
        return [paper.references[i - 1] for i, _ in counts.most_common(n)]
    return paper.references[:n]


def _further_reading(paper: Paper) -> str:
    refs = cited_references(paper)
    if not refs:
        return "*(No reference list was found in the paper: add related papers yourself.)*"
    clean = [re.sub(r"^\[\d+\]\s*", "", r).strip() for r in refs]
    return "From the paper's references, most-cited first:\n\n" + "\n".join(f"- {r}" for r in clean)


_SINGLE_QUOTES = str.maketrans("\u201c\u201d", "\u2018\u2019")


def _quoted(text: str) -> str:
    """`text` in double quotes; quotation marks inside it become single ones, so the quote ends where it should
    (`drafter check` reads a quote up to the next double quote)."""
    inner = text.replace('"', "'").translate(_SINGLE_QUOTES)
    return f'"{inner}"'


def _discussion(paper: Paper) -> str:
    claim = _pick(_sents(paper, "abstract"), "contribution", 1)
    topics = _method_topics(paper)
    future = _pick(_sents(paper, "conclusion", "discussion"), "future", 1)
    q1 = (f"The paper states: {_quoted(claim[0])} Which assumptions does this rest on, and where might it not hold?"
          if claim else "Which assumptions does the paper's central claim rest on?")
    q2 = (f"How would you implement {_quoted(topics[0].title)}, and which design choices would you revisit?"
          if topics else "Which implementation choices in the paper would you revisit, and why?")
    q3 = (f"The authors write: {_quoted(future[0])} Where would you take this work next?"
          if future else "Where would you take this work next?")
    return f"1. {q1}\n2. {q2}\n3. {q3}"


_COMMON = _STOP | set("""each which other such have does not rather than same time per also more most than then
    there their they them when where while what with without well both many much some very only first second
    however because between within across about after before while thus since given used uses show shows
    shown results result number different large small high low good better best work works each long short
    simple novel efficient fast cheap strong recent several various""".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")


def keywords(paper: Paper, n: int = 6) -> list[str]:
    """The paper's distinctive terms: two-word phrases (no punctuation between the words) and single words,
    not stop words, printed often in its body and also in its title or abstract; as printed most often
    ("BatchNorm", "ResNet"), most frequent first."""
    body = " ".join(s.text for s in paper.sections if not s.appendix)
    head = f"{paper.title} {paper.abstract}".lower()
    forms: dict[str, Counter[str]] = {}
    phrases: Counter[tuple[str, str]] = Counter()
    for chunk in re.split(r"[.,;:!?()\[\]\"\u201c\u201d]", body):  # a phrase never runs over punctuation
        words = _WORD.findall(chunk)
        for w in words:
            forms.setdefault(w.lower(), Counter())[w] += 1
        keys = [w.lower() for w in words]
        for pair in pairwise(keys):
            if not any(k in _COMMON or len(k) < 3 or k.isdigit() for k in pair):
                phrases[pair] += 1
    singles = Counter({k: sum(c.values()) for k, c in forms.items()
                       if k not in _COMMON and len(k) >= 4 and not k.isdigit()})

    def shown(key: str) -> str:
        word = forms[key].most_common(1)[0][0]
        return word if any(c.isupper() for c in word[1:]) else word[:1].upper() + word[1:]

    picked: list[str] = []
    for strict in (True, False):  # terms of the title and abstract first; the body's most frequent next
        for pair, count in phrases.most_common(40):
            tag = "".join(shown(k) for k in pair)
            if count >= (3 if strict else 6) and (" ".join(pair) in head or not strict) and len(picked) < n // 2 \
                    and _singular(tag) not in map(_singular, picked):
                picked.append(tag)
        for key, count in singles.most_common(60):
            tag = shown(key)
            if count >= (3 if strict else 8) and (re.search(rf"\b{re.escape(key)}\b", head) or not strict) \
                    and len(picked) < n and not any(_singular(tag) in _singular(p) for p in picked):
                picked.append(tag)
    return [re.sub(r"[^A-Za-z0-9]", "", p) for p in picked]


def _singular(tag: str) -> str:
    return tag.lower().rstrip("s")


def _tags(paper: Paper) -> str:
    tags = ["#MachineLearning", "#DeepLearning", "#AI", "#Research"]
    for word in keywords(paper):
        tag = f"#{word}"
        if len(tags) < 10 and tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    return "**Tags**: " + " ".join(tags)


def _difficulty(paper: Paper) -> str:
    text = paper.full_text()
    symbols = len(re.findall(r"[=∑∏∫∂∇≤≥∈αβγδθλμσφψω]", text))
    density = symbols * 1000 / max(len(text), 1)
    stars = 1 + (density > 1) + (density > 3) + (density > 6) + (paper.pages > 14)
    return (f"**Difficulty**: {'⭐' * stars} ({stars}/5) - estimated offline from the paper's math density and "
            "length (verify)")


_DRAFTERS = {
    "summary": _summary, "difficulty": _difficulty, "problem": _problem, "solution": _solution,
    "innovations": _innovations, "math": _math, "takeaways": _takeaways, "impact": _impact,
    "further-reading": _further_reading, "discussion": _discussion, "tags": _tags,
}


def draft_offline(paper: Paper, section_id: str) -> str:
    """The offline draft of one LLM section; prose sections carry the visible 'extracted' note."""
    text = _DRAFTERS[section_id](paper)
    if section_id in ("tags", "difficulty"):
        return text
    return f"{NOTE}\n\n{text}"
