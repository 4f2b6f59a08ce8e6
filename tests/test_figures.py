"""Figure export: regions found around captions on synthetic two-column papers, PNGs written, the header image
candidate in the draft, --no-figures / -o - / batch, and failures that cost one warning line."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from cliutil import cli
from drafter import sources
from drafter.assemble import credit_line, header_image_text
from drafter.batch import Entry, run_batch
from drafter.config import load_settings
from drafter.figures import (
    DPI,
    ExportedFigure,
    FigureExport,
    export_figures,
    figures_dir,
    image_name,
    overview_figure,
)
from drafter.paper import Figure, Paper
from pdfgen import wrap

WIDTH, HEIGHT = letter
MARGIN, GUTTER = 72.0, 18.0
COLUMN = (WIDTH - 2 * MARGIN - GUTTER) / 2
BODY = ("Residual mixing lets a small sequence model carry context across long inputs at a modest cost, "
        "and the gate decides how much of the running memory enters each layer of the network. ") * 12

# What the figures look like, in PDF points (x0, y0, x1, y1): the drawings, their labels and the captions.
FIG1_DRAWING = (MARGIN + 20, 430.0, MARGIN + COLUMN - 20, 560.0)  # left column, page 1
FIG1_CAPTION_Y = 410.0
FIG2_DRAWING = (MARGIN + 40, 520.0, WIDTH - MARGIN - 40, 690.0)  # full width, page 2, top
FIG2_CAPTION_Y = 500.0
CAPTION1 = "Figure 1: Overview of the gated residual mixing architecture."
CAPTION2 = "Figure 2: Loss curves of the three models on the long-range benchmark."


def _body(c: canvas.Canvas, x: float, top: float, bottom: float, width: float, heading: str = "") -> None:
    y = top
    if heading:
        c.setFont("Times-Bold", 12)
        c.drawString(x, y, heading)
        y -= 16
    c.setFont("Times-Roman", 10)
    for line in wrap(BODY, width):
        if y < bottom:
            break
        c.drawString(x, y, line)
        y -= 12


def _header(c: canvas.Canvas, page: int) -> None:
    c.setFont("Times-Roman", 8)
    c.drawCentredString(WIDTH / 2, HEIGHT - 40, "Gated Residual Mixing: Cheap Long-Range Context")
    c.setLineWidth(0.5)
    c.line(MARGIN, HEIGHT - 44, WIDTH - MARGIN, HEIGHT - 44)
    c.drawCentredString(WIDTH / 2, 30, str(page))


def _boxes(c: canvas.Canvas, box: tuple[float, float, float, float], labels: list[str]) -> None:
    """A block diagram: a frame, boxes with small labels, arrows; labels are text, the rest vector paths."""
    x0, y0, x1, y1 = box
    c.setLineWidth(1)
    c.rect(x0, y0, x1 - x0, y1 - y0)
    step = (x1 - x0) / len(labels)
    c.setFont("Helvetica", 7)
    for i, label in enumerate(labels):
        bx = x0 + i * step + 6
        c.setFillColorRGB(0.6, 0.8, 1.0)
        c.rect(bx, y0 + 30, step - 12, 40, fill=1)
        c.setFillColorRGB(0, 0, 0)
        c.drawString(bx + 3, y0 + 48, label)
        if i:
            c.line(bx - 12, y0 + 50, bx, y0 + 50)


def make_figure_paper(path: Path) -> Path:
    """Two two-column pages: a column-wide diagram (page 1) and a page-wide plot at the top of page 2, each
    with body text above and below, running headers with a rule, and page numbers."""
    c = canvas.Canvas(str(path), pagesize=letter, invariant=1)
    left, right = MARGIN, MARGIN + COLUMN + GUTTER
    # page 1
    _header(c, 1)
    c.setFont("Times-Bold", 14)
    c.drawString(MARGIN, HEIGHT - 80, "Gated Residual Mixing")
    _body(c, left, HEIGHT - 110, FIG1_DRAWING[3] + 30, COLUMN, "Abstract")
    _boxes(c, FIG1_DRAWING, ["embed", "mix", "gate", "out"])
    c.setFont("Helvetica", 7)
    c.drawString(FIG1_DRAWING[0] + 10, FIG1_DRAWING[3] - 14, "input tokens")
    c.setFont("Times-Roman", 9)
    c.drawString(left, FIG1_CAPTION_Y, CAPTION1)
    _body(c, left, FIG1_CAPTION_Y - 30, MARGIN, COLUMN, "1 Introduction")
    _body(c, right, HEIGHT - 110, MARGIN, COLUMN, "2 Method")
    c.showPage()
    # page 2
    _header(c, 2)
    x0, y0, x1, y1 = FIG2_DRAWING
    c.setLineWidth(1)
    c.line(x0, y0 + 10, x0, y1)  # axes
    c.line(x0, y0 + 10, x1, y0 + 10)
    c.setStrokeColorRGB(0.9, 0.2, 0.2)
    c.bezier(x0, y1 - 10, x0 + 60, y0 + 40, x1 - 200, y0 + 30, x1, y0 + 25)
    c.setStrokeColorRGB(0, 0, 0)
    c.setFont("Helvetica", 7)
    c.drawString((x0 + x1) / 2 - 20, y0, "training steps")  # axis label under the axis: part of the figure
    c.setFont("Times-Roman", 9)
    c.drawCentredString(WIDTH / 2, FIG2_CAPTION_Y, CAPTION2)
    _body(c, left, FIG2_CAPTION_Y - 30, MARGIN, COLUMN, "3 Results")
    _body(c, right, FIG2_CAPTION_Y - 30, MARGIN, COLUMN, "4 Conclusion")
    c.showPage()
    c.save()
    return path


FIGURES = [Figure("Figure 1", CAPTION1.split(": ", 1)[1], 1), Figure("Figure 2", CAPTION2.split(": ", 1)[1], 2)]


@pytest.fixture(scope="module")
def figure_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_figure_paper(tmp_path_factory.mktemp("figs") / "figure-paper.pdf")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def expected_pixels(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[2] - box[0]) * DPI / 72, (box[3] - box[1]) * DPI / 72


@pytest.mark.parametrize("with_bbox", [False, True])
def test_each_figure_is_cropped_to_its_drawing_and_labels(figure_pdf: Path, tmp_path: Path, with_bbox: bool) -> None:
    figures = [Figure(f.label, f.caption, f.page) for f in FIGURES]
    if with_bbox:  # the caption boxes extraction would record
        figures[0].bbox = (MARGIN, FIG1_CAPTION_Y - 2, MARGIN + 230, FIG1_CAPTION_Y + 8)
        figures[1].bbox = (WIDTH / 2 - 140, FIG2_CAPTION_Y - 2, WIDTH / 2 + 140, FIG2_CAPTION_Y + 8)
    result = export_figures(figure_pdf, figures, tmp_path / "d-figures")
    assert result.warnings == []
    assert [im.path.name for im in result.images] == ["figure-1.png", "figure-2.png"]
    assert [im.link for im in result.images] == ["d-figures/figure-1.png", "d-figures/figure-2.png"]
    for image, drawing in zip(result.images, (FIG1_DRAWING, FIG2_DRAWING), strict=True):
        width, height = png_size(image.path)
        assert (width, height) == image.size
        want_w, want_h = expected_pixels(drawing)
        # The drawing plus a few points of margin: no body text above or beside, no caption, no header.
        assert want_w <= width <= want_w + 40, (image.path.name, width, want_w)
        assert want_h <= height <= want_h + 40, (image.path.name, height, want_h)


def test_a_full_width_figure_takes_both_columns_and_the_header_rule_stays_out(figure_pdf: Path,
                                                                              tmp_path: Path) -> None:
    result = export_figures(figure_pdf, [FIGURES[1]], tmp_path / "f")
    width, height = result.images[0].size
    # wider than a column: both halves of the plot are in; no taller than the plot: the header is not.
    assert width > 1.5 * COLUMN * DPI / 72
    assert height < (FIG2_DRAWING[3] - FIG2_DRAWING[1] + 12) * DPI / 72


def test_problems_become_warnings_never_exceptions(figure_pdf: Path, tmp_path: Path) -> None:
    figures = [Figure("Figure 7", "Not in this paper.", 1), Figure("Figure 1", FIGURES[0].caption, 9),
               FIGURES[0]]
    result = export_figures(figure_pdf, figures, tmp_path / "w")
    # the first "Figure 1" is the one exported (a label found twice is exported once)
    assert result.images == []
    assert result.warnings == ["Figure 7: caption not found on page 1", "Figure 1: page 9 is not in the PDF"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not a PDF body\n%%EOF\n")
    failed = export_figures(broken, FIGURES, tmp_path / "b")
    assert failed.images == [] and len(failed.warnings) == 1
    assert failed.warnings[0].startswith("cannot render broken.pdf")
    assert failed.summary() == f"figures: {failed.warnings[0]}"
    assert not (tmp_path / "b").exists()


def test_a_page_number_out_of_range_costs_that_figure_only(figure_pdf: Path, tmp_path: Path) -> None:
    result = export_figures(figure_pdf, [Figure("Figure 3", "Ghost.", 12), FIGURES[1]], tmp_path / "p")
    assert [im.figure.label for im in result.images] == ["Figure 2"]
    assert result.warnings == ["Figure 3: page 12 is not in the PDF"]
    assert result.summary() == "figures: Figure 3: page 12 is not in the PDF"


def test_names_and_folder() -> None:
    assert image_name(Figure("Figure 3", "", 1)) == "figure-3.png"
    assert image_name(Figure("Figure A.1", "", 1)) == "figure-a-1.png"
    assert figures_dir(Path("out/my-post.md")) == Path("out/my-post-figures")


def _image(label: str, caption: str) -> ExportedFigure:
    return ExportedFigure(Figure(label, caption, 1), Path(f"/x/{label}.png"), f"d-figures/{label}.png", (10, 10))


@pytest.mark.parametrize(("captions", "chosen"), [
    (["Training error of plain networks.", "Residual learning: a building block.", "Results."], "Figure 2"),
    (["The Transformer - model architecture.", "Attention."], "Figure 1"),
    (["Loss curves.", "More loss curves."], "Figure 1"),
    (["Loss.", "Loss.", "Loss.", "An overview of the method."], "Figure 1"),  # only the first three compete
])
def test_the_overview_figure_is_the_one_naming_the_architecture(captions: list[str], chosen: str) -> None:
    images = [_image(f"Figure {i}", c) for i, c in enumerate(captions, 1)]
    picked = overview_figure(images)
    assert picked is not None and picked.figure.label == chosen
    assert overview_figure([]) is None


def test_header_image_text_links_the_figure_with_caption_and_credit() -> None:
    paper = Paper("Deep *Residual* Learning", authors=["Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"],
                  year=2016, arxiv_id="1512.03385")
    images = [_image("Figure 1", "Training error [left]. More detail here."),
              _image("Figure 2", "Residual learning: a building block of f_1. Its two layers.")]
    text = header_image_text(paper, images)
    assert "![Figure 2: Residual learning: a building block of f\\_1.](<d-figures/Figure 2.png>)" in text
    assert "*Figure 2: Residual learning: a building block of f\\_1.*" in text  # the first sentence
    assert ("*Credit: Figure 2 from \"Deep \\*Residual\\* Learning\", Kaiming He et al. (2016), "
            "[arXiv:1512.03385](https://arxiv.org/abs/1512.03385)*") in text
    assert "[Figure 1](<d-figures/Figure 1.png>)" in text  # the others are listed for the author
    assert text.startswith("> **✍️ TODO (author):**")
    assert header_image_text(paper, []) == ""
    assert credit_line(Paper("T", authors=["A B", "C D"]), "Figure 1") == 'Figure 1 from "T", A B, C D'


# -- through the CLI and batch ---------------------------------------------------------------------------


@pytest.fixture
def with_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Extraction as it will be once captions are found: the synthetic paper's figures on its Paper."""
    extract = sources.extract_pdf

    def extract_with_figures(path: str, cache_dir: str | None) -> Paper:
        paper = extract(path, cache_dir)
        paper.figures = [Figure(f.label, f.caption, f.page) for f in FIGURES]
        return paper

    monkeypatch.setattr(sources, "extract_pdf", extract_with_figures)


