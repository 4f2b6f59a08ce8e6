"""pyproject.toml -> a virtualenv with every runtime dependency at its declared minimum -> drafts and a figure.

Proves the floors in pyproject.toml: each dependency is pinned to the version its `>=` names (derived here, so the
pins never drift from the declarations), the project is installed against those pins, then
1. the sample paper is drafted offline, and must match the committed example (the date line aside), so an old
   release that runs but extracts differently fails too;
2. it is drafted through the openai client against the fake server (tests/fakeserver.py), with a 429 and a 500
   that tenacity retries;
3. a figure is exported from a hand-written PDF (pypdfium2 and Pillow);
4. every case of the bad-input corpus (bench/faults.py: truncated, encrypted with AES and an empty or a real user
   password, a scan, a directory, ...) drafts or is refused with one line and exit 2, as in the test suite, but
   with only the runtime dependencies installed. The corpus is built by the calling python (it needs the test
   extra: reportlab, and cryptography to write AES), the drafting is the pinned virtualenv's.
5. the publishing fixture (tests/data/publish/post.md) is exported to every target, each identical to its golden
   file, and previewed with MathJax inlined (markdown-it-py, mdit-py-plugins, django-static-mathjax).

    python .ci/min_versions.py            # a temporary virtualenv, removed afterwards
    python .ci/min_versions.py --pins     # only print the pins
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gated-residual-mixing.pdf"
COMMITTED = ROOT / "examples" / "gated-residual-mixing.draft.md"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def minimum_pins(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """`name==floor` for every runtime dependency; a dependency without a `>=` floor is an error."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    pins = []
    for requirement in data["project"]["dependencies"]:
        spec = requirement.split(";")[0]
        match = _REQUIREMENT.match(spec)
        floor = re.search(r">=\s*([0-9][^,\s]*)", match.group(3)) if match else None
        if match is None or floor is None:
            raise SystemExit(f"min-versions: {requirement!r} declares no '>=' floor; declare the oldest version "
                             "the code works with")
        pins.append(f"{match.group(1)}=={floor.group(1)}")
    return pins


def _without_date(text: str) -> str:
    return re.sub(r'^date: ".*"$', "date: -", text, count=1, flags=re.M)


def figure_pdf(path: Path) -> Path:
    """A one-page PDF written by hand (no reportlab in this virtualenv): a vector box and its caption."""
    content = (b"0.2 0.4 0.8 rg 150 500 300 150 re f 0 0 0 rg BT /F1 10 Tf 150 480 Td "
               b"(Figure 1: A blue box drawn as a vector path.) Tj ET")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


# Run by the pinned virtualenv's python: export the figure, check the PNG is the box (300 x 150 points at 170 dpi).
_EXPORT = """
import sys
from pathlib import Path
from drafter.figures import DPI, export_figures
from drafter.paper import Figure
result = export_figures(Path(sys.argv[1]), [Figure("Figure 1", "A blue box drawn as a vector path.", 1)],
                        Path(sys.argv[2]))
assert not result.warnings, result.warnings
width, height = result.images[0].size
assert abs(width - 300 * DPI / 72) < 20 and abs(height - 150 * DPI / 72) < 20, (width, height)
print(f"figure export: {width}x{height} PNG in {result.seconds:.2f}s")
"""


def _corpus_failures(drafter: str, run: Any, tmp: str) -> list[str]:
    """Draft every case of the bad-input corpus offline with the pinned install; what went wrong, per case."""
    sys.path.insert(0, str(ROOT / "bench"))
    import faults

    problems = []
    for case in faults.build_corpus(Path(tmp) / "corpus"):
        if case.root_skip and os.geteuid() == 0:
            continue
        out = Path(tmp) / "corpus-out" / case.name
        out.mkdir(parents=True)
        done = run(drafter, "new", str(case.path), "--offline", "-o", f"{out}/")
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        want = 0 if case.ok else 2
        if done.returncode != want or "Traceback" in done.stderr or (not case.ok and len(errors) != 1):
            problems.append(f"{case.name}: exit {done.returncode} (want {want}): {done.stderr.strip()[-300:]}")
        elif not case.ok and any(out.iterdir()):
            problems.append(f"{case.name}: refused but wrote {sorted(p.name for p in out.iterdir())}")
    return problems


