"""`drafter export`: golden files per target, the TODO gate, figures copied and every link existing.

The fixture draft (tests/data/publish/post.md) holds inline and display math, a formula that does not parse,
`{{` in math, in code and in prose, prose dollars ("$20,000", "$5 and $10"), `$$` inside a paragraph, `\\(...\\)`,
seven figures, drafter's notes, a fact-check callout and author TODOs. Regenerate the golden files after an
intended change with UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from cliutil import cli
from drafter.errors import InputError
from drafter.export import TARGETS, export_draft
from drafter.markup import scan

DATA = Path(__file__).parent / "data" / "publish"
GOLDEN = DATA / "expected"


def make_draft(folder: Path, name: str = "post.md", figures: int = 7) -> Path:
    """The fixture draft copied into `folder`, with its figures (distinct PNGs) in post-figures/."""
    folder.mkdir(parents=True, exist_ok=True)
    draft = folder / name
    shutil.copy(DATA / name, draft)
    if figures:
        (folder / "post-figures").mkdir()
    for i in range(1, figures + 1):
        Image.new("RGB", (120 + 10 * i, 80), (30 * i, 90, 220 - 25 * i)).save(folder / "post-figures" /
                                                                             f"figure-{i}.png")
    return draft


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"export differs from {path} (UPDATE_GOLDEN=1 rewrites)"


def _links(text: str) -> list[str]:
    found = scan(text.split("\n---\n", 1)[1])
    return [found.text[s.start:s.end].strip("<>") for s in found.links]


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    return make_draft(tmp_path / "drafts")


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_matches_its_golden_file_and_every_link_exists(draft: Path, tmp_path: Path, target: str):
    out = tmp_path / "site"
    run = cli("export", draft, "--to", target, "-o", out, "--allow-todo")
    assert run.code == 0, run.stderr
    post = Path(run.stdout.strip())
    text = post.read_text(encoding="utf-8")
    _golden(f"{target}.md", text)
    links = _links(text)
    assert len([link for link in links if "figure-" in link]) == 9  # 7 images and 2 links to figures
    for link in links:
        file = out / link.lstrip("/") if link.startswith("/") else post.parent / link
        assert file.is_file(), link
    # the copies are the draft's figures, byte for byte
    for i in range(1, 8):
        copies = list(out.rglob(f"figure-{i}.png"))
        assert len(copies) == 1 and copies[0].read_bytes() == (draft.parent / "post-figures" /
                                                                f"figure-{i}.png").read_bytes()


@pytest.mark.parametrize("target", TARGETS)
def test_no_drafter_markup_reaches_the_post(draft: Path, tmp_path: Path, target: str):
    result = export_draft(draft, target, tmp_path / "out", allow_todo=True)
    text = result.post.read_text(encoding="utf-8")
    for leftover in ("drafter:", "<!--", "Check against the paper", "*drafter:", "Offline draft",
                     "# Sparse Mixers: Deep Dive"):
        assert leftover not in text, leftover
    assert "Citations**: 12\n" in text  # the comment after it went, the text stayed


def test_math_per_target(draft: Path, tmp_path: Path):
    texts = {t: export_draft(draft, t, tmp_path / t, allow_todo=True).post.read_text(encoding="utf-8")
             for t in TARGETS}
    hugo, jekyll, md, devto = (texts[t] for t in ("hugo", "jekyll", "md", "devto"))
    # prose dollars stay text: escaped where the site reads $ as math, as is on dev.to (no $ math there)
    assert "about \\$20,000 on rented" in md and "between \\$5 and \\$10 per" in md
    assert "about \\$20,000" in hugo and "about \\$20,000" in jekyll and "about $20,000 on" in devto
    assert "\\(O(n \\log n)\\)" in hugo and "$$O(n \\log n)$$" in jekyll and "$O(n \\log n)$" in md
    assert "{% katex inline %}O(n \\log n){% endkatex %}" in devto
    # LaTeX's own \( \) is math too; md writes it as $
    assert "$k \\cdot n$" in md and "\\(k \\cdot n\\)" in hugo
    # $$ inside a paragraph: display everywhere; kramdown needs it as a paragraph of its own
    assert "output is $$y_i = \\sum_j a_{ij} v_j$$ which" in md
    assert "output is\n\n$$y_i = \\sum_j a_{ij} v_j$$\n\nwhich" in jekyll
    assert "{% katex %}y_i = \\sum_j a_{ij} v_j{% endkatex %}" in devto
    # no $ math survives on dev.to: the only dollars left are prose and code
    prose = re.sub(r"```.*?```|`[^`]*`", "", devto, flags=re.S)
    assert re.findall(r"\$", prose) == ["$"] * 3
    # code is never touched
    for text in texts.values():
        assert "# keep the top-k scores per row: costs $k$ per query, not $n$" in text


def test_liquid_sites_protect_double_braces_in_code_math_and_prose(draft: Path, tmp_path: Path):
    jekyll = export_draft(draft, "jekyll", tmp_path / "j", allow_todo=True).post.read_text(encoding="utf-8")
    devto = export_draft(draft, "devto", tmp_path / "d", allow_todo=True).post.read_text(encoding="utf-8")
    assert "{% raw %}$$a_{{ij}} = e^{s_{ij}} / \\sum_{l} e^{s_{il}}$${% endraw %}" in jekyll
    assert "{% katex inline %}a_{ {ij}} =" in devto  # `{ {` is the same TeX, and no Liquid
    for text in (jekyll, devto):
        assert "{% raw %}`{{ model.dim }}`{% endraw %}" in text
        assert "{% raw %}\n```python\n" in text and "```\n{% endraw %}\n" in text
        assert "writes {% raw %}{{{% endraw %}name}}" in text
        # every {{ and {% outside the raw blocks is one drafter wrote on purpose
        outside = re.sub(r"\{% raw %\}.*?\{% endraw %\}", "", text, flags=re.S)
        assert "{{" not in outside
        assert set(re.findall(r"\{%.*?%\}", outside)) <= {"{% katex %}", "{% katex inline %}", "{% endkatex %}"}
    hugo = export_draft(draft, "hugo", tmp_path / "h", allow_todo=True).post.read_text(encoding="utf-8")
    assert "{% raw %}" not in hugo and "`{{ model.dim }}`" in hugo


def test_front_matter_per_target(draft: Path, tmp_path: Path):
    def front(target: str, **kw: object) -> str:
        text = export_draft(draft, target, tmp_path / target, allow_todo=True, **kw).post.read_text("utf-8")
        return text.split("\n---\n", 1)[0] + "\n"

    hugo = front("hugo")
    assert [line.split(":")[0] for line in hugo.splitlines()[1:]] == ["title", "date", "draft", "tags",
                                                                         "description", "math"]
    assert "draft: true" in hugo and "math: true" in hugo and 'date: "2026-11-30"' in hugo
    assert 'description: "Sparse Mixers replace dense attention' in hugo
    jekyll = front("jekyll")
    assert jekyll.startswith('---\nlayout: "post"\ntitle: "Sparse Mixers') and "published: false" in jekyll
    devto = front("devto", canonical_url="https://blog.example/sparse-mixers/")
    assert 'tags: "machinelearning, deeplearning, ai, research"' in devto  # four at most, dev.to's form
    assert "published: false" in devto and 'canonical_url: "https://blog.example/sparse-mixers/"' in devto


def test_todos_refuse_with_one_line_listing_them(draft: Path, tmp_path: Path):
    run = cli("export", draft, "--to", "hugo", "-o", tmp_path / "out")
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "author TODOs" in lines[0] and "--allow-todo" in lines[0]
    assert "header-image (line 19)" in lines[0] and "lessons (line 107)" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_finished_draft_exports_without_allow_todo_and_is_not_marked_unpublished(tmp_path: Path):
    draft = make_draft(tmp_path, "plain.md", figures=0)
    run = cli("export", draft, "--to", "hugo", "-o", tmp_path / "site")
    assert run.code == 0, run.stderr
    text = Path(run.stdout.strip()).read_text(encoding="utf-8")
    _golden("plain-hugo.md", text)
    assert "draft: false" in text and "\\$20,000 and \\$\\$ signs" in text
    assert list((tmp_path / "site" / "plain").iterdir()) == [tmp_path / "site" / "plain" / "index.md"]
    run = cli("export", draft, "--to", "jekyll", "-o", tmp_path / "site")
    jekyll = Path(run.stdout.strip()).read_text(encoding="utf-8")
    assert run.code == 0 and "published" not in jekyll and not (tmp_path / "site" / "assets").exists()


def test_missing_figure_is_a_todo_and_an_existing_export_is_kept(draft: Path, tmp_path: Path):
    (draft.parent / "post-figures" / "figure-5.png").unlink()
    run = cli("export", draft, "--to", "md", "-o", tmp_path / "out")
    assert run.code == 2 and "missing image post-figures/figure-5.png (line 56)" in " ".join(run.stderr.split())
    assert cli("export", draft, "--to", "md", "-o", tmp_path / "out", "--allow-todo").code == 0
    post = tmp_path / "out" / "post" / "index.md"
    post.write_text("my own edits", encoding="utf-8")
    run = cli("export", draft, "--to", "md", "-o", tmp_path / "out", "--allow-todo")
    assert run.code == 2 and "already exists" in run.stderr and "--force" in run.stderr
    assert post.read_text(encoding="utf-8") == "my own edits"
    assert cli("export", draft, "--to", "md", "-o", tmp_path / "out", "--allow-todo", "--force").code == 0
    assert "figure-4.png" in post.read_text(encoding="utf-8")


def test_files_outside_the_draft_folder_are_never_copied(draft: Path, tmp_path: Path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not really")
    text = draft.read_text(encoding="utf-8")
    draft.write_text(text.replace("post-figures/figure-7.png", "../secret.png"), encoding="utf-8")
    with pytest.raises(InputError, match="outside the draft's folder"):
        export_draft(draft, "md", tmp_path / "out", allow_todo=True)
    draft.write_text(text.replace("post-figures/figure-7.png", "post.md"), encoding="utf-8")
    with pytest.raises(InputError, match="not an image"):
        export_draft(draft, "md", tmp_path / "out", allow_todo=True)
    assert not (tmp_path / "out").exists()


def test_devto_with_an_image_base_url_links_there_and_says_what_to_upload(draft: Path, tmp_path: Path):
    run = cli("export", draft, "--to", "devto", "-o", tmp_path, "--allow-todo", "--image-base-url",
              "https://cdn.example/img/")
    assert run.code == 0, run.stderr
    text = (tmp_path / "post.md").read_text(encoding="utf-8")
    assert "![Figure 4: Balance loss](https://cdn.example/img/figure-4.png)" in text
    assert "upload the files" in run.stderr and "post-images" in run.stderr
    run = cli("export", draft, "--to", "devto", "-o", tmp_path / "b", "--allow-todo")
    assert "upload these 7 images in the dev.to editor" in " ".join(run.stderr.split())


def test_warnings_name_the_broken_formula_and_the_open_check(draft: Path, tmp_path: Path):
    run = cli("export", draft, "--to", "md", "-o", tmp_path, "--allow-todo")
    stderr = " ".join(run.stderr.split())
    assert "the formula `\\frac{1}{\\sqrt{k}` does not parse (unbalanced braces)" in stderr
    assert "1 fact-check callout still open" in stderr
    assert run.stdout.strip() == str(tmp_path / "post" / "index.md")  # stdout: only the post's path


def test_bad_usage_is_one_line(draft: Path, tmp_path: Path):
    run = cli("export", draft, "--to", "wordpress", "-o", tmp_path)
    assert run.code == 2 and "unknown export target 'wordpress'" in run.stderr
    not_a_draft = tmp_path / "notes.md"
    not_a_draft.write_text("# just notes\n", encoding="utf-8")
    run = cli("export", not_a_draft, "--to", "md", "-o", tmp_path)
    assert run.code == 2 and "no drafter section markers" in run.stderr


def test_devto_canonical_url_from_the_config(draft: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRAFTER_CANONICAL_BASE_URL", "https://blog.example/posts/")
    assert cli("export", draft, "--to", "devto", "-o", tmp_path / "a", "--allow-todo").code == 0
    assert 'canonical_url: "https://blog.example/posts/post/"' in (tmp_path / "a" / "post.md").read_text("utf-8")
    run = cli("export", draft, "--to", "devto", "-o", tmp_path / "b", "--allow-todo", "--canonical-url",
              "https://elsewhere.example/p")
    assert run.code == 0 and 'canonical_url: "https://elsewhere.example/p"' in (tmp_path / "b" / "post.md").read_text(
        "utf-8")
    monkeypatch.setenv("DRAFTER_CANONICAL_BASE_URL", "blog.example")
    run = cli("export", draft, "--to", "devto", "-o", tmp_path / "c", "--allow-todo")
    assert run.code == 2 and "must start with http:// or https://" in run.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_reference_links_and_raw_html_images_are_copied_and_rewritten(draft: Path, tmp_path: Path, target: str):
    text = draft.read_text(encoding="utf-8")
    text = text.replace("![Figure 4: Balance loss](post-figures/figure-4.png)",
                        "![Figure 4: Balance loss][balance]\n\n[Balance]: <post-figures/figure-4.png> \"Balance\"")
    text = text.replace("![Figure 5: Expert load](post-figures/figure-5.png)",
                        '<img alt="Figure 5" width="400" src="post-figures/figure-%35.png">')
    draft.write_text(text, encoding="utf-8")
    out = tmp_path / "site"
    post = export_draft(draft, target, out, allow_todo=True).post
    exported = post.read_text(encoding="utf-8")
    assert "post-figures/" not in exported
    definition = re.search(r"^\[Balance\]: (\S+) \"Balance\"$", exported, re.M)
    source = re.search(r'<img alt="Figure 5" width="400" src="([^"]+)">', exported)
    assert definition and source, exported
    for link, number in ((definition.group(1).strip("<>"), 4), (source.group(1), 5)):
        assert link.endswith(f"figure-{number}.png"), link
        copy = out / link.lstrip("/") if link.startswith("/") else post.parent / link
        assert copy.read_bytes() == (draft.parent / "post-figures" / f"figure-{number}.png").read_bytes()


def test_a_missing_file_behind_a_reference_or_an_img_tag_is_a_todo(draft: Path, tmp_path: Path):
    text = draft.read_text(encoding="utf-8").replace("![Figure 4: Balance loss](post-figures/figure-4.png)",
                                                     "![Figure 4][f4]\n\n[f4]: post-figures/nope.png")
    draft.write_text(text.replace("post-figures/figure-5.png)", "post-figures/figure-5.png)\n\n"
                                  "<p><img src='gone.png'></p>"), encoding="utf-8")
    run = cli("export", draft, "--to", "md", "-o", tmp_path / "out")
    message = " ".join(run.stderr.split())
    assert run.code == 2 and "missing image post-figures/nope.png" in message and "missing image gone.png" in message


def test_jekyll_keeps_a_formula_that_opens_a_paragraph_inline(tmp_path: Path):
    # kramdown reads a line `$$x$$` after a blank line as a display block; `\$$x$$` there is inline math.
    draft = make_draft(tmp_path, "plain.md", figures=0)
    body = ("Intro.\n\n$k$ is the number of experts.\n\n$d$\n\n- $n$\n- item\n\n> $m$\n> more\n\nLine\n$q$\n\n"
            "> quoted $$y = x$$ display\n")
    mine = "I wrote it all myself: ```x``` and done.\n"
    draft.write_text(draft.read_text(encoding="utf-8").replace(mine, f"{mine}\n{body}"), encoding="utf-8")
    jekyll = export_draft(draft, "jekyll", tmp_path / "site").post.read_text(encoding="utf-8")
    assert "\n$$k$$ is the number" in jekyll  # text follows on its line: kramdown reads it inline already
    assert "\n\\$$d$$\n" in jekyll and "\n- \\$$n$$\n" in jekyll and "\n> \\$$m$$\n> more" in jekyll
    assert "\nLine\n$$q$$\n" in jekyll  # inside a paragraph: no block starts there
    # a display formula inside a quote becomes its own paragraph *inside the quote*
    assert "> quoted\n> \n> $$y = x$$\n> \n> display" in jekyll


def test_hugo_is_told_that_goldmark_drops_raw_html(draft: Path, tmp_path: Path):
    clean = export_draft(draft, "hugo", tmp_path / "a", allow_todo=True)
    assert not any("raw HTML" in w for w in clean.warnings)
    text = draft.read_text(encoding="utf-8")
    draft.write_text(text.replace("![Figure 5: Expert load](post-figures/figure-5.png)",
                                  '<img src="post-figures/figure-5.png" width="300">'), encoding="utf-8")
    hugo = export_draft(draft, "hugo", tmp_path / "b", allow_todo=True)
    [warning] = [w for w in hugo.warnings if "raw HTML" in w]
    assert "1 place, first at line 56" in warning and "unsafe = true" in warning, warning
    assert not any("raw HTML" in w for w in export_draft(draft, "jekyll", tmp_path / "c", allow_todo=True).warnings)


def test_devto_formulas_never_open_a_liquid_tag(tmp_path: Path):
    # Inside {% katex %} Liquid still reads `{%` and `{{`; `{ %` and `{ {` are the same TeX.
    from drafter.export import convert

    text = "Rate $a_{{ij}}$ and $b_{%x\n}$ here.\n\n$$\nx = {%comment\n}\n$$\n"
    out = convert(text, "devto", lambda _: None, tmp_path)
    assert "{% katex inline %}a_{ {ij}}{% endkatex %}" in out and "{% katex inline %}b_{ %x\n}{% endkatex %}" in out
    assert "{% katex %}\nx = { %comment\n}\n{% endkatex %}" in out
    assert re.findall(r"\{%\s*(\w+)", out) == ["katex", "endkatex"] * 3