@pytest.mark.usefixtures("with_figures")
def test_new_writes_the_pngs_and_the_draft_links_the_overview_figure(figure_pdf: Path, tmp_path: Path) -> None:
    out = tmp_path / "post.md"
    run = cli("new", figure_pdf, "--offline", "-o", out)
    assert run.code == 0, run.stderr
    folder = tmp_path / "post-figures"
    assert sorted(p.name for p in folder.iterdir()) == ["figure-1.png", "figure-2.png"]
    draft = out.read_text(encoding="utf-8")
    header = draft.split("<!-- drafter:begin id=header-image", 1)[1].split("<!-- drafter:end id=header-image")[0]
    assert "source=author" in header  # still the author's section
    assert "](<post-figures/figure-1.png>)" in header
    assert '*Credit: Figure 1 from "Gated Residual Mixing"' in header
    assert "[Figure 2](<post-figures/figure-2.png>)" in header
    assert "figures: 2 PNGs in" in run.stderr
    assert cli("status", out).code == 0


@pytest.mark.usefixtures("with_figures")
def test_no_figures_and_stdout_export_nothing(figure_pdf: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli("new", figure_pdf, "--offline", "--no-figures", "-o", tmp_path / "a.md")
    assert run.code == 0 and not (tmp_path / "a-figures").exists()
    assert "your-header-image.png" in (tmp_path / "a.md").read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    run = cli("new", figure_pdf, "--offline", "-o", "-")
    assert run.code == 0 and "your-header-image.png" in run.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith("-figures")] == []


