"""Sources: PDF paths, arXiv ids and URLs (against a local stand-in arXiv), PDF URLs; spacing and caching."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drafter import sources
from drafter.cli import app
from drafter.config import load_settings
from drafter.errors import InputError
from drafter.sources import load_source, parse_feed, parse_source
from fakearxiv import FakeArxiv, make_pdf

PDF_TITLE = "Gated Widgets for Fast Parsing"
FEED_TITLE = "Attention Is All You Need"
FEED_AUTHORS = ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"]


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch):
    with FakeArxiv() as server:
        server.add("1706.03762", FEED_TITLE, FEED_AUTHORS, version="v7",
                   pdf=make_pdf(PDF_TITLE, ("Ada Lovelace", "Alan Turing"), seed="attention"),
                   abstract="The dominant sequence transduction models\n   are based on recurrent networks.")
        server.add("hep-th/9901001", "An Old Style Paper", ["Edward Witten"], version="v1",
                   published="1999-01-04T00:00:00Z", categories=("hep-th",), pdf=make_pdf("Strings", seed="old"))
        monkeypatch.setenv("DRAFTER_ARXIV_API", server.api_url)
        monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0.01")
        yield server


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings({"offline": True, "cache_dir": tmp_path / "cache"}, env={}, file=tmp_path / "none.toml")


@pytest.mark.parametrize(("text", "kind", "value", "version"), [
    ("1706.03762", "arxiv", "1706.03762", ""),
    ("1706.03762v7", "arxiv", "1706.03762", "v7"),
    ("arXiv:1706.03762", "arxiv", "1706.03762", ""),
    ("ARXIV: 2301.00001v2", "arxiv", "2301.00001", "v2"),
    ("hep-th/9901001", "arxiv", "hep-th/9901001", ""),
    ("math.GT/0309136v1", "arxiv", "math.GT/0309136", "v1"),
    ("https://arxiv.org/abs/1706.03762v5", "arxiv", "1706.03762", "v5"),
    ("http://arxiv.org/pdf/1706.03762.pdf", "arxiv", "1706.03762", ""),
    ("https://export.arxiv.org/abs/hep-th/9901001", "arxiv", "hep-th/9901001", ""),
    ("https://example.org/papers/x.pdf", "url", "https://example.org/papers/x.pdf", ""),
    ("papers/missing.pdf", "path", "papers/missing.pdf", ""),
    ("1706.037", "path", "1706.037", ""),
    ("0704.0001", "arxiv", "0704.0001", ""),
])
def test_parse_source_kinds(text, kind, value, version):
    source = parse_source(text)
    assert (source.kind, source.value, source.version) == (kind, value, version)


def test_existing_file_wins_over_arxiv_look(tmp_path: Path):
    (tmp_path / "1706.03762").write_bytes(make_pdf(PDF_TITLE))
    assert parse_source("1706.03762", tmp_path).kind == "path"


def test_arxiv_metadata_takes_precedence_and_provenance_is_kept(arxiv, settings):
    paper = load_source("arXiv:1706.03762", settings)
    assert paper.title == FEED_TITLE
    assert paper.authors == FEED_AUTHORS
    assert paper.year == 2017
    assert paper.abstract == "The dominant sequence transduction models are based on recurrent networks."
    assert paper.categories == ["cs.CL", "cs.LG"]
    assert paper.arxiv_id == "1706.03762"
    assert paper.source == "arXiv:1706.03762v7"
    for name in ("title", "authors", "year", "abstract", "arxiv_id", "categories", "published"):
        assert paper.provenance[name] == "arxiv-api"
    assert paper.pdf_fields["title"] == PDF_TITLE
    assert paper.pdf_fields["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert len(paper.sha256) == 64
    # The PDF link came from the feed; a second load is served from the download and metadata caches.
    assert arxiv.paths("/pdf/") == ["/pdf/1706.03762v7"]
    before = len(arxiv.requests)
    again = load_source("https://arxiv.org/abs/1706.03762v7", settings)
    assert again.title == FEED_TITLE
    assert len(arxiv.requests) - before <= 1  # a versioned id: metadata query only if never asked for it


def test_old_style_id(arxiv, settings):
    paper = load_source("hep-th/9901001", settings)
    assert paper.title == "An Old Style Paper" and paper.year == 1999 and paper.categories == ["hep-th"]


def test_local_pdf_records_pdf_provenance(tmp_path: Path, settings):
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(make_pdf(PDF_TITLE))
    paper = load_source(str(pdf), settings)
    assert paper.title == PDF_TITLE
    assert paper.provenance["title"].startswith("pdf") and not paper.pdf_fields


def test_unknown_arxiv_id_is_bad_input(arxiv, settings):
    with pytest.raises(InputError, match=r"arXiv has no paper 2101\.99999"):
        load_source("2101.99999", settings)


def test_pdf_url_downloads_once_and_html_is_refused(arxiv, settings):
    arxiv.files["/files/paper.pdf"] = ("application/pdf", make_pdf(PDF_TITLE))
    arxiv.files["/files/landing"] = ("text/html; charset=utf-8", b"<!DOCTYPE html><html>landing page</html>")
    paper = load_source(f"{arxiv.base}/files/paper.pdf", settings)
    assert paper.title == PDF_TITLE and paper.source == f"{arxiv.base}/files/paper.pdf"
    load_source(f"{arxiv.base}/files/paper.pdf", settings)
    assert arxiv.paths("/files/paper.pdf") == ["/files/paper.pdf"]
    assert list((settings.cache_dir / "downloads").glob("*.pdf"))
    with pytest.raises(InputError, match="returned an HTML page, not a PDF"):
        load_source(f"{arxiv.base}/files/landing", settings)
    with pytest.raises(InputError, match="answered 404"):
        load_source(f"{arxiv.base}/files/gone.pdf", settings)


def test_unreachable_url_is_a_network_failure(settings):
    from drafter.errors import EXIT_MODEL, NetworkError
    from fakeserver import unused_port

    with pytest.raises(NetworkError, match="cannot download") as info:
        load_source(f"http://127.0.0.1:{unused_port()}/x.pdf", settings)
    assert info.value.exit_code == EXIT_MODEL


def test_arxiv_requests_are_spaced(arxiv, settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0.3")
    load_source("1706.03762", settings)
    load_source("hep-th/9901001", settings)
    times = [t for t, _ in arxiv.requests]
    assert len(times) == 4  # two feeds, two PDFs
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.25, gaps  # the server saw each request at least the delay after the previous


def test_delay_setting(monkeypatch: pytest.MonkeyPatch):
    assert sources.arxiv_delay() == 3.0
    monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0.5")
    assert sources.arxiv_delay() == 0.5
    monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0")
    assert sources.arxiv_delay() == 0.0


def test_parse_feed_skips_error_entries():
    xml = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
      <entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_x</id><title>Error</title></entry>
      <entry><id>http://arxiv.org/abs/1512.03385v1</id><published>2015-12-10T19:51:55Z</published>
        <title>Deep Residual Learning for
          Image Recognition</title><summary> Deeper nets. </summary>
        <author><name>Kaiming He</name></author><author><name>Xiangyu Zhang</name></author>
        <link title="pdf" href="http://arxiv.org/pdf/1512.03385v1" rel="related" type="application/pdf"/>
        <category term="cs.CV"/></entry></feed>"""
    (meta,) = parse_feed(xml)
    assert meta.title == "Deep Residual Learning for Image Recognition"
    assert meta.authors == ["Kaiming He", "Xiangyu Zhang"] and meta.version == "v1"
    assert meta.pdf_url == "http://arxiv.org/pdf/1512.03385v1" and meta.categories == ["cs.CV"]
    with pytest.raises(InputError, match="not an Atom feed"):
        parse_feed(b"<html><body>down")


