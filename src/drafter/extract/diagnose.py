"""An extracted Paper -> one line per thing extraction could not find or that looks wrong.

The lines go into `Paper.warnings` (kept in the extraction cache); `drafter new`, `batch` and `inspect` print
them once on stderr, so a user knows what the draft was written without: no abstract, a section list that
looks like a table of contents or stops early, figures or tables the text cites but no caption was found for.
Each rule is about the shape of what was found, never about a particular paper.
"""

from __future__ import annotations

import re
from collections import Counter

from drafter.paper import Paper, Section

TOC_MIN = 5  # headings on one page, each with almost no text under it: a table of contents
TOC_TEXT = 200  # characters under a heading that still count as "almost none"
DOMINANT_SHARE = 0.6  # one section holding this much of a long body: the headings inside it were missed
LONG_BODY = 20000  # characters of body text from which a lone dominant section is suspicious
NO_ABSTRACT = "no abstract found"
_CITED = re.compile(r"\b((?:Extended Data |Supplementary )?)(Fig(?:ure)?s?\.?|Tables?)\s*([A-Z]?\d{1,2})\b")


def diagnose(paper: Paper) -> list[str]:
    """The warning lines for `paper` (empty when nothing looks wrong)."""
    lines = [line for line in (_abstract(paper), _sections(paper), _uncaptioned(paper)) if line]
    return lines


def _abstract(paper: Paper) -> str | None:
    if paper.abstract.strip():
        return None
    return f"{NO_ABSTRACT}: what reads the abstract gets nothing; check the paper's first pages"


def _sections(paper: Paper) -> str | None:
    body = [s for s in paper.sections if s.level == 1 and not s.appendix]
    if not body:
        return "no section headings found: the body is read as one block, and sections may be missing"
    toc = _table_of_contents(paper.sections)
    if toc:
        return (f"the section list looks like a table of contents ({toc} headings with no text under them on one "
                "page): section texts may be wrong")
    if len(body) == 1 and paper.pages > 4:
        return f"only one top-level section found ({body[0].title!r}): other headings were probably missed"
    total = sum(len(s.text) for s in paper.sections if not s.appendix)
    if total >= LONG_BODY and len(body) >= 2:
        biggest = max(body, key=lambda s: _under(paper.sections, s))
        share = _under(paper.sections, biggest) / total
        if share > DOMINANT_SHARE and biggest is body[-1]:
            return (f"the last top-level section {biggest.title!r} holds {share:.0%} of the body text: headings "
                    "after it were probably missed")
    return None


def _under(sections: list[Section], top: Section) -> int:
    """Characters of `top` and of the sub-sections that follow it."""
    start = sections.index(top)
    total = len(top.text)
    for sec in sections[start + 1:]:
        if sec.level == 1:
            break
        total += len(sec.text)
    return total


def _table_of_contents(sections: list[Section]) -> int:
    """How many headings sit on one page with (almost) no text under them, when that is TOC_MIN or more."""
    empty = Counter(s.page for s in sections if len(s.text) < TOC_TEXT)
    count = empty.most_common(1)[0][1] if empty else 0
    return count if count >= TOC_MIN and count >= 0.3 * len(sections) else 0


def _uncaptioned(paper: Paper) -> str | None:
    """Figures and tables the body cites whose caption extraction did not find."""
    found = {f.label.lower().replace(".", "") for f in (*paper.figures, *paper.tables)}
    cited: dict[str, None] = {}
    text = "\n".join(s.text for s in paper.sections)
    # Supplementary material is most often a file of its own: its figures are expected here only when this PDF
    # holds one of them.
    supplement = any(label.startswith("supplementary") for label in found)
    for prefix, kind, number in _CITED.findall(text):  # ("Extended Data Table 1" is not "Table 1")
        if prefix.startswith("Supplementary") and not supplement:
            continue
        label = f"{prefix}{'Table' if kind.lower().startswith('tab') else 'Figure'} {number}"
        if label.lower() not in found:
            cited.setdefault(label)
    if not cited:
        return None
    names = list(cited)
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"no caption found for {shown} (cited in the text): the draft cannot show or describe them"


__all__ = ["NO_ABSTRACT", "diagnose"]
