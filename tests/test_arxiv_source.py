"""Equations from the arXiv LaTeX source (against the e-print endpoint of tests/fakearxiv.py)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from cliutil import cli, model_flags
from drafter import arxiv_source, enrich
from drafter.arxiv_source import expand_inputs, extract_equations, main_file, read_eprint, source_equations
from drafter.errors import EnrichError
from fakearxiv import FakeArxiv, make_eprint_tar, make_eprint_tex, make_pdf
from fakeserver import FakeOpenAI

ARXIV_ID = "1706.03762"

MAIN = r"""\documentclass{article}
\usepackage{amsmath}
\newcommand{\R}{\mathbb{R}}
\begin{document}
\title{Attention}
\section{Introduction}
Inline math $a+b$ is not a display equation. A percent sign \% stays; % a comment with \begin{equation} x \end{equation}
\input{sections/method}
\include{sections/missing}
\input{../evil}
\input{sections/link}
\begin{comment}
\begin{equation} hidden = 1 \end{equation}
\end{comment}
\section{Conclusion}
$$ \mathcal{L} = -\sum_i \log p(y_i) $$
\end{document}
"""
METHOD = r"""\section[Model]{Model \emph{Architecture}}
\begin{equation}
  \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) V \label{eq:attention}
\end{equation}
\input{sections/more.tex}
"""
MORE = r"""\subsection{Multi-head}
\begin{align*}
  \mathrm{MultiHead}(Q,K,V) &= \mathrm{Concat}(h_1, \dots, h_h) W^O \\
  h_i &= \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V)
\end{align*}
\[ PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d}) \]
\begin{figure}\begin{gather}
  x = 1 \label{eq:in-figure}
