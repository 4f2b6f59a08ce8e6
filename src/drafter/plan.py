"""The post template's sections: which the model drafts, which come from the paper, which the author writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["llm", "extracted", "author"]


@dataclass(frozen=True)
class SectionSpec:
    id: str
    heading: str  # the template heading the section sits under (for status output)
    source: Source
    description: str
    # Sub-headings the section's text must contain, in order (enforced on model output).
    subheadings: tuple[str, ...] = ()


# Draft order. LLM sections also have a prompt file prompts/sections/<id>.md.j2 declaring what they read.
SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("header-image", "Header image", "author", "a header image that visualises the key idea"),
    SectionSpec("summary", "🎯 Why This Paper Matters", "llm",
                "hook paragraph and a one-sentence quick summary"),
    SectionSpec("my-implementation-link", "🎯 Why This Paper Matters", "author", "link to your implementation"),
    SectionSpec("overview", "📋 Paper Overview", "extracted", "title, authors, year and venue from the paper"),
    SectionSpec("difficulty", "📋 Paper Overview", "llm", "difficulty rating, 1-5 stars, with a reason"),
    SectionSpec("problem", "The Problem They Solved", "llm", "the problem the paper addresses"),
    SectionSpec("solution", "Their Solution in Plain English", "llm", "the core idea without jargon"),
    SectionSpec("innovations", "🏗️ Technical Deep Dive", "llm",
                "the two core innovations, each with a short illustrative code snippet",
                ("Core Innovation #1", "Core Innovation #2")),
    SectionSpec("math", "The Math Behind It", "llm", "key equations in LaTeX with intuitive explanations"),
    SectionSpec("implementation", "💻 Implementation Walkthrough", "author",
                "your from-scratch implementation, step by step, and how you tested it"),
    SectionSpec("insights", "🔬 Experimental Insights", "author", "what you discovered, with visualisations"),
    SectionSpec("takeaways", "🎯 Key Takeaways", "llm", "takeaways for practitioners and for researchers",
                ("For Practitioners", "For Researchers")),
    SectionSpec("impact", "🚀 Impact and Legacy", "llm",
                "what the paper changed and follow-up work (flagged: verify)",
                ("What This Paper Changed", "Papers That Built On This")),
    SectionSpec("lessons", "💡 My Implementation Lessons", "author", "what went well, what was hard"),
    SectionSpec("my-implementation", "My Implementation", "author", "your repository and key files"),
    SectionSpec("reference-implementations", "Reference Implementations", "extracted",
                "code links printed in the paper"),
    SectionSpec("further-reading", "Further Reading", "llm", "related papers chosen from the paper's references"),
    SectionSpec("discussion", "🤔 Discussion Questions", "llm", "three discussion questions"),
    SectionSpec("whats-next", "📚 What's Next?", "author", "your reading series and what comes next"),
    SectionSpec("tags", "Tags", "llm", "hashtags for the post"),
    SectionSpec("appendix", "Appendix: Complete Code", "author", "full code and your performance metrics"),
)

BY_ID: dict[str, SectionSpec] = {s.id: s for s in SECTIONS}
LLM_SECTIONS: tuple[str, ...] = tuple(s.id for s in SECTIONS if s.source == "llm")


def section_ids() -> list[str]:
    return [s.id for s in SECTIONS]
