"""Paper data model: what extraction produces and every later stage reads. No I/O."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Paper parts a prompt can ask for. Each body section is routed to one part by its heading.
# `equations` is the display equations of the arXiv LaTeX source (empty when there is none; see drafter.enrich).
PARTS = ("abstract", "introduction", "background", "method", "experiments", "discussion", "conclusion",
         "references", "figures", "tables", "captions", "equations")

_PART_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("introduction", re.compile(r"\b(introduction|overview|motivation)\b", re.I)),
    ("background", re.compile(r"\b(related work|background|prior work|preliminar|previous work|literature)", re.I)),
    ("conclusion", re.compile(r"\b(conclusions?|concluding|summary|future work|outlook)\b", re.I)),
    ("discussion", re.compile(r"\b(discussion|limitations?|analysis|ablation|broader impact)", re.I)),
    ("experiments", re.compile(
        r"\b(experiment|evaluation|results?|benchmark|empirical|setup|training|datasets?|"
        r"applications?|case stud|comparison|performance)", re.I)),
]


def classify_heading(heading: str, index: int = 0) -> str:
    """Route a top-level section heading to a paper part (`method` unless a keyword says otherwise)."""
    for part, pattern in _PART_PATTERNS:
        if pattern.search(heading):
            return part
    return "introduction" if index == 0 else "method"


@dataclass
class Section:
    """One section of the paper body: heading without its number, nesting level (1 = top), page, text."""

    title: str
    level: int
    page: int
    text: str
    appendix: bool = False

    @property
    def chars(self) -> int:
        return len(self.text)


@dataclass
class Figure:
    """A figure or table of the paper: its label ("Figure 3", "Table 2"), caption text and 1-based page.

    `bbox` is where the caption sits on its page in PDF points (x0, y0, x1, y1; origin bottom-left), when
    extraction knows it; figure export uses it to find the figure around the caption.
    """

    label: str
    caption: str
    page: int
    bbox: tuple[float, float, float, float] | None = None
    content: str = ""  # a table's cells as text (rows on lines), when extraction separates them

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "caption": self.caption, "page": self.page}


@dataclass
class CitingPaper:
    """A later paper that cites this one, as Semantic Scholar lists it."""

    title: str
    year: int | None
    citations: int
    url: str

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "year": self.year, "citations": self.citations, "url": self.url}


@dataclass
class Equation:
    """A display equation from the paper's LaTeX source: the LaTeX, its environment, label and section."""

    latex: str
    env: str = "equation"
    label: str = ""
    section: str = ""


