"""A drafted section + Paper.enrichment -> the section with the looked-up data in Markdown: the most-cited citing
papers under `impact`, links under `further-reading`, and (offline) the source's display equations under `math`.
"""

from __future__ import annotations

import re

from drafter.matching import norm_title
from drafter.paper import Paper

_OFFLINE_IMPACT = re.compile(r"^- \*\(Offline mode cannot know later work[^\n]*\n?", re.M)


def cited_by_block(paper: Paper) -> str:
    """The most-cited citing papers as a list drafter adds to the impact section, marked as looked-up data."""
    e = paper.enrichment
    if e is None or not e.cited_by:
        return ""
    scope = (f" among the {e.cited_by_scanned:,} citing papers it returned" if e.citation_count
             and e.cited_by_scanned < e.citation_count else "")
    lines = [f"*Most-cited papers that cite this one, from Semantic Scholar ({e.as_of}){scope}; "
             "listed by drafter, not written by the model:*", ""]
    for c in e.cited_by:
        title = c.title.replace("[", "(").replace("]", ")")
        name = f"[{title}]({_md_url(c.url)})" if c.url else title
        lines.append(f"- {name} ({c.year or 'n.d.'}) - {c.citations:,} citations")
    return "\n".join(lines)


def _md_url(url: str) -> str:
    """A URL that cannot end a Markdown link early (DOIs may hold parentheses and spaces)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _link_for(text: str, paper: Paper) -> str:
    e = paper.enrichment
    if e is None:
        return ""
    wanted = norm_title(text)
    if len(wanted) < 12:
        return ""
    for title, link in e.reference_links.items():
        if len(title) >= 12 and (title in wanted or wanted in title):
            return link
    return ""


def _with_links(text: str, paper: Paper) -> str:
    """Further-reading bullets naming a referenced work get its arXiv or DOI link (when one is known)."""
    def bullet(match: re.Match[str]) -> str:
        line = match.group(0)
        if "](http" in line or "<http" in line:
            return line
        title = re.search(r"\*([^*]{8,300})\*", line)
        link = _link_for(title.group(1) if title else match.group(1), paper)
        if not link:
            return line
        label = link.removeprefix("https://").replace("arxiv.org/abs/", "arXiv:").replace("doi.org/", "doi:")
        if title:
            end = title.end()
            return f"{line[:end]} ([{label}]({_md_url(link)})){line[end:]}"
        return f"{line} ([{label}]({_md_url(link)}))"

    return re.sub(r"^\s*(?:[-*]|\d+\.)\s+(.+)$", bullet, text, flags=re.M)


OFFLINE_EQUATIONS = 6  # display equations an offline math section shows


def annotate_section(section_id: str, text: str, paper: Paper, source: str = "llm") -> str:
    """Add the looked-up data to a drafted section: the citing papers to `impact`, links to `further-reading`,
    and (offline, where no model read them) the source's first display equations to `math`."""
    if paper.enrichment is None:
        return text
    equations = paper.enrichment.equations
    if section_id == "math" and source != "llm" and equations:
        shown = "\n\n".join(f"$$\n{e.latex}\n$$" + (f"\n*({e.label})*" if e.label else "")
                             for e in equations[:OFFLINE_EQUATIONS])
        return (f"{text.rstrip()}\n\n*Display equations from the paper's arXiv LaTeX source (exact; "
                f"{min(len(equations), OFFLINE_EQUATIONS)} of {len(equations)}):*\n\n{shown}")
    if section_id == "impact":
        block = cited_by_block(paper)
        if block:
            text = _OFFLINE_IMPACT.sub("", text).rstrip()
            return f"{text}\n\n{block}"
    if section_id == "further-reading":
        return _with_links(text, paper)
    return text


__all__ = ["OFFLINE_EQUATIONS", "annotate_section", "cited_by_block"]
