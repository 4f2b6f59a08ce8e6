"""The publishing fixture (tests/data/publish/post.md, 14 formulas, 7 figures) -> time per export target and for
the preview page, and the preview's size; optionally the time Chromium takes to typeset it.

Also a draft scaled up (the fixture's math section repeated, --scale times) to see how the parser scales.

    python bench/publish.py [--repeat 20] [--scale 50] [--browser]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from drafter.export import TARGETS, export_draft, read_draft  # noqa: E402
from drafter.preview import preview_html  # noqa: E402
from test_export import make_draft  # noqa: E402


def _ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _scaled(draft: Path, scale: int) -> Path:
    text = draft.read_text(encoding="utf-8")
    begin = text.index("<!-- drafter:begin id=math")
    end = text.index("<!-- drafter:end id=math -->")
    body = text[text.index("\n", begin) + 1:end]
    big = draft.with_name("big.md")
    big.write_text(text[:end] + (body + "\n") * scale + text[end:], encoding="utf-8")
    return big


def _browser_ms(page: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        tab = browser.new_page()
        started = time.perf_counter()
        tab.goto(page.as_uri())
        tab.wait_for_selector("body[data-math=done]", timeout=120_000)
        elapsed = (time.perf_counter() - started) * 1000
        browser.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--browser", action="store_true", help="also time Chromium typesetting the preview")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        draft = make_draft(folder / "drafts")
        for target in TARGETS:
            out = folder / target

            def once(target: str = target, out: Path = out) -> None:
                shutil.rmtree(out, ignore_errors=True)
                export_draft(draft, target, out, allow_todo=True)

            print(f"export --to {target:<6} {_ms(once, args.repeat):8.1f} ms (median of {args.repeat})")
        page, counts = preview_html(read_draft(draft))
        print(f"preview page        {_ms(lambda: preview_html(read_draft(draft)), args.repeat):8.1f} ms, "
              f"{len(page) / 1024:.0f} KiB ({counts['math']} formulas, {counts['images']} figures)")
        big = _scaled(draft, args.scale)
        words = len(big.read_text(encoding="utf-8").split())
        big_ms = _ms(lambda: export_draft(big, "jekyll", folder / "big", allow_todo=True, force=True), 3)
        print(f"export --to jekyll  {big_ms:8.1f} ms for a {words:,}-word draft ({args.scale}x the math section)")
        if args.browser:
            (folder / "p.html").write_text(page, encoding="utf-8")
            print(f"chromium typesets   {_browser_ms(folder / 'p.html'):8.1f} ms (load to every formula done)")


if __name__ == "__main__":
    main()
