"""The README's commands and tables stay in step with the code and with .ci/run."""

from __future__ import annotations

import re
from pathlib import Path

from cliutil import cli
from drafter.plan import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _setup_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "README must open with a sh block holding the two set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands_and_ci_runs_the_second() -> None:
    install, tests = _setup_commands()
    assert "pip install ." in install and "drafter new examples/" in install and "--offline" in install
    example = re.search(r"drafter new (examples/\S+\.pdf)", install)
    assert example and (ROOT / example.group(1)).is_file()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_every_command_and_new_option_is_documented() -> None:
    help_text = cli("--help").stdout
    commands = re.findall(r"│ (\w+)\s{2,}", help_text.split("Commands")[1])
    assert {"new", "status", "redo", "inspect", "sections", "prompt"} <= set(commands)
    for command in commands:
        assert f"drafter {command}" in README, command
    new_help = cli("new", "--help").stdout
    for option in set(re.findall(r"(--[a-z][a-z-]+)", new_help)) - {"--help"}:
        assert f"`{option}" in README or f", {option}" in README, option


def test_every_section_id_is_documented() -> None:
    for spec in SECTIONS:
        assert f"`{spec.id}`" in README, spec.id


def test_inspect_json_keys_match_the_documented_contract(sample_pdf: Path) -> None:
    import json

    run = cli("inspect", sample_pdf, "--json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    table = README.split("## `drafter inspect --json`")[1].split("##")[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert list(data) == documented
    assert isinstance(data["title"], str) and data["title"]
    assert all(isinstance(a, str) for a in data["authors"]) and data["authors"]
    assert data["year"] is None or isinstance(data["year"], int)
    for key in ("venue", "arxiv_id"):
        assert data[key] is None or isinstance(data[key], str)
    assert isinstance(data["abstract"], str) and isinstance(data["pages"], int)
    for section in data["sections"]:
        assert set(section) == {"title", "level", "page", "chars"}
        assert not re.match(r"^\d", section["title"])
    assert any(s["level"] == 1 for s in data["sections"])
    assert all(isinstance(r, str) for r in data["references"] + data["urls"])
