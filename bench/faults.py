"""Bad inputs and LLM faults through the real CLI: does drafter ever show a traceback or lose work?

    python bench/faults.py            # whole corpus + fault matrix, a table and a summary
    python bench/faults.py -k quota   # only the cases whose name contains "quota"

Every case runs `python -m drafter new ...` in a subprocess (fresh cache, fresh output folder) and the
table shows: case, exit code, seconds, the one-line message, whether a traceback was printed and whether
an output file was left behind. Fault cases talk to the hermetic fake OpenAI server (tests/fakeserver.py,
127.0.0.1 only). A case whose run fails is re-run without faults to check that every section finished
before the failure was cached ("lost" counts sections that had to be asked for again).

The corpus builders here are shared with the test suite (tests/test_reliability.py and friends), so the
bench and the tests exercise the same inputs. Nothing binary is checked in: every bad PDF is made from
reportlab output or from a byte-level edit of examples/gated-residual-mixing.pdf.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDF = ROOT / "examples" / "gated-residual-mixing.pdf"
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import FakeOpenAI, Fault, unused_port  # noqa: E402

N_SECTIONS = 11  # drafter.plan.LLM_SECTIONS; checked by the tests
FAKE_KEY = "sk-drafterTEST-0123456789abcdefSECRET"

PARAGRAPH = (
    "We study how a gated residual mixer carries long-range context through a deep network at a small "
    "cost. The mixer keeps a running summary of earlier tokens and adds it back through a learned gate, "
    "so each layer can decide how much history to use. Experiments on language modelling and retrieval "
    "show that the gate learns to open on long documents and to close on short ones. "
)


# -- PDF factory (reportlab) ---------------------------------------------------------------------------


def text_pdf(path: Path, *, title: str = "Gated Mixing for Long Documents", pages: int = 2,
             paragraphs: int = 6, body: str = PARAGRAPH, extra: str = "", metadata_title: str | None = None,
             compress: bool = True) -> Path:
    """A small text PDF that drafter can read: a big title, authors, abstract and body sections."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=LETTER, invariant=1, pageCompression=1 if compress else 0)
    if metadata_title is not None:
        c.setTitle(metadata_title)
    width, height = LETTER
    for page in range(pages):
        y = height - 72
        if page == 0:
            c.setFont("Times-Bold", 17)
            c.drawCentredString(width / 2, y, title[:300])
            y -= 28
            c.setFont("Times-Roman", 11)
            c.drawCentredString(width / 2, y, "Ada Lovelace, Alan Turing")
            y -= 30
            c.setFont("Times-Bold", 11)
            c.drawCentredString(width / 2, y, "Abstract")
            y -= 16
        c.setFont("Times-Roman", 10)
        text = (body * paragraphs + extra) if page == 0 else body * paragraphs
        heading = f"{page + 1} Section {page + 1}"
        c.setFont("Times-Bold", 12)
        c.drawString(72, y, heading)
        y -= 16
        c.setFont("Times-Roman", 10)
        line = ""
        for word in text.split():
            if len(line) + len(word) > 95:
                c.drawString(72, y, line)
                y -= 13
                line = ""
                if y < 72:
                    break
            line = f"{line} {word}".strip()
        if line and y >= 72:
            c.drawString(72, y, line)
        c.showPage()
    c.save()
    return path


def image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A 'scan': every page is one raster image, no text layer at all."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("L", (300, 400), 255)
    draw = ImageDraw.Draw(image)
    for row in range(20, 380, 12):
        draw.line((20, row, 280, row), fill=0, width=3)  # lines of "text" as pixels
    c = canvas.Canvas(str(path), pagesize=LETTER, invariant=1)
    for _ in range(pages):
        c.drawImage(ImageReader(image), 36, 36, width=LETTER[0] - 72, height=LETTER[1] - 72)
        c.showPage()
    c.save()
    return path