@pytest.mark.usefixtures("with_figures")
def test_a_failed_export_costs_one_warning_line_and_the_draft_is_written(figure_pdf: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdfium2

    def refuse(*args: object, **kwargs: object) -> None:
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).")

    monkeypatch.setattr(pypdfium2, "PdfDocument", refuse)
    out = tmp_path / "post.md"
    run = cli("new", figure_pdf, "--offline", "-o", out)
    assert run.code == 0
    assert out.exists() and "your-header-image.png" in out.read_text(encoding="utf-8")
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: figures: cannot render figure-paper.pdf: PdfiumError: Failed to load document "
                        "(PDFium: Data format error)."]


@pytest.mark.usefixtures("with_figures")
def test_batch_exports_next_to_each_draft(figure_pdf: Path, tmp_path: Path) -> None:
    settings = load_settings({"offline": True})
    out = tmp_path / "drafts"
    result = asyncio.run(run_batch([Entry(str(figure_pdf), tmp_path)], settings, out, workers=0))
    assert result.exit_code == 0
    draft = result.results[0].output
    assert draft is not None
    assert sorted(p.name for p in figures_dir(draft).iterdir()) == ["figure-1.png", "figure-2.png"]
    assert f"]({figures_dir(draft).name}/figure-1.png" in draft.read_text(encoding="utf-8").replace("<", "")
    again = asyncio.run(run_batch([Entry(str(figure_pdf), tmp_path)], settings, tmp_path / "plain", workers=0,
                                  figures=False))
    plain = again.results[0].output
    assert plain is not None and not figures_dir(plain).exists()