@dataclass
class Enrichment:
    """What outside services added to the paper: Semantic Scholar's counts and citing papers (as of `as_of`,
    an ISO date), links for referenced works, and the display equations of the arXiv LaTeX source."""

    citation_count: int | None = None
    influential_citations: int | None = None
    as_of: str = ""
    s2_url: str = ""
    cited_by: list[CitingPaper] = field(default_factory=list)  # most-cited first
    cited_by_scanned: int = 0  # how many citing papers were ranked to pick `cited_by`
    reference_links: dict[str, str] = field(default_factory=dict)  # normalised referenced title -> URL
    equations: list[Equation] = field(default_factory=list)
    source_sections: list[str] = field(default_factory=list)  # section titles of the LaTeX source

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Enrichment:
        data = dict(data)
        data["cited_by"] = [CitingPaper(**c) for c in data.get("cited_by", [])]
        data["equations"] = [Equation(**e) for e in data.get("equations", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Paper:
    """Everything drafter knows about one paper."""

    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    venue: str | None = None
    arxiv_id: str | None = None
    abstract: str = ""
    sections: list[Section] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    pages: int = 0
    source: str = ""
    sha256: str = ""
    # Where each metadata field came from ("pdf-outline", "pdf-layout", "pdf-metadata", "arxiv-api", ...).
    provenance: dict[str, str] = field(default_factory=dict)
    # What the PDF alone yielded for fields that another source (e.g. the arXiv API) overrode.
    pdf_fields: dict[str, Any] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    # One line each: what reading the file or extraction could not find (no abstract, odd sections, ...).
    warnings: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)  # in document order, appendix included
    tables: list[Figure] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    enrichment: Enrichment | None = None  # set by drafter.enrich (never part of the extraction cache)

    # -- views -------------------------------------------------------------------------------------

    def body_sections(self) -> list[Section]:
        """Top-level sections of the body (appendices excluded), sub-sections folded into their parent."""
        out: list[Section] = []
        for sec in self.sections:
            if sec.appendix:
                continue
            if sec.level == 1 or not out:
                out.append(Section(sec.title, 1, sec.page, sec.text))
            else:
                out[-1].text = f"{out[-1].text}\n\n{sec.title}\n{sec.text}".strip()
        return out

    def part_sections(self, part: str) -> list[Section]:
        """The top-level body sections routed to `part` (see `classify_heading`)."""
        return [s for i, s in enumerate(self.body_sections()) if classify_heading(s.title, i) == part]

    def part_text(self, part: str) -> str:
        """Plain text of one paper part; sections are separated by their headings."""
        if part == "abstract":
            return self.abstract
        if part == "references":
            return "\n".join(f"[{i}] {ref}" for i, ref in enumerate(self.references, 1))
        if part == "figures":  # figure captions
            return "\n".join(f"{f.label}: {f.caption}" for f in self.figures)
        if part == "tables":  # table captions with the tables' cells
            return "\n\n".join(f"{t.label}: {t.caption}\n{t.content}".strip() for t in self.tables)
        if part == "captions":  # every caption, figures and tables, by page
            return "\n".join(f"{f.label}: {f.caption}" for f in sorted((*self.figures, *self.tables),
                                                                        key=lambda f: f.page))
        if part == "equations":
            return self.equations_text()
        return "\n\n".join(f"## {s.title}\n{s.text}".strip() for s in self.part_sections(part))

    def equations_text(self) -> str:
        """The LaTeX source's display equations, grouped under the section they sit in, labels noted."""
        lines: list[str] = []
        section = None
        for eq in self.enrichment.equations if self.enrichment else []:
            if eq.section != section:
                section = eq.section
                lines.append(f"## {section or '(before the first section)'}")
            lines.append(eq.latex + (f"    % label: {eq.label}" if eq.label else ""))
        return "\n".join(lines)

    def full_text(self) -> str:
        """The whole body text (used by the offline drafter and the too-little-text check)."""
        return "\n\n".join([self.abstract, *(s.text for s in self.sections)]).strip()

    def searchable_text(self) -> str:
        """Every piece of text the paper prints (body, captions, table cells, footnotes, references): what the
        fact check compares model-written numbers and quotes against."""
        floats = [f"{f.label}: {f.caption}\n{f.content}" for f in (*self.figures, *self.tables)]
        return "\n\n".join([self.title, self.abstract, *(f"{s.title}\n{s.text}" for s in self.sections), *floats,
                             *self.footnotes, *self.references]).strip()

    # -- serialisation ----------------------------------------------------------------------------

    def inspect_json(self, full: bool = False) -> dict[str, Any]:
        """The stable `drafter inspect --json` contract (see README); `full` adds each section's text."""
        return {
            "title": self.title,
            "authors": list(self.authors),
            "year": self.year,
            "venue": self.venue,
            "arxiv_id": self.arxiv_id,
            "abstract": self.abstract,
            "sections": [
                {"title": s.title, "level": s.level, "page": s.page, "chars": s.chars,
                 **({"text": s.text} if full else {})} for s in self.sections
            ],
            "references": list(self.references),
            "urls": list(self.urls),
            "pages": self.pages,
            "figures": [f.to_json() for f in self.figures],
            "tables": [t.to_json() for t in self.tables],
            "citation_count": self.enrichment.citation_count if self.enrichment else None,
            "cited_by": [c.to_json() for c in self.enrichment.cited_by] if self.enrichment else [],
            "equations": [e.latex for e in self.enrichment.equations] if self.enrichment else [],
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Paper:
        data = dict(data)
        data["sections"] = [Section(**s) for s in data.get("sections", [])]
        for key in ("figures", "tables"):
            data[key] = [Figure(**{**f, "bbox": tuple(f["bbox"]) if f.get("bbox") else None})
                         for f in data.get(key, [])]
        if data.get("enrichment"):
            data["enrichment"] = Enrichment.from_dict(data["enrichment"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