def zero_page_pdf(path: Path) -> Path:
    import pypdf

    buf = io.BytesIO()
    pypdf.PdfWriter().write(buf)
    path.write_bytes(buf.getvalue())
    return path


def encrypted_pdf(path: Path, source: Path, user_password: str) -> Path:
    """`source` encrypted with AES-128; an empty user password opens without asking."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-pw", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    path.write_bytes(buf.getvalue())
    return path


def bad_page_pdf(path: Path, source: Path, page_index: int = 1, filter_name: str = "/NoSuchFilter") -> Path:
    """`source` with one page's content stream replaced by data under an unknown filter."""
    import pypdf
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(source))
    stream = DecodedStreamObject()
    stream.set_data(b"\x00garbage that no filter decodes\xff")
    stream[NameObject("/Filter")] = NameObject(filter_name)
    writer.pages[page_index][NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    path.write_bytes(buf.getvalue())
    return path


def broken_xref_pdf(path: Path, source: Path) -> Path:
    """`source` whose startxref points nowhere and whose xref entries are wrong (pypdf can rebuild it)."""
    data = source.read_bytes()
    cut = data.rfind(b"startxref")
    data = data[:cut].replace(b" 00000 n", b" 00000 x", 3) + b"startxref\n999999\n%%EOF\n"
    path.write_bytes(data)
    return path


def no_xref_pdf(path: Path, source: Path) -> Path:
    """`source` with its xref table and trailer keyword mangled beyond repair."""
    path.write_bytes(source.read_bytes().replace(b"xref", b"xraf").replace(b"trailer", b"trailor"))
    return path


# -- the bad-input corpus --------------------------------------------------------------------------------


@dataclass
class InputCase:
    name: str
    path: Path
    ok: bool  # True: drafter must draft it (exit 0); False: refused with exit 2
    mention: str = ""  # regex the one-line message (or a warning, when ok) must match
    root_skip: bool = False  # meaningless as root (chmod 000 does not stop root)


def build_corpus(folder: Path, sample: Path = SAMPLE_PDF) -> list[InputCase]:
    """Generate every bad input of issue 6 (and the near-misses that must work) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    good = text_pdf(folder / "good.pdf")
    cases = [
        InputCase("empty-file", _write(folder / "empty.pdf", b""), False, r"empty"),
        InputCase("text-named-pdf", _write(folder / "notes.pdf", b"just some notes, not a PDF\n" * 20), False,
                  r"not a PDF"),
        InputCase("html-named-pdf", _write(folder / "page.pdf", b"<!DOCTYPE html><html><body>Not found"
                                          b"</body></html>"), False, r"not a PDF"),
        InputCase("truncated", _write(folder / "truncated.pdf", sample.read_bytes()[: sample.stat().st_size // 2]),
                  False, r"damaged|truncated|cannot be (parsed|read)"),
        InputCase("truncated-header-only", _write(folder / "header.pdf", sample.read_bytes()[:600]), False,
                  r"damaged|truncated|cannot be (parsed|read)"),
        InputCase("broken-xref", broken_xref_pdf(folder / "broken-xref.pdf", sample), True),
        InputCase("no-xref", no_xref_pdf(folder / "no-xref.pdf", sample), False, r"damaged|cannot be parsed"),
        InputCase("encrypted-user-password", encrypted_pdf(folder / "locked.pdf", good, "s3cret"), False,
                  r"password|encrypted"),
        InputCase("encrypted-empty-password", encrypted_pdf(folder / "owner-only.pdf", good, ""), True),
        InputCase("image-only-scan", image_only_pdf(folder / "scan.pdf"), False, r"OCR"),
        InputCase("zero-pages", zero_page_pdf(folder / "zero-pages.pdf"), False, r"no pages"),
        InputCase("too-little-text", text_pdf(folder / "stub.pdf", pages=1, paragraphs=0,
                                              body="Short title page only."), False, r"too little text"),
        InputCase("bad-page-skipped", bad_page_pdf(folder / "bad-page.pdf", good), True,
                  r"page 2 .*skipped"),
        InputCase("300-pages", text_pdf(folder / "long.pdf", pages=300, paragraphs=2), True, r"300 pages"),
        InputCase("directory", _mkdir(folder / "a-folder.pdf"), False, r"directory"),
        InputCase("missing-path", folder / "no-such-paper.pdf", False, r"no such file|not found|does not exist"),
        InputCase("unreadable", _unreadable(folder / "unreadable.pdf", good), False, r"permission",
                  root_skip=True),
    ]
    return cases


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _unreadable(path: Path, source: Path) -> Path:
    path.write_bytes(source.read_bytes())
    path.chmod(0)
    return path


# -- the fault matrix ------------------------------------------------------------------------------------


@dataclass
class FaultCase:
    name: str
    faults: list[Fault]
    ok: bool  # True: retried/shrunk and the draft is written; False: one-line error, exit 1
    mention: str = ""
    args: list[str] = field(default_factory=list)
    refused: bool = False  # connect to a port where nothing listens
    max_requests: int | None = None  # e.g. quota: never retried


def fault_matrix(retries: int = 2) -> list[FaultCase]:
    """LLM faults of issue 6; `retries` is DRAFTER_RETRIES (attempts = retries + 1)."""
    every = N_SECTIONS * (retries + 1) + 4  # enough to make a fault permanent for every section
    return [
        FaultCase("429-retry-after", [Fault.rate_limit(0.2)] * 3, True),
        FaultCase("500", [Fault.server_error(500)] * 3, True),
        FaultCase("502", [Fault.server_error(502)] * 3, True),
        FaultCase("503", [Fault.server_error(503)] * 3, True),
        FaultCase("read-timeout", [Fault.hang(5)] * 2, True, args=["--timeout", "1"]),
        FaultCase("dropped-connection", [Fault.drop(), Fault.drop(partial=True)], True),
        FaultCase("empty-completion", [Fault.empty(), Fault.empty(whitespace=True)], True),
        FaultCase("context-openai", [Fault.context_length_exceeded()], True),
        FaultCase("context-llamacpp", [Fault.context_exceeded_llamacpp()], True),
        FaultCase("context-vllm", [Fault.context_exceeded_vllm(), Fault.context_exceeded_vllm(flat=True)], True),
        FaultCase("connection-refused", [], False, r"cannot connect", refused=True),
        FaultCase("401-bad-key", [Fault.invalid_api_key()] * every, False, r"rejected the API key"),
        FaultCase("404-unknown-model", [Fault.model_not_found()] * every, False, r"not found"),
        FaultCase("429-insufficient-quota", [Fault.insufficient_quota()] * every, False, r"quota",
                  max_requests=N_SECTIONS),
        FaultCase("503-forever", [Fault.server_error(503)] * every, False, r"503"),
        FaultCase("timeout-forever", [Fault.hang(5)] * every, False, r"sent nothing", args=["--timeout", "1"]),
        FaultCase("empty-forever", [Fault.empty()] * every, False, r"empty answer"),
        FaultCase("context-forever", [Fault.context_length_exceeded()] * every, False, r"context"),
        FaultCase("partial-then-401", [Fault.hang(0)] * 4 + [Fault.invalid_api_key()] * every, False,
                  r"rejected the API key", args=["--jobs", "1"]),
    ]


# -- running the real CLI ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    case: str
    code: int
    seconds: float
    message: str
    traceback: bool
    output_left: bool
    expected: bool
    lost: int = 0
    requests: int = 0


def cli_env(home: Path, cache: Path, config: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for one subprocess: no real key, no user config, a private cache."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("OPENAI_", "DRAFTER_"))}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
                "DRAFTER_CACHE_DIR": str(cache), "DRAFTER_CONFIG_DIR": str(config), "NO_COLOR": "1",
                "COLUMNS": "400", "PYTHONWARNINGS": "error::ResourceWarning"})
    env.update(extra or {})
    return env


def write_config(folder: Path, max_backoff: float = 0.2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(f"max_backoff = {max_backoff}\n", encoding="utf-8")
    return folder


def run_cli(args: Iterable[str], env: dict[str, str], cwd: Path, timeout: float = 90) -> tuple[int, float, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "drafter", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout, check=False)
    return proc.returncode, time.perf_counter() - started, proc.stderr + proc.stdout


def error_line(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("error:", "warning:", "interrupted"))]
    return (errors or lines or [""])[-1]


def cache_entries(cache: Path) -> int:
    return sum(1 for _ in (cache / "responses").glob("*/*.json")) if (cache / "responses").is_dir() else 0


def run_input_case(case: InputCase, work: Path) -> Outcome:
    out_dir = work / f"out-{case.name}"
    out_dir.mkdir(parents=True)
    env = cli_env(work / "home", work / f"cache-{case.name}", write_config(work / "config"))
    code, seconds, output = run_cli(["new", str(case.path), "--offline", "-o", str(out_dir) + "/"], env, out_dir)
    left = any(out_dir.rglob("*.md"))
    expected_code = 0 if case.ok else 2
    good = (code == expected_code and "Traceback" not in output and left == case.ok
            and (not case.mention or re.search(case.mention, output, re.I) is not None))
    return Outcome(f"input:{case.name}", code, seconds, error_line(output), "Traceback" in output, left, good)


def run_fault_case(case: FaultCase, work: Path, retries: int = 2) -> Outcome:
    pdf = work / "paper.pdf"
    out_dir = work / f"out-{case.name}"
    out_dir.mkdir(parents=True)
    cache = work / f"cache-{case.name}"
    with FakeOpenAI() as server:
        server.enqueue(*case.faults)
        url = f"http://127.0.0.1:{unused_port()}/v1" if case.refused else server.url
        env = cli_env(work / "home", cache, write_config(work / "config"),
                      {"DRAFTER_RETRIES": str(retries), "OPENAI_API_KEY": FAKE_KEY})
        args = ["new", str(pdf), "--base-url", url, "--model", "fake-model", "-o", str(out_dir / "draft.md"),
                *case.args]
        code, seconds, output = run_cli(args, env, out_dir)
        first_requests = len(server.requests)
        answered = sum(1 for r in server.completions() if r.fault is None or r.fault.kind == "hang")
        left = (out_dir / "draft.md").exists()
        lost = 0
        if code != 0 and not case.refused:
            # Every answer that arrived must be in the cache: a clean re-run asks only for the rest.
            cached = cache_entries(cache)
            lost += max(0, answered - cached)
            with server._lock:  # drop the faults not consumed: the re-run sees a healthy server
                server._faults.clear()
            before = len(server.requests)
            code2, _, _ = run_cli(args, env, out_dir)
            again = len(server.requests) - before
            lost += max(0, again - (N_SECTIONS - cached))
            if code2 != 0:
                lost += N_SECTIONS
            (out_dir / "draft.md").unlink(missing_ok=True)
    leaked = FAKE_KEY in output or any(FAKE_KEY in p.read_text(errors="replace") for p in cache.rglob("*.json"))
    good = ((code == 0) == case.ok and (code in (0, 1)) and "Traceback" not in output and left == case.ok
            and not leaked and lost == 0
            and (not case.mention or re.search(case.mention, output, re.I) is not None)
            and (case.max_requests is None or first_requests <= case.max_requests))
    return Outcome(f"fault:{case.name}", code, seconds, error_line(output), "Traceback" in output, left, good,
                   lost, first_requests)


def run_batch_case(corpus: list[InputCase], work: Path) -> Outcome:
    """Every corpus entry in one reading list: bad entries one line each, the readable ones drafted."""
    out_dir = work / "out-batch"
    reading_list = work / "batch-list.txt"
    reading_list.write_text("".join(f"{c.path}\n" for c in corpus), encoding="utf-8")
    env = cli_env(work / "home", work / "cache-batch", write_config(work / "config"))
    code, seconds, output = run_cli(["batch", str(reading_list), "--offline", "-o", str(out_dir)], env, work)
    drafted = sum(1 for _ in out_dir.glob("*.md")) if out_dir.is_dir() else 0
    readable = len({c.name for c in corpus if c.ok})
    good = code == 2 and "Traceback" not in output and drafted >= 1
    message = f"{drafted} drafted of {readable} readable; " + error_line(output)
    return Outcome("batch:whole-corpus", code, seconds, message, "Traceback" in output, drafted > 0, good)


def run_redo_case(case: InputCase, work: Path) -> Outcome:
    """`redo --paper BAD` on a good draft: one line, exit 2, the draft byte for byte as it was."""
    folder = work / f"redo-{case.name}"
    folder.mkdir(parents=True)
    env = cli_env(work / "home", work / f"cache-redo-{case.name}", write_config(work / "config"))
    draft = folder / "draft.md"
    run_cli(["new", str(work / "paper.pdf"), "--offline", "-o", str(draft)], env, folder)
    before = draft.read_bytes()
    code, seconds, output = run_cli(["redo", str(draft), "summary", "--offline", "--paper", str(case.path)], env,
                                    folder)
    changed = draft.read_bytes() != before or (folder / ".drafter-history").exists()
    good = (code == 2 and "Traceback" not in output and not changed
            and (not case.mention or re.search(case.mention, output, re.I) is not None))
    return Outcome(f"redo:{case.name}", code, seconds, error_line(output), "Traceback" in output, changed, good)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("-j", type=int, default=4, help="cases run at once")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="drafter-faults-") as tmp:
        work = Path(tmp)
        corpus = [c for c in build_corpus(work / "corpus") if opts.k in c.name]
        if os.geteuid() == 0:
            corpus = [c for c in corpus if not c.root_skip]
        faults = [c for c in fault_matrix() if opts.k in c.name]
        text_pdf(work / "paper.pdf")
        jobs: list[Callable[[], Outcome]] = [lambda c=c: run_input_case(c, work) for c in corpus]
        jobs += [lambda c=c: run_fault_case(c, work) for c in faults]
        if not opts.k:
            jobs.append(lambda: run_batch_case(corpus, work))
            jobs += [lambda c=c: run_redo_case(c, work) for c in corpus
                     if c.name in ("truncated", "encrypted-user-password", "image-only-scan", "missing-path")]
        with ThreadPoolExecutor(max_workers=opts.j) as pool:
            outcomes = list(pool.map(lambda job: job(), jobs))
    print(f"{'case':<36} {'exit':>4} {'secs':>6}  {'traceback':<9} {'output':<6} {'ok':<3} message\n"
          "(output: a draft was left behind - expected for inputs and faults drafter recovers from; for redo: the "
          "draft changed)")
    for o in outcomes:
        print(f"{o.case:<36} {o.code:>4} {o.seconds:>6.1f}  {'yes' if o.traceback else 'no':<9} "
              f"{'yes' if o.output_left else 'no':<6} {'ok' if o.expected else 'BAD':<3} {o.message[:150]}")
    tracebacks = sum(o.traceback for o in outcomes)
    lost = sum(o.lost for o in outcomes)
    bad = [o.case for o in outcomes if not o.expected]
    print(f"\n{len(corpus)} bad inputs and {len(faults)} LLM faults tried ({len(outcomes)} CLI runs checked): "
          f"{tracebacks} tracebacks, {lost} lost sections, {len(bad)} unexpected outcomes"
          + (f" ({', '.join(bad)})" if bad else ""))
    return 1 if bad or tracebacks or lost else 0


if __name__ == "__main__":
    sys.exit(main())
