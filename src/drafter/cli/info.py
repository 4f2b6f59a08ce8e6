"""`drafter prompt`, `sections` and `config`: what drafter would send, drafts and uses; no network."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from drafter.cli.base import (
    BaseUrlOpt,
    ContextOpt,
    ModelOpt,
    OfflineOpt,
    PromptsOpt,
    err,
    exit_codes,
    make_settings,
    out,
)
from drafter.cli.drafting import print_dry_run
from drafter.errors import InputError
from drafter.plan import LLM_SECTIONS, SECTIONS

# Each command imports what it uses (below, in its body): `drafter --help` and `drafter status` must not pay for
# the PDF reader, the model client, the template engine or the lookups (bench/startup.py measures it).


def prompt(
    paper: Annotated[str, typer.Argument(help="The paper: a PDF path, an arXiv id (1706.03762, arXiv:1706.03762v7, "
                                         "hep-th/9901001), an arXiv abs/pdf URL, or the https URL of a PDF.",
                                         show_default=False)],
    section: Annotated[str, typer.Argument(help="Section id (see `drafter sections`).", show_default=False)],
    hint: Annotated[str | None, typer.Option("--hint", help="A revision hint, as `redo --hint` sends it.",
                                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
    context_tokens: ContextOpt = None, prompts: PromptsOpt = None,
) -> None:
    """Print the exact messages one section would send to the model, and a token estimate; no network."""
    from drafter.enrich import cached_enrichment
    from drafter.pipeline import render_section
    from drafter.prompts import PromptSet
    from drafter.sources import load_source

    with exit_codes():
        if section not in LLM_SECTIONS:
            raise InputError(f"unknown or non-model section {section!r}", f"Choose from: {', '.join(LLM_SECTIONS)}.")
        settings = make_settings(context_tokens=context_tokens, prompts=prompts, offline=True)
        prompt_set = PromptSet(settings.prompts_dir)
        loaded = load_source(paper, settings)
        # What earlier lookups cached goes into the prompt as a draft would send it; nothing is looked up here.
        cached = settings.enrich is not False and cached_enrichment(paper, loaded, settings)
        earlier = {dep: f"[the drafted {dep} section goes here]" for dep in prompt_set.sections[section].after}
        rendered = render_section(prompt_set, loaded, section, settings, hint=hint, earlier=earlier)
        if as_json:
            print(json.dumps({"section": section, "max_tokens": rendered.max_tokens,
                              "estimated_prompt_tokens": rendered.prompt_tokens, "messages": rendered.messages},
                             ensure_ascii=False, indent=2))
        else:
            print_dry_run([rendered], from_cache=cached)


def sections(
    prompts: PromptsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the template's sections: who writes each, what it drafts, which paper parts it reads."""
    from rich.table import Table

    from drafter.prompts import PromptSet, estimate_tokens

    with exit_codes():
        prompt_set = PromptSet(prompts)
        rows: list[dict[str, Any]] = []
        for spec in SECTIONS:
            declared = prompt_set.sections.get(spec.id)
            rows.append({
                "id": spec.id, "source": spec.source,
                "description": declared.description if declared else spec.description,
                "reads": list(declared.reads) if declared else [],
                "max_tokens": declared.max_tokens if declared else None,
                "after": list(declared.after) if declared else [],
                "prompt": declared.path if declared else None,
            })
        if as_json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        table = Table(box=None, pad_edge=False)
        for column in ("id", "written by", "drafts", "reads"):
            table.add_column(column)
        who = {"llm": "model", "extracted": "paper", "author": "you"}
        for row in rows:
            table.add_row(row["id"], who[row["source"]], row["description"], ", ".join(row["reads"]))
        Console(highlight=False).print(table)
        overridden = prompt_set.overridden()
        if overridden:
            err.print(f"overridden from {prompts}: {', '.join(overridden)}")
        err.print(f"estimate: about {estimate_tokens('x' * 4000)} tokens per 4,000 characters of paper text")


def show_config(
    model: ModelOpt = None, base_url: BaseUrlOpt = None, offline: OfflineOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the settings in effect, where each came from, and the config and cache paths (never the key)."""
    from drafter.config import config_file

    with exit_codes():
        settings = make_settings(model=model, base_url=base_url, offline=offline)
        data = {
            "config_file": str(config_file()), "config_file_exists": config_file().is_file(),
            "cache_dir": str(settings.cache_dir), "backend": "offline" if settings.offline else "openai-compatible",
            "endpoint": None if settings.offline else settings.public_endpoint, "model": settings.model,
            "api_key": "set" if settings.api_key else "not set", "jobs": settings.jobs,
            "timeout": settings.timeout, "retries": settings.retries, "context_tokens": settings.context_tokens,
            "max_tokens": settings.max_tokens, "reasoning_effort": settings.reasoning_effort,
            "prompts_dir": str(settings.prompts_dir) if settings.prompts_dir else None,
            "enrich": settings.enrich_on,  # Semantic Scholar and arXiv-source lookups while drafting
            "origins": settings.origins,
        }
        if as_json:
            print(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            if key != "origins":
                origin_key = {"endpoint": "base_url", "backend": "offline"}.get(key, key)
                origin = settings.origins.get(origin_key, "")
                out.print(f"{key:<18} {value}" + (f"   ({origin})" if origin else ""))
