"""A draft -> one standalone HTML page that shows the post as a reader will see it, offline, from file://.

Math: MathJax 3 (SVG output, the all-extensions build), copied from the `django-static-mathjax` package into the
page itself. It is the engine Hugo's and Jekyll's documented math setups load, so the preview shows what the site
will; SVG output needs no font files, so nothing is fetched. Each formula is typeset on its own: one that MathJax
rejects, or that `drafter check` would flag as not parsing, is shown as its source in a red box with the reason.

Figures are inlined as data: URIs. A Content-Security-Policy forbids every fetch (images come only from data:,
scripts only with this page's nonce), so a `<script>` or an `<img src="https://...">` written into a draft can
neither run nor phone home; raw HTML in the draft is shown as text.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from drafter import __version__
from drafter.check import latex_problem
from drafter.errors import InputError
from drafter.export import Draft, is_local, link_target
from drafter.markup import apply, parser, scan

GENERATOR = f"drafter {__version__} preview"
MATHJAX = ("static", "mathjax", "es5", "tex-svg-full.js")

_CALLOUTS = (("⚠️", "callout check"), ("📝", "callout offline"), ("**✍️ TODO", "callout todo"), ("✍️", "callout todo"))


def mathjax_source() -> str:
    """MathJax's all-in-one SVG build, from the installed package."""
    try:
        path = resources.files("mathjax")
        for part in MATHJAX:  # one step at a time: older releases ship `mathjax` as a namespace package
            path = path / part
        return path.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise InputError("the preview needs MathJax from the django-static-mathjax package, which is missing",
                         "Reinstall drafter: pip install -e .") from exc


def _math(tokens: list[Token], idx: int, display: bool) -> str:
    tex = tokens[idx].content.strip()
    problem = latex_problem(tex)
    tag = "div" if display else "span"
    delimiter = "$$" if display else "$"
    source = html.escape(f"{delimiter}{tex}{delimiter}")
    if problem:
        return (f'<{tag} class="math math-error" data-error="does not parse: {html.escape(problem)}">'
                f"<code>{source}</code></{tag}>")
    return f'<{tag} class="math" data-display="{int(display)}" data-tex="{html.escape(tex)}">{source}</{tag}>'


def _image_src(src: str, folder: Path) -> str | None:
    """A local image as a data: URI (None when the file is missing, not inside the draft's folder, or remote)."""
    target = link_target(src)
    if not is_local(target):
        return None  # a remote image would be a request leaving the machine
    root = folder.resolve()
    path = (root / target).resolve()
    if root not in path.parents or not path.is_file():
        return None
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not kind.startswith("image/"):
        return None
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _renderer(folder: Path, counts: dict[str, int]) -> MarkdownIt:
    md = parser(html=False)  # the exporters' parser (the same text is math), with raw HTML shown as text

    def math_inline(_self: Any, tokens: list[Token], idx: int, _options: Any, _env: Any) -> str:
        counts["math"] += 1
        return _math(tokens, idx, False)

    def math_display(_self: Any, tokens: list[Token], idx: int, _options: Any, _env: Any) -> str:
        counts["math"] += 1
        return _math(tokens, idx, True) + ("\n" if tokens[idx].block else "")

    def image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        inlined = _image_src(src, folder)
        alt = self.renderInlineAsText(token.children or [], options, env)
        if inlined is None:
            counts["missing"] += 1
            name = html.escape(link_target(src))
            if not is_local(link_target(src)):
                return f'<span class="missing-image">remote image, not loaded offline: {name}</span>'
            return f'<span class="missing-image">missing image: {name}</span>'
        counts["images"] += 1
        token.attrSet("src", inlined)
        return f'<img src="{html.escape(inlined)}" alt="{html.escape(alt)}">'

    md.add_render_rule("math_inline", math_inline)
    md.add_render_rule("math_inline_double", math_display)
    md.add_render_rule("math_block", math_display)
    md.add_render_rule("prose_dollar", lambda *_: "$")
    md.add_render_rule("image", image)
    return md


def _mark_callouts(tokens: list[Token]) -> None:
    """Blockquotes that are drafter's callouts (fact check, offline note, author TODO) get a class to style."""
    for i, token in enumerate(tokens):
        if token.type != "blockquote_open":
            continue
        inline = next((t for t in tokens[i:] if t.type == "inline"), None)
        if inline is None:
            continue
        for start, css in _CALLOUTS:
            if inline.content.startswith(start):
                token.attrSet("class", css)
                break


def body_html(draft: Draft) -> tuple[str, dict[str, int]]:
    """The draft's body as HTML (drafter's marker comments dropped), and what it holds: formulas, images,
    missing images."""
    found = scan(draft.body)
    text = apply(draft.body, [(c.start, c.end, "") for c in found.comments])
    counts = {"math": 0, "images": 0, "missing": 0}
    md = _renderer(draft.path.parent, counts)
    tokens = md.parse(text)
    _mark_callouts(tokens)
    return md.renderer.render(tokens, md.options, {}), counts