def test_summary_counts_several_problems() -> None:
    export = FigureExport(warnings=[f"Figure {i}: caption not found on page 1" for i in range(1, 6)])
    assert export.summary() == ("figures: 5 not exported (Figure 1: caption not found on page 1; Figure 2: caption "
                                "not found on page 1; Figure 3: caption not found on page 1, ...)")


def test_a_heading_of_the_paper_right_above_a_figure_stays_out(tmp_path: Path) -> None:
    pdf = tmp_path / "heading.pdf"
    c = canvas.Canvas(str(pdf), pagesize=letter, invariant=1)
    _body(c, MARGIN, HEIGHT - 80, 560, WIDTH - 2 * MARGIN)
    c.setFont("Times-Bold", 12)
    c.drawString(WIDTH / 2 - 60, 536, "Visual Examples")  # an unnumbered heading, 8 points above the drawing
    _boxes(c, (MARGIN + 40, 400.0, WIDTH - MARGIN - 40, 528.0), ["Results", "b", "c"])  # a label = a heading
    c.setFont("Times-Roman", 9)
    c.drawString(MARGIN, 385, "Figure 5: Three boxes.")
    _body(c, MARGIN, 360, MARGIN, WIDTH - 2 * MARGIN)
    c.showPage()
    c.save()
    figure = [Figure("Figure 5", "Three boxes.", 1)]
    with_heading = export_figures(pdf, figure, tmp_path / "a").images[0].size[1]
    without = export_figures(pdf, figure, tmp_path / "b", ["Results", "5 Visual Examples"]).images[0].size[1]
    assert (128 - 4) * DPI / 72 <= without <= (128 + 12) * DPI / 72 < with_heading  # the whole drawing