def test_cli_new_with_arxiv_id(arxiv, fake_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DRAFTER_BASE_URL", fake_server.url)
    monkeypatch.setenv("DRAFTER_MODEL", "fake-model")
    out = tmp_path / "draft.md"
    result = CliRunner().invoke(app, ["new", "1706.03762", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert f'paper_title: "{FEED_TITLE}"' in text
    assert '"Ashish Vaswani", "Noam Shazeer", "Niki Parmar"' in text
    assert '"arxiv_id": "1706.03762"' in text or 'arxiv_id: "1706.03762"' in text
    assert len(fake_server.completions()) > 0
    assert FEED_TITLE in fake_server.requests[0].content
    # redo finds the paper again through its recorded source (arXiv:<id>), from the download cache.
    arxiv_requests = len(arxiv.requests) if hasattr(arxiv, "requests") else None
    before = len(fake_server.requests)
    redo = CliRunner().invoke(app, ["redo", str(out), "problem", "--hint", "shorter"])
    assert redo.exit_code == 0, redo.output
    assert len(fake_server.requests) == before + 1
    if arxiv_requests is not None:
        assert len(arxiv.requests) == arxiv_requests


def test_cli_inspect_arxiv_and_unknown_id(arxiv):
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", "arXiv:1706.03762v7", "--json"])
    assert result.exit_code == 0, result.output
    assert FEED_TITLE in result.stdout
    bad = runner.invoke(app, ["inspect", "2101.99999"])
    assert bad.exit_code == 2
    assert "arXiv has no paper 2101.99999" in bad.output