\end{gather}\end{figure}
\begin{multline*} a + b \\ + c = d \end{multline*}
"""
STYLE = r"\ProvidesPackage{mystyle} \begin{equation} style = 0 \end{equation}"
EVIL = r"\begin{equation} escaped = 1 \end{equation}"

EXPECTED = [
    r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) V",
    "\\begin{align*}\n\\mathrm{MultiHead}",
    r"PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d})",
    "\\begin{gather}\nx = 1",
    "\\begin{multline*}\na + b \\\\ + c = d\n\\end{multline*}",
    r"\mathcal{L} = -\sum_i \log p(y_i)",
]


def _tarball() -> bytes:
    return make_eprint_tar({"ms.tex": MAIN, "sections/method.tex": METHOD, "sections/more.tex": MORE,
                            "mystyle.sty": STYLE, "../evil.tex": EVIL, "/etc/abs.tex": EVIL,
                            "figures/plot.pdf": b"%PDF-1.4 not read"},
                           symlinks={"sections/link.tex": "/etc/passwd"})


def test_tarball_with_nested_inputs_yields_the_display_equations_in_order() -> None:
    files = read_eprint(_tarball())
    assert set(files) == {"ms.tex", "sections/method.tex", "sections/more.tex"}  # no ../, /abs, link, .sty, .pdf
    assert main_file(files) == "ms.tex"
    equations, sections = extract_equations(expand_inputs(files, "ms.tex"))
    assert len(equations) == len(EXPECTED)
    for equation, expected in zip(equations, EXPECTED, strict=True):
        assert equation.latex.startswith(expected.split("\n")[0]) and expected.split("\n")[-1] in equation.latex
    assert equations[0].label == "eq:attention" and "\\label" not in equations[0].latex
    assert equations[0].env == "equation" and equations[0].section == "Model Architecture"
    assert equations[1].section == "Multi-head" and equations[1].latex.endswith("\\end{align*}")
    assert equations[3].label == "eq:in-figure"
    assert equations[-1].section == "Conclusion"
    assert sections == ["Introduction", "Model Architecture", "Multi-head", "Conclusion"]
    joined = "\n".join(e.latex for e in equations)
    for absent in ("hidden", "escaped", "style", "a+b", "x \\end"):
        assert absent not in joined


def test_single_gzipped_tex_file() -> None:
    files = read_eprint(make_eprint_tex(MAIN.replace("\\input{sections/method}", METHOD)))
    assert list(files) == ["main.tex"]
    equations, _ = extract_equations(expand_inputs(files, main_file(files)))
    assert equations[0].label == "eq:attention" and len(equations) == 2


def test_an_input_cycle_ends() -> None:
    files = {"a.tex": "\\documentclass{x}\\begin{document}\\input{b}\\[ a \\]\\end{document}",
             "b.tex": "\\input{a}\\[ b \\]"}
    equations, _ = extract_equations(expand_inputs(files, "a.tex"))
    assert [e.latex for e in equations] == ["b", "a"]


def test_pdf_only_and_junk_and_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EnrichError, match="PDF only"):
        read_eprint(make_pdf("Only A PDF"))
    with pytest.raises(EnrichError, match="neither"):
        read_eprint(gzip.compress(b"just some bytes"))
    with pytest.raises(EnrichError, match=r"no \.tex"):
        read_eprint(make_eprint_tar({"fig.png": b"png"}))
    monkeypatch.setattr(arxiv_source, "MAX_UNPACKED", 1000)
    with pytest.raises(EnrichError, match="more than"):
        read_eprint(gzip.compress(b"\\" * 5000))  # a gzip bomb in miniature
    monkeypatch.setattr(arxiv_source, "MAX_UNPACKED", 10**8)
    monkeypatch.setattr(arxiv_source, "MAX_FILES", 3)
    with pytest.raises(EnrichError, match="more than 3 files"):
        read_eprint(make_eprint_tar({f"f{i}.tex": "x" for i in range(5)}))


def test_a_tarball_is_never_unpacked_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    read_eprint(_tarball())
    assert list(tmp_path.iterdir()) == []
    buf = io.BytesIO(gzip.decompress(_tarball()))
    with tarfile.open(fileobj=buf) as tar:  # the stand-in really carries the hostile members
        assert {"../evil.tex", "/etc/abs.tex", "sections/link.tex"} <= set(tar.getnames())


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch):
    with FakeArxiv() as server:
        server.add(ARXIV_ID, "Attention Is All You Need", ["Ashish Vaswani"], version="v7",
                   pdf=make_pdf("Gated Widgets for Fast Parsing", seed="attention"))
        server.add("1512.03385", "Deep Residual Learning", ["Kaiming He"], pdf=make_pdf("Residual", seed="res"))
        server.eprints[ARXIV_ID] = _tarball()
        monkeypatch.setenv("DRAFTER_ARXIV_API", server.api_url)
        monkeypatch.setenv("DRAFTER_ARXIV_EPRINT", f"{server.base}/e-print")
        monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0")
        monkeypatch.setenv("DRAFTER_ENRICH", "1")
        yield server


def test_source_equations_are_cached(arxiv: FakeArxiv, tmp_path: Path) -> None:
    first = source_equations(f"{ARXIV_ID}v7", tmp_path)
    assert source_equations(f"{ARXIV_ID}v7", tmp_path) == first
    assert arxiv.paths("/e-print") == [f"/e-print/{ARXIV_ID}v7"]
    with pytest.raises(EnrichError, match="404"):
        source_equations("1512.03385", tmp_path)


def test_new_sends_the_exact_equations_to_the_math_prompt(arxiv: FakeArxiv, fake_server: FakeOpenAI,
                                                          tmp_path: Path) -> None:
    run = cli("new", f"arXiv:{ARXIV_ID}", "-o", tmp_path / "post.md", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    assert arxiv.paths("/e-print") == [f"/e-print/{ARXIV_ID}"]
    order = [p.split("/")[1] for p in arxiv.paths()]
    assert order == ["api", "pdf", "e-print"]  # the e-print queues behind what the draft needs first
    math = next(r for r in fake_server.requests if "Section id: math" in r.messages[-1]["content"])
    context = math.messages[1]["content"]
    assert "=== EQUATIONS ===" in context and "=== METHOD ===" in context
    assert EXPECTED[0] + "    % label: eq:attention" in context
    assert "## Multi-head\n\\begin{align*}" in context
    assert "EQUATIONS part" in math.messages[-1]["content"]
    others = [r for r in fake_server.requests if "Section id: math" not in r.messages[-1]["content"]]
    assert all("=== EQUATIONS ===" not in r.messages[1]["content"] for r in others)
    # Semantic Scholar is not set up here (a closed port): one warning, the draft is written.
    assert run.stderr.count("warning") == 1 and "Semantic Scholar" in run.stderr


def test_without_source_the_draft_goes_on(arxiv: FakeArxiv, fake_server: FakeOpenAI, tmp_path: Path) -> None:
    run = cli("new", "1512.03385", "-o", tmp_path / "post.md", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    assert "arXiv source" in run.stderr and "404" in run.stderr
    assert len([line for line in run.stderr.splitlines() if "warning" in line]) == 1
    math = next(r for r in fake_server.requests if "Section id: math" in r.messages[-1]["content"])
    assert "=== EQUATIONS ===" not in math.messages[1]["content"]
    assert "EQUATIONS part" not in math.messages[-1]["content"]


def test_inspect_lists_the_equations(arxiv: FakeArxiv) -> None:
    run = cli("inspect", ARXIV_ID, "--json")
    assert run.code == 0, run.stderr
    equations = json.loads(run.stdout)["equations"]
    assert equations[0] == EXPECTED[0] and len(equations) == len(EXPECTED)


def test_offline_draft_with_enrichment_on_shows_the_source_equations(arxiv: FakeArxiv, tmp_path: Path) -> None:
    out = tmp_path / "post.md"
    run = cli("new", ARXIV_ID, "-o", out, "--offline")
    assert run.code == 0, run.stderr
    math = out.read_text(encoding="utf-8").split("drafter:begin id=math")[1].split("drafter:end id=math")[0]
    assert "from the paper's arXiv LaTeX source (exact; 6 of 6)" in math
    assert f"$$\n{EXPECTED[0]}\n$$\n*(eq:attention)*" in math


def test_a_section_that_cannot_be_parsed_costs_only_its_own_equations() -> None:
    document = ("\\documentclass{x}\\begin{document}\\section{Good}\\[ kept = 1 \\]"
                "\\section{Broken}" + "{" * 3000 + "\\[ lost \\]\\section{Also good}\\[ kept = 2 \\]\\end{document}")
    equations, sections = extract_equations(document)
    assert [e.latex for e in equations] == ["kept = 1", "kept = 2"]
    assert sections == ["Good", "Also good"]
    with pytest.raises(EnrichError, match="could not be parsed"):
        extract_equations("{" * 3000)


def test_new_refuses_an_existing_draft_before_anything_is_looked_up(arxiv: FakeArxiv, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(enrich.EnrichJob, "_start_s2", lambda self, *ids: started.append(ids))
    out = tmp_path / "post.md"
    out.write_text("my draft\n", encoding="utf-8")
    run = cli("new", f"arXiv:{ARXIV_ID}", "-o", out, "--offline")
    assert run.code == 2 and "already exists" in run.stderr
    assert started == []  # no Semantic Scholar lookup for a draft that is refused
    assert arxiv.paths("/e-print") == []
    assert out.read_text(encoding="utf-8") == "my draft\n"


def test_an_input_fan_out_stops_at_the_expansion_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four files that each \\input the next ten times make 10,000 copies of the last (a "billion laughs" in
    miniature: 10 MB from 2 KB); the expansion stops at MAX_TEX and keeps what came first."""
    monkeypatch.setattr(arxiv_source, "MAX_TEX", 100_000)
    files = {"main.tex": "\\documentclass{article}\\begin{document}\\input{f0}\\end{document}"}
    for i in range(4):
        files[f"f{i}.tex"] = f"\\input{{f{i + 1}}}\n" * 10
    files["f4.tex"] = "\\[ a = b \\]" + " " * 1000
    document = expand_inputs(files, main_file(files))
    assert len(document) < 100_000 + 2 * 1011
    assert extract_equations(document)[0][0].latex == "a = b"


def test_the_equation_parse_has_a_budget_of_its_own(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(arxiv_source, "MAX_PARSE", 1000)
    document = "\\begin{document}\\[ first \\]" + " " * 2000 + "\\[ late \\]\\end{document}"
    equations, _ = extract_equations(document)
    assert [e.latex for e in equations] == ["first"]
    assert "equations are read from its first" in caplog.text


def test_random_bytes_gzipped_are_not_a_tex_file() -> None:
    noise = bytes((i * 7919 + 13) % 251 for i in range(20_000))  # holds backslashes and NULs, like random data
    assert b"\\" in noise
    with pytest.raises(EnrichError, match="neither"):
        read_eprint(gzip.compress(noise))
    without_nul = noise.replace(b"\x00", b" ")
    with pytest.raises(EnrichError, match="neither"):
        read_eprint(gzip.compress(without_nul))