@pytest.mark.usefixtures("with_figures")
def test_debug_shows_the_traceback_a_failed_export_turned_into_one_line(figure_pdf: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdfium2

    def refuse(*args: object, **kwargs: object) -> None:
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).")

    monkeypatch.setattr(pypdfium2, "PdfDocument", refuse)
    quiet = cli("new", figure_pdf, "--offline", "-o", tmp_path / "a.md")
    assert quiet.code == 0 and "Traceback" not in quiet.stderr
    loud = cli("--debug", "new", figure_pdf, "--offline", "-o", tmp_path / "b.md")
    assert loud.code == 0
    assert "Traceback (most recent call last)" in loud.stderr
    assert 'in refuse\n    raise pypdfium2.PdfiumError("Failed to load document' in loud.stderr


def _one_page(tmp_path: Path, draw) -> Path:  # type: ignore[no-untyped-def]
    pdf = tmp_path / "layout.pdf"
    c = canvas.Canvas(str(pdf), pagesize=letter, invariant=1)
    _header(c, 1)
    _body(c, MARGIN, HEIGHT - 80, 600, WIDTH - 2 * MARGIN)
    draw(c)
    _body(c, MARGIN, 330, MARGIN, WIDTH - 2 * MARGIN)
    c.showPage()
    c.save()
    return pdf


def test_side_by_side_figures_with_their_own_captions_get_their_own_crops(tmp_path: Path) -> None:
    half = (WIDTH - 2 * MARGIN - 20) / 2

    def draw(c: canvas.Canvas) -> None:
        _boxes(c, (MARGIN, 420.0, MARGIN + half, 580.0), ["a", "b"])
        _boxes(c, (MARGIN + half + 20, 440.0, WIDTH - MARGIN, 580.0), ["c", "d", "e"])
        c.setFont("Times-Roman", 9)
        c.drawString(MARGIN, 400, "Figure 1: The left drawing.")
        c.drawString(MARGIN + half + 20, 400, "Figure 2: The right drawing.")

    pdf = _one_page(tmp_path, draw)
    result = export_figures(pdf, [Figure("Figure 1", "The left drawing.", 1),
                                  Figure("Figure 2", "The right drawing.", 1)], tmp_path / "out")
    assert result.warnings == []
    left, right = (png_size(im.path) for im in result.images)
    assert left[0] <= (half + 12) * DPI / 72 and right[0] <= (half + 12) * DPI / 72  # one drawing each
    assert result.images[0].path.read_bytes() != result.images[1].path.read_bytes()


def test_a_figure_set_as_text_is_found_by_its_ink_and_a_strip_is_made_tall_enough(tmp_path: Path) -> None:
    def draw(c: canvas.Canvas) -> None:
        c.setFont("Courier", 9)  # a code listing: no graphics objects at all, only text
        for i, line in enumerate(["def pass_at_k(n, c, k):", "    if n - c < k:", "        return 1.0",
                                  "    return 1.0 - prod(1.0 - k / arange(n - c + 1, n + 1))"]):
            c.drawString(MARGIN + 20, 560 - 11 * i, line)
        c.setFont("Times-Roman", 9)
        c.drawString(MARGIN, 505, "Figure 3: A numerically stable estimator.")
        c.setFillColorRGB(0.2, 0.2, 0.2)
        c.rect(MARGIN + 40, 420, 300, 14, fill=1)  # a thin strip: 14 points tall
        c.setFillColorRGB(0, 0, 0)
        c.drawString(MARGIN, 400, "Figure 4: A strip of thumbnails.")

    pdf = _one_page(tmp_path, draw)
    result = export_figures(pdf, [Figure("Figure 3", "A numerically stable estimator.", 1),
                                  Figure("Figure 4", "A strip of thumbnails.", 1)], tmp_path / "out")
    assert result.warnings == []
    listing, strip = (png_size(im.path) for im in result.images)
    assert 40 * DPI / 72 <= listing[1] <= 75 * DPI / 72  # the four lines, not the paragraph 40 points above
    assert min(strip) >= 150


