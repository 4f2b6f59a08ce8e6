"""Commands load only what they use: `--help` and `status` never import the PDF reader, the model client, the
template engine or the lookups' libraries (bench/startup.py measures the time; this checks the behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import EXAMPLES_DIR

HEAVY = ("openai", "httpx", "pypdf", "pypdfium2", "PIL", "jinja2", "pylatexenc", "tenacity", "asyncio")

# Imports the CLI in a fresh interpreter and runs the command given (if any), then prints which of HEAVY it imported.
PROBE = """
import json, sys
from drafter.cli import app
if sys.argv[1:]:
    try:
        app(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps([name for name in {heavy!r} if name in sys.modules]), file=sys.stderr)
"""


def _loaded(*args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded() == []


DRAFT = str(EXAMPLES_DIR / "gated-residual-mixing.draft.md")


@pytest.mark.parametrize("args", [["--help"], ["new", "--help"], ["status", DRAFT], ["status", "--json", DRAFT]])
def test_help_and_status_load_no_heavy_library(args: list[str]) -> None:
    assert _loaded(*args) == []


def test_inspect_without_lookups_loads_neither_the_model_client_nor_the_lookups() -> None:
    loaded = _loaded("inspect", str(EXAMPLES_DIR / "gated-residual-mixing.pdf"), "--no-enrich", "--json")
    assert "pypdf" in loaded  # it reads the PDF: the probe sees imports
    assert not {"openai", "httpx", "tenacity", "jinja2", "pylatexenc"} & set(loaded)