# Run by the pinned virtualenv's python: the publishing fixture with seven figures, exported and previewed.
_PUBLISH = """
import shutil, sys
from pathlib import Path
from PIL import Image
from drafter.export import TARGETS, export_draft, read_draft
from drafter.preview import preview_html
data, work = Path(sys.argv[1]), Path(sys.argv[2])
(work / "post-figures").mkdir(parents=True)
shutil.copy(data / "post.md", work / "post.md")
for i in range(1, 8):
    Image.new("RGB", (120 + 10 * i, 80), (30 * i, 90, 220 - 25 * i)).save(work / "post-figures" / f"figure-{i}.png")
for target in TARGETS:
    post = export_draft(work / "post.md", target, work / target, allow_todo=True).post
    expected = (data / "expected" / f"{target}.md").read_text(encoding="utf-8")
    assert post.read_text(encoding="utf-8") == expected, f"{target} export differs from its golden file"
page, counts = preview_html(read_draft(work / "post.md"))
assert counts == {"math": 14, "images": 7, "missing": 0}, counts
assert "MathJax" in page and 'class="math math-error"' in page
print(f"publish: {len(TARGETS)} exports match their golden files, preview {len(page) // 1024} KiB")
"""


def _fail(what: str, done: subprocess.CompletedProcess[str]) -> int:
    print(done.stdout + done.stderr, file=sys.stderr)
    print(f"min-versions: FAILED: {what} with the minimum versions; raise the floor of the dependency that "
          "broke it in pyproject.toml", file=sys.stderr)
    return 1


def main() -> int:
    pins = minimum_pins()
    if "--pins" in sys.argv[1:]:
        print("\n".join(pins))
        return 0
    with tempfile.TemporaryDirectory(prefix="drafter-min-") as tmp:
        where = Path(tmp)
        venv.create(where / "venv", with_pip=True)
        python = where / "venv" / "bin" / "python"
        constraints = where / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        print("min-versions: installing drafter with " + ", ".join(pins), file=sys.stderr, flush=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-c", constraints, str(ROOT)], check=True)
        # The installed console script (src/ is not on its path); no model settings, a fresh config and cache.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_", "PYTHON"))}
        env.update(XDG_CACHE_HOME=f"{tmp}/cache", XDG_CONFIG_HOME=f"{tmp}/config")
        drafter = str(python.parent / "drafter")
        example = str(EXAMPLE.relative_to(ROOT))

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

        # 1. The offline example draft, identical to the committed one.
        done = run(drafter, "new", example, "--offline", "-o", f"{tmp}/draft.md")
        if done.returncode != 0:
            return _fail(f"the offline example draft exits {done.returncode}", done)
        if _without_date((where / "draft.md").read_text(encoding="utf-8")) != _without_date(
                COMMITTED.read_text(encoding="utf-8")):
            return _fail(f"the offline example draft differs from {COMMITTED.relative_to(ROOT)}", done)
        # 2. A model draft through the openai client against the fake server, with a 429 and a 500 to retry.
        sys.path.insert(0, str(ROOT / "tests"))
        from fakeserver import FakeOpenAI, Fault

        with FakeOpenAI() as server:
            server.enqueue(Fault.rate_limit(retry_after=0), Fault.server_error())
            done = run(drafter, "new", example, "--base-url", server.url, "--model", "fake-model", "-o",
                       f"{tmp}/model.md")
            calls, faults = len(server.requests), server.pending_faults()
        if done.returncode != 0 or calls < 13 or faults:
            return _fail(f"the model draft exits {done.returncode} after {calls} requests", done)
        # 3. Figure export (pypdfium2 renders, Pillow encodes).
        done = run(str(python), "-c", _EXPORT, str(figure_pdf(where / "figure.pdf")), f"{tmp}/figures")
        if done.returncode != 0:
            return _fail("figure export fails", done)
        print(f"min-versions: {done.stdout.strip()}", file=sys.stderr)
        # 4. The bad-input corpus, with the runtime dependencies only (no test extra in this virtualenv).
        problems = _corpus_failures(drafter, run, tmp)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            print(f"min-versions: FAILED: {len(problems)} bad-input case(s) misbehave with only the runtime "
                  "dependencies at their floors", file=sys.stderr)
            return 1
        # 5. Export to every target and preview (markdown-it-py, mdit-py-plugins, MathJax).
        done = run(str(python), "-c", _PUBLISH, str(ROOT / "tests" / "data" / "publish"), f"{tmp}/publish")
        if done.returncode != 0:
            return _fail("export or preview fails", done)
        print(f"min-versions: {done.stdout.strip()}", file=sys.stderr)
    print(f"min-versions: ok with {len(pins)} dependencies at their floors: the offline example drafts "
          "identically, a model draft survives a 429 and a 500, a figure exports, the bad-input corpus drafts "
          "or is refused with one line, a post exports and previews", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