@pytest.mark.usefixtures("with_figures")
def test_a_failed_draft_leaves_no_figures_behind(figure_pdf: Path, tmp_path: Path, fake_server_factory) -> None:
    from fakeserver import Fault

    server = fake_server_factory()
    server.enqueue(*[Fault.invalid_api_key()] * 40)
    out = tmp_path / "drafts" / "post.md"
    run = cli("new", figure_pdf, "-o", out, "--base-url", server.url, "--model", "fake-model")
    assert run.code == 1, run.stderr
    assert not out.exists()
    assert list((tmp_path / "drafts").iterdir()) == []  # no post-figures/, no staging folder either


def test_a_table_under_its_caption_and_a_figure_above_another_caption_stay_out(tmp_path: Path) -> None:
    # a top-captioned table, then a figure whose caption PDFium splits into pieces; the figure below them
    def draw(c: canvas.Canvas) -> None:
        c.setFont("Times-Roman", 9)
        c.drawString(MARGIN, 585, "Table 1: Sizes of the models.")
        for i, row in enumerate(["Hidden  Heads  Layers", "1536  16  40", "1920  20  54"]):
            for j, cell in enumerate(row.split("  ")):
                c.drawString(MARGIN + 60 + 90 * j, 570 - 11 * i, cell)
        for y in (580, 566, 545):  # the table's rules: graphics, like the figure's
            c.line(MARGIN + 50, y, MARGIN + 330, y)
        _boxes(c, (MARGIN + 40, 430.0, WIDTH - MARGIN - 40, 510.0), ["a", "b", "c"])
        c.setFont("Times-Roman", 9)
        c.drawString(MARGIN, 410, "Figure 5: Scaling of the models.")

    pdf = _one_page(tmp_path, draw)
    table = Figure("Table 1", "Sizes of the models.", 1, (MARGIN, 583, MARGIN + 120, 592),
                   "Hidden  Heads  Layers\n1536  16  40\n1920  20  54")
    figure = Figure("Figure 5", "Scaling of the models.", 1, (MARGIN, 408, MARGIN + 130, 417))
    alone = export_figures(pdf, [figure], tmp_path / "a").images[0].size[1]
    told = export_figures(pdf, [figure], tmp_path / "b", tables=[table]).images[0].size[1]
    assert told <= (80 + 12) * DPI / 72 < alone  # the drawing only, once the table is known