_STYLE = """
:root { color-scheme: light; --ink: #1d1d1f; --soft: #5f6368; }
body { margin: 0; background: #f6f6f3; color: var(--ink);
       font: 17px/1.6 Georgia, "DejaVu Serif", serif, "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji"; }
main { max-width: 46rem; margin: 2rem auto; padding: 2rem 2.5rem; background: #fff;
       box-shadow: 0 1px 4px rgba(0,0,0,.08); }
h1, h2, h3, h4 { font-family: "Helvetica Neue", Arial, sans-serif, "Noto Color Emoji", "Apple Color Emoji",
                 "Segoe UI Emoji"; line-height: 1.25; }
img { max-width: 100%; height: auto; display: block; margin: 1rem auto; }
pre { background: #f3f3f3; padding: .8rem 1rem; overflow-x: auto; font-size: 14px; }
code { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: .9em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .3rem .6rem; }
blockquote { margin: 1rem 0; padding: .5rem 1rem; border-left: 4px solid #ccc; color: var(--soft); }
blockquote.callout { color: var(--ink); border-radius: 4px; font-family: Arial, sans-serif; font-size: 15px; }
blockquote.check { background: #fff6dd; border-left-color: #e0a100; }
blockquote.offline { background: #eef3fb; border-left-color: #6b8fd6; }
blockquote.todo { background: #ffeef0; border: 2px dashed #d33a4a; border-left-width: 6px; }
.math[data-display="1"], div.math { display: block; text-align: center; margin: 1rem 0; overflow-x: auto; }
.math-error { display: inline-block; color: #b00020; background: #ffebee; border: 2px solid #b00020;
              border-radius: 3px; padding: 0 .3rem; }
.math-error::after { content: " ⚠ " attr(data-error); font: 13px Arial, sans-serif; }
.missing-image { display: block; margin: 1rem 0; padding: 2rem; text-align: center; color: #b00020;
                 border: 2px dashed #d33a4a; background: #ffeef0; font-family: Arial, sans-serif; }
.drafter-bar { font: 13px Arial, sans-serif; color: var(--soft); max-width: 46rem; margin: 1rem auto 0; }
"""

# Typesets every formula on its own, so one bad formula cannot take the others down; marks the ones MathJax
# rejects. `document.body.dataset.math` says when it is done (tests wait for it).
_TYPESET = """
MathJax.startup.promise.then(async () => {
  for (const el of document.querySelectorAll('.math[data-tex]')) {
    const display = el.dataset.display === '1';
    try {
      const node = await MathJax.tex2svgPromise(el.dataset.tex, {display});
      const error = node.querySelector('[data-mjx-error]');
      if (error) {
        el.classList.add('math-error');
        el.dataset.error = error.getAttribute('data-mjx-error');
        el.innerHTML = '<code></code>';
        el.firstChild.textContent = (display ? '$$' : '$') + el.dataset.tex + (display ? '$$' : '$');
      } else {
        el.textContent = '';
        el.appendChild(node);
        el.classList.add('math-ok');
      }
    } catch (e) {
      el.classList.add('math-error');
      el.dataset.error = String(e && e.message || e);
    }
  }
  document.head.appendChild(MathJax.svgStylesheet());
  document.body.dataset.math = 'done';
});
"""


def _script(source: str, nonce: str) -> str:
    # inside <script>, "</script" and "<!--" would end or confuse the element; both are the same JS escaped
    safe = source.replace("</script", "<\\/script").replace("<!--", "<\\!--")
    return f'<script nonce="{nonce}">{safe}</script>'


def preview_html(draft: Draft) -> tuple[str, dict[str, int]]:
    """The whole page, and the counts `body_html` gives."""
    body, counts = body_html(draft)
    nonce = secrets.token_urlsafe(16)
    policy = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
              f"script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'")
    config = ("window.MathJax = {startup: {typeset: false}, svg: {fontCache: 'local'}, "
              "options: {enableMenu: false}, tex: {packages: {'[-]': ['noundefined', 'noerrors', 'require', "
              "'autoload']}}};")
    bar = (f"drafter preview of {html.escape(draft.path.name)} · {counts['math']} formulas · {counts['images']} "
           f"figures" + (f" · {counts['missing']} missing images" if counts["missing"] else ""))
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="generator" content="{GENERATOR}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(draft.title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<div class="drafter-bar">{bar}</div>
<main>
{body}</main>
{_script(config, nonce)}
{_script(mathjax_source(), nonce)}
{_script(_TYPESET, nonce)}
</body>
</html>
"""
    return page, counts


def is_preview(path: Path) -> bool:
    """Whether `path` is a page drafter wrote (so writing a new preview over it loses nothing)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(2048).decode("utf-8", "replace")
    except OSError:
        return False
    return bool(re.search(r'<meta name="generator" content="drafter [^"]* preview">', head))


def default_output(draft: Path) -> Path:
    return draft.with_name(f"{draft.stem}.preview.html")


__all__ = ["GENERATOR", "body_html", "default_output", "is_preview", "mathjax_source", "preview_html"]
