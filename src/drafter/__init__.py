"""drafter: research paper PDF -> Markdown deep-dive blog-post draft."""

__version__ = "0.1.0"

__all__ = ["__version__"]