def test_an_image_reaching_over_the_running_header_is_cut_below_it(tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "white-top.png"
    image = Image.new("RGB", (200, 200), "white")  # an image whose upper part is white paper
    image.paste((30, 90, 200), (20, 20, 180, 120))
    image.save(picture)
    pdf = tmp_path / "header.pdf"
    c = canvas.Canvas(str(pdf), pagesize=letter, invariant=1)
    for page in (1, 2, 3):
        _header(c, page)
        if page == 2:
            c.drawImage(str(picture), MARGIN + 60, 520, 300, HEIGHT - 520)  # up to the page's top edge
            c.setFont("Times-Roman", 9)
            c.drawString(MARGIN, 505, "Figure 1: A photograph.")
            _body(c, MARGIN, 480, MARGIN, WIDTH - 2 * MARGIN)
        else:
            _body(c, MARGIN, HEIGHT - 80, MARGIN, WIDTH - 2 * MARGIN)
        c.showPage()
    c.save()
    result = export_figures(pdf, [Figure("Figure 1", "A photograph.", 2)], tmp_path / "out")
    height = result.images[0].size[1]
    assert height <= (HEIGHT - 44 - 520) * DPI / 72  # below the header rule: no header text in the crop


def test_a_figures_own_label_that_spells_a_heading_does_not_end_it(tmp_path: Path) -> None:
    def draw(c: canvas.Canvas) -> None:
        c.setFont("Courier", 9)  # a figure of text only (found by its ink); one label reads like a heading
        for i, line in enumerate(["loss = train(model)", "Results", "print(loss, accuracy)", "save(model)"]):
            c.drawString(MARGIN + 30, 560 - 11 * i, line)
        c.setFont("Times-Roman", 9)
        c.drawString(MARGIN, 505, "Figure 2: The training loop.")

    pdf = _one_page(tmp_path, draw)
    image = export_figures(pdf, [Figure("Figure 2", "The training loop.", 1)], tmp_path / "out",
                           ["Introduction", "Results"]).images[0]
    assert image.size[1] >= 38 * DPI / 72  # all four lines, not the two under "Results"


def test_a_row_of_sub_captions_does_not_end_the_figure(tmp_path: Path) -> None:
    def draw(c: canvas.Canvas) -> None:
        for y0, text in ((520.0, "(a) Standard dropout with weight averaging on the held-out months of the data"),
                         (430.0, "(b) A Gaussian process with a squared exponential covariance function")):
            _boxes(c, (MARGIN, y0, WIDTH - MARGIN, y0 + 70), ["p", "q", "r"])  # a row of panels, then its
            c.setFont("Times-Roman", 10)  # sub-caption: as long and as large as a line of body text
            c.drawString(MARGIN + 10, y0 - 12, text)
        c.setFont("Times-Roman", 9)
        c.drawString(MARGIN, 400, "Figure 2: Predictive mean and uncertainties of four models.")

    pdf = _one_page(tmp_path, draw)
    image = export_figures(pdf, [Figure("Figure 2", "Predictive mean and uncertainties of four models.", 1)],
                           tmp_path / "out").images[0]
    assert image.size[1] >= (590 - 418) * DPI / 72  # both rows of panels


def test_a_narrow_caption_beside_its_figure_takes_the_figure_on_its_side(tmp_path: Path) -> None:
    def draw(c: canvas.Canvas) -> None:
        _boxes(c, (MARGIN, 420.0, 330.0, 580.0), ["a", "b"])  # the drawing on the left ...
        c.setFont("Times-Roman", 9)
        for i, line in enumerate(["Figure 2: Prediction of the", "index; the solid line shows", "the error."]):
            c.drawString(350, 560 - 11 * i, line)  # ... its caption on the right, from its top down

    pdf = _one_page(tmp_path, draw)
    result = export_figures(pdf, [Figure("Figure 2", "Prediction of the index; the solid line shows the error.", 1,
                                         (350, 536, 470, 568))], tmp_path / "out")
    assert result.warnings == []
    width, height = result.images[0].size
    assert (258 - 4) * DPI / 72 <= width <= (258 + 12) * DPI / 72 and height >= 150 * DPI / 72


def test_a_figure_a_little_wider_than_its_column_is_exported_without_the_next_columns_text(tmp_path: Path) -> None:
    # right column: a drawing whose frame reaches across the gutter to the left column's text and past the
    # margin, at the top of the column, its caption under it; the left column is running text all the way down
    left, right = MARGIN, MARGIN + COLUMN + GUTTER
    frame = (left + COLUMN - 4, 600.0, right + COLUMN + 12, 700.0)
    pdf = tmp_path / "wide.pdf"
    c = canvas.Canvas(str(pdf), pagesize=letter, invariant=1)
    _header(c, 1)
    _body(c, left, HEIGHT - 80, MARGIN, COLUMN)
    _boxes(c, frame, ["a", "b", "c"])
    c.setFont("Times-Roman", 9)
    c.drawString(right, 580, "Figure 3: A heat map of the weights.")
    _body(c, right, 550, MARGIN, COLUMN)
    c.showPage()
    c.save()
    result = export_figures(pdf, [Figure("Figure 3", "A heat map of the weights.", 1,
                                         (right, 578, right + 150, 587))], tmp_path / "out")
    assert result.warnings == []
    width, height = result.images[0].size
    assert height >= (frame[3] - frame[1]) * DPI / 72  # the whole drawing
    assert width <= (frame[2] + 4 - (left + COLUMN)) * DPI / 72 + 2  # not a letter of the left column's text
