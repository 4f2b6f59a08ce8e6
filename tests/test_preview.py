"""`drafter preview` opened in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright): every
formula typeset but the broken one, which is marked; every figure decoded; no request leaves the machine.

Skips where Chromium or playwright is missing; fails instead when CI is set (.ci/run installs both).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from cliutil import cli, cli_process
from drafter.export import read_draft
from drafter.markup import scan
from drafter.preview import preview_html
from test_export import make_draft

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_or_skip() -> None:
    missing = [] if CHROMIUM.exists() else [str(CHROMIUM)]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {', '.join(missing)} missing (.ci/run installs them)")
        pytest.skip(f"{', '.join(missing)} missing")


@pytest.fixture(scope="module")
def browser():
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _open(browser, page_file: Path) -> tuple[object, list[str]]:
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: requests.append(f"pageerror: {error}"))
    page.goto(page_file.as_uri())
    page.wait_for_selector("body[data-math=done]", timeout=60_000)
    return page, requests


def test_preview_renders_every_formula_but_the_broken_one_and_every_figure(browser, tmp_path: Path):
    draft = make_draft(tmp_path)
    run = cli("preview", draft)
    assert run.code == 0, run.stderr
    page_file = Path(run.stdout.strip())
    assert page_file == tmp_path / "post.preview.html"
    page, requests = _open(browser, page_file)
    formulas = page.evaluate("""() => [...document.querySelectorAll('.math')].map(e => {
        const svg = e.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : null;
        return {ok: e.classList.contains('math-ok'), error: e.dataset.error || null, text: e.textContent,
                width: box ? box.width : 0, height: box ? box.height : 0,
                visible: e.getBoundingClientRect().width > 0};
    })""")
    body = read_draft(draft).body
    assert len(formulas) == len(scan(body).math) == 14
    broken = [f for f in formulas if not f["ok"]]
    assert len(broken) == 1 and broken[0]["text"] == "$\\frac{1}{\\sqrt{k}$" and broken[0]["visible"]
    assert "unbalanced braces" in broken[0]["error"]
    assert all(f["width"] > 0 and f["height"] > 0 for f in formulas if f["ok"])
    # typeset, not left as source: a fraction puts its numerator above its denominator
    stacked = page.evaluate("""() => { const f = document.querySelector('.math-ok [data-mml-node=mfrac]');
        const [num, den] = f.children; return num.getBoundingClientRect().bottom <= den.getBoundingClientRect().top
        + 1; }""")
    assert stacked
    images = page.evaluate("() => [...document.images].map(i => [i.naturalWidth, i.complete])")
    assert len(images) == 7 and all(width > 0 and done for width, done in images)
    assert [width for width, _ in images] == [120 + 10 * i for i in (1, 2, 3, 4, 5, 6, 7)]
    # nothing but the page itself was requested: no CDN, no network, no page error
    assert requests == [page_file.as_uri()]
    colours = page.evaluate("""() => ['check', 'todo'].map(c => getComputedStyle(
        document.querySelector('blockquote.' + c)).backgroundColor)""")
    assert all(c not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)") for c in colours)  # callouts stand out
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    page.close()


def test_injected_html_cannot_run_or_fetch(browser, tmp_path: Path):
    draft = make_draft(tmp_path, figures=0)
    text = draft.read_text(encoding="utf-8").replace(
        "In prose too:", '<script>document.title = "pwned"</script> <img src="https://example.com/x.png"> '
        '![remote](https://example.com/y.png) In prose too:')
    draft.write_text(text, encoding="utf-8")
    page_file = tmp_path / "p.html"
    page_file.write_text(preview_html(read_draft(draft))[0], encoding="utf-8")
    page, requests = _open(browser, page_file)
    assert page.title() != "pwned"
    assert "<script>document.title" in page.inner_text("main")  # shown as text
    shown = page.inner_text("main")
    assert shown.count("missing image:") == 7  # the fixture's figures are not there: each shown as missing
    assert "remote image, not loaded offline: https://example.com/y.png" in shown
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    page.close()


def test_preview_refuses_to_replace_a_file_it_did_not_write(tmp_path: Path):
    draft = make_draft(tmp_path, figures=0)
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>", encoding="utf-8")
    run = cli("preview", draft, "-o", mine)
    assert run.code == 2 and "not a drafter preview" in run.stderr
    assert mine.read_text(encoding="utf-8") == "<p>my notes</p>"
    assert cli("preview", draft, "-o", tmp_path / "p.html").code == 0
    assert cli("preview", draft, "-o", tmp_path / "p.html").code == 0  # its own earlier preview is replaced


def test_open_hands_the_page_to_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    draft = make_draft(tmp_path, figures=0)
    opener = tmp_path / "opener"
    opener.write_text(f"#!{sys.executable}\nimport sys, pathlib\npathlib.Path({str(tmp_path / 'opened')!r})"
                      ".write_text(sys.argv[1])\n", encoding="utf-8")
    opener.chmod(opener.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BROWSER", str(opener))
    import webbrowser

    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read $BROWSER
    run = cli("preview", draft, "--open")
    assert run.code == 0, run.stderr
    for _ in range(100):
        if (tmp_path / "opened").exists():
            break
        import time

        time.sleep(0.05)
    assert (tmp_path / "opened").read_text(encoding="utf-8") == (tmp_path / "post.preview.html").as_uri()


def test_a_formula_mathjax_rejects_is_marked_with_its_reason(browser, tmp_path: Path):
    """pylatexenc (what `drafter check` uses) accepts an unknown macro; MathJax does not: marked in the browser."""
    draft = make_draft(tmp_path, figures=0)
    text = draft.read_text(encoding="utf-8").replace("the top $k$ per row", "the top $\\notamacro{k}$ per row")
    draft.write_text(text, encoding="utf-8")
    page_file = tmp_path / "p.html"
    page_file.write_text(preview_html(read_draft(draft))[0], encoding="utf-8")
    page, _ = _open(browser, page_file)
    errors = page.evaluate("""() => [...document.querySelectorAll('.math-error')].map(e =>
        [e.textContent, e.dataset.error, getComputedStyle(e).borderTopColor])""")
    assert len(errors) == 2
    text, reason, colour = errors[0]
    assert text == "$\\notamacro{k}$" and "Undefined control sequence \\notamacro" in reason
    assert colour == "rgb(176, 0, 32)"
    page.close()


def test_a_real_draft_with_exported_figures_previews_and_exports(browser, tmp_path: Path):
    """End to end: `drafter new` on a PDF with two vector figures, then preview and every export of that draft."""
    from test_figures import make_figure_paper

    pdf = make_figure_paper(tmp_path / "figure-paper.pdf")
    # a subprocess: playwright's sync API keeps an event loop running in this thread, and `new` starts its own
    run = cli_process("new", pdf, "--offline", "-o", tmp_path / "post.md", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "post-figures").iterdir()) == ["figure-1.png", "figure-2.png"]
    run = cli("preview", tmp_path / "post.md")
    assert run.code == 0, run.stderr
    page, requests = _open(browser, Path(run.stdout.strip()))
    widths = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
    assert len(widths) == 1 and widths[0] > 100  # the header image: the paper's overview figure
    assert page.locator("blockquote.todo").count() >= 5 and page.locator("blockquote.offline").count() >= 5
    assert requests == [Path(run.stdout.strip()).as_uri()]
    page.close()
    for target in ("hugo", "jekyll", "md", "devto"):
        run = cli("export", tmp_path / "post.md", "--to", target, "-o", tmp_path / target, "--allow-todo")
        assert run.code == 0, run.stderr
        copied = sorted(p.name for p in (tmp_path / target).rglob("*.png"))
        assert copied == ["figure-1.png", "figure-2.png"], target
