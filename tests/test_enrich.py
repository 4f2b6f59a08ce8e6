"""Enrichment from Semantic Scholar (against tests/fakes2.py): lookups, retries, failures, and the data in drafts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cliutil import cli, model_flags
from drafter import annotate, enrich
from drafter import s2 as s2_client
from drafter.annotate import annotate_section
from drafter.config import load_settings
from drafter.enrich import EnrichJob
from drafter.matching import find_doi, rank_citing, reference_link, same_title
from drafter.paper import CitingPaper, Enrichment, Paper, Section
from drafter.s2 import S2Client
from fakearxiv import FakeArxiv, make_eprint_tex, make_pdf
from fakes2 import FakeS2
from fakeserver import FakeOpenAI

TITLE = "Attention Is All You Need"
ARXIV_ID = "1706.03762"
CITING = [("BERT: Pre-training of Deep Bidirectional Transformers", 2019, 90000),
          ("Language Models are Few-Shot Learners", 2020, 30000),
          ("A Small Workshop Note", 2021, 3),
          ("An Image is Worth 16x16 Words", 2021, 40000),
          ("Longformer: The Long-Document Transformer", 2020, 4000),
          ("Exploring the Limits of Transfer Learning", 2020, 15000),
          ("A Paper Nobody Counted", 2022, None)]
RANKED = ["BERT: Pre-training of Deep Bidirectional Transformers", "An Image is Worth 16x16 Words",
          "Language Models are Few-Shot Learners", "Exploring the Limits of Transfer Learning",
          "Longformer: The Long-Document Transformer"]


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enrichment on, no spacing between requests, short backoff (the real values are 1 s and 1 s)."""
    monkeypatch.setenv("DRAFTER_ENRICH", "1")
    monkeypatch.setenv("DRAFTER_S2_DELAY", "0")
    monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0")
    monkeypatch.setattr(s2_client, "RETRY_WAIT", 0.01)


@pytest.fixture
def s2(monkeypatch: pytest.MonkeyPatch):
    with FakeS2() as server:
        pid = server.add_paper(TITLE, arxiv=ARXIV_ID, citation_count=123456, influential=9000)
        server.add_citations(pid, CITING, ids={CITING[0][0]: {"ArXiv": "1810.04805"},
                                               CITING[3][0]: {"DOI": "10.48550/arXiv.2010.11929"}})
        server.add_references(pid, [("Neural Machine Translation by Jointly Learning to Align and Translate",
                                     {"ArXiv": "1409.0473"}),
                                    ("Long Short-Term Memory", {"DOI": "10.1162/neco.1997.9.8.1735"})])
        monkeypatch.setenv("DRAFTER_S2_API", server.url)
        yield server


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch):
    with FakeArxiv() as server:
        server.add(ARXIV_ID, TITLE, ["Ashish Vaswani", "Noam Shazeer"], version="v7",
                   pdf=make_pdf("Gated Widgets for Fast Parsing", seed="attention"))
        server.eprints[ARXIV_ID] = make_eprint_tex("\\documentclass{article}\\begin{document}\\[ E = mc^2 \\]"
                                                   "\\end{document}")
        monkeypatch.setenv("DRAFTER_ARXIV_API", server.api_url)
        monkeypatch.setenv("DRAFTER_ARXIV_EPRINT", f"{server.base}/e-print")
        yield server


def _settings(tmp_path: Path, **flags):
    return load_settings({"offline": True, "cache_dir": tmp_path / "cache", **flags}, file=tmp_path / "none.toml")


def _paper(**fields) -> Paper:
    return Paper(**{"title": TITLE, "sections": [Section("Introduction", 1, 1, "Text.")], **fields})


# -- pure functions ----------------------------------------------------------------------------------


def test_citing_papers_are_ranked_by_citations_highest_first() -> None:
    rows = [{"title": t, "year": y, "citationCount": c, "externalIds": {}, "url": f"https://s2/{i}"}
            for i, (t, y, c) in enumerate(CITING)]
    ranked = rank_citing(rows)
    assert [c.title for c in ranked] == RANKED
    assert [c.citations for c in ranked] == [90000, 40000, 30000, 15000, 4000]
    assert rank_citing([{"title": "", "citationCount": 5}]) == []


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Attention Is All You Need", "attention is all you need.", True),
    ("Attention Is All You Need", "Attention is all you need: a study", True),
    ("Attention Is All You Need", "Attention Is Not All You Need", False),
    ("BERT", "BERT: Pre-training of Deep Bidirectional Transformers", False),
    ("", "", False),
])
def test_same_title(a: str, b: str, same: bool) -> None:
    assert same_title(a, b) is same


def test_doi_comes_from_the_papers_front_matter_never_its_references() -> None:
    paper = _paper(abstract="We study things.", references=["X. Y. A paper. doi:10.1000/ref.1"],
                   sections=[Section("Introduction", 1, 1, "Published in Journal. DOI: 10.1145/3442188.3445922.")])
    assert find_doi(paper) == "10.1145/3442188.3445922"
    assert find_doi(_paper(urls=["https://doi.org/10.5555/abc%2F1"])) == "10.5555/abc/1"
    assert find_doi(_paper(references=["doi:10.1000/ref.1"])) is None


@pytest.mark.parametrize(("reference", "link"), [
    ("A. Author. Title. arXiv preprint arXiv:1409.0473, 2014.", "https://arxiv.org/abs/1409.0473"),
    ("A. Author. Title. https://arxiv.org/abs/2005.14165v4", "https://arxiv.org/abs/2005.14165"),
    ("A. Author. Title. Neural Comp. doi:10.1162/neco.1997.9.8.1735.", "https://doi.org/10.1162/neco.1997.9.8.1735"),
    ("A. Author. Title. In NeurIPS, 2017.", ""),
])
def test_reference_links_from_the_reference_text(reference: str, link: str) -> None:
    assert reference_link(reference) == link


# -- the client against the stand-in ------------------------------------------------------------------


def test_lookup_by_arxiv_id_fills_count_and_most_cited_citing_papers(s2: FakeS2, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s2_client, "PAGE", 3)  # the stand-in pages like the real API: 7 citations in 3 pages
    paper = _paper(arxiv_id=ARXIV_ID)
    job = EnrichJob(_settings(tmp_path), equations=False)
    job.finish(paper)
    assert job.warning() is None
    e = paper.enrichment
    assert e is not None and e.citation_count == 123456 and e.influential_citations == 9000
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", e.as_of)
    assert [c.title for c in e.cited_by] == RANKED
    assert e.cited_by[0].url == "https://arxiv.org/abs/1810.04805"
    assert e.cited_by[1].url == "https://doi.org/10.48550/arXiv.2010.11929"
    assert e.cited_by[2].url.startswith("https://www.semanticscholar.org/paper/")
    assert e.cited_by_scanned == len(CITING)
    citation_pages = [q for p, q, _ in s2.requests if p.endswith("/citations")]
    assert [q["offset"] for q in citation_pages] == ["0", "3", "6"]
    assert s2.requests[0][0] == f"/graph/v1/paper/ARXIV:{ARXIV_ID}"
    for _, query, _ in s2.requests:  # only the fields drafter needs, on every call
        assert query["fields"] in (s2_client.PAPER_FIELDS, s2_client.CITING_FIELDS, s2_client.REFERENCE_FIELDS)


def test_answers_are_cached_for_a_day(s2: FakeS2, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    EnrichJob(settings, equations=False).finish(_paper(arxiv_id=ARXIV_ID))
    asked = len(s2.requests)
    again = _paper(arxiv_id=ARXIV_ID)
    EnrichJob(settings, equations=False).finish(again)
    assert len(s2.requests) == asked and again.enrichment and again.enrichment.citation_count == 123456
    a_day_later = settings.with_overrides(lookup_age=-1)
    EnrichJob(a_day_later, equations=False).finish(_paper(arxiv_id=ARXIV_ID))
    assert len(s2.requests) == 2 * asked


def test_rate_limit_is_waited_out_as_retry_after_says(s2: FakeS2, tmp_path: Path) -> None:
    s2.fail_first, s2.retry_after = 2, "0.3"
    client = S2Client(tmp_path)
    _, record = client.paper(f"ARXIV:{ARXIV_ID}")
    assert record is not None and record["citationCount"] == 123456
    assert client.requests == 3
    assert len(s2.requests) == 3


def test_a_long_retry_after_is_not_waited_for(s2: FakeS2, tmp_path: Path) -> None:
    s2.fail_first, s2.retry_after = 1, "3600"
    job = EnrichJob(_settings(tmp_path), equations=False)
    paper = _paper(arxiv_id=ARXIV_ID)
    job.finish(paper)
    assert paper.enrichment is not None and paper.enrichment.citation_count is None
    assert "rate limited for 3600s" in (job.warning() or "")
    assert len(s2.requests) == 1


def test_key_is_sent_as_header_and_kept_out_of_the_cache(s2: FakeS2, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2_API_KEY", "s2-secret-key")
    EnrichJob(_settings(tmp_path), equations=False).finish(_paper(arxiv_id=ARXIV_ID))
    assert {key for _, _, key in s2.requests} == {"s2-secret-key"}
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert b"s2-secret-key" not in path.read_bytes()


def test_server_errors_cost_one_warning(s2: FakeS2, tmp_path: Path) -> None:
    s2.always_500 = True
    job = EnrichJob(_settings(tmp_path), equations=False)
    paper = _paper(arxiv_id=ARXIV_ID)
    job.finish(paper)
    assert paper.enrichment is not None and paper.enrichment.citation_count is None
    assert paper.enrichment.cited_by == []
    assert "Semantic Scholar: server error 500" in (job.warning() or "")
    assert len(s2.requests) == s2_client.ATTEMPTS
    assert not list((tmp_path / "cache").rglob("s2-*.json"))  # failures are not cached


def test_title_lookup_accepts_only_the_same_title(s2: FakeS2, tmp_path: Path) -> None:
    found = _paper(title="Attention is all you need")
    EnrichJob(_settings(tmp_path), equations=False).finish(found)
    assert found.enrichment and found.enrichment.citation_count == 123456
    assert any(p.endswith("/search/match") for p in s2.paths())
    miss = _paper(title="Attention Is Not What You Need For Parsing")  # shares words: S2 answers another paper
    job = EnrichJob(_settings(tmp_path), equations=False)
    job.finish(miss)
    assert miss.enrichment is not None and miss.enrichment.citation_count is None
    assert "does not know this paper" in (job.warning() or "")


def test_doi_is_tried_when_there_is_no_arxiv_id(s2: FakeS2, tmp_path: Path) -> None:
    pid = s2.add_paper("On the Dangers of Stochastic Parrots", doi="10.1145/3442188.3445922", citation_count=4000)
    s2.add_citations(pid, [("A Follow-up", 2022, 12)])
    paper = _paper(title="Some Title The PDF Got Wrong", urls=["https://doi.org/10.1145/3442188.3445922"])
    EnrichJob(_settings(tmp_path), equations=False).finish(paper)
    assert paper.enrichment and paper.enrichment.citation_count == 4000
    assert "/graph/v1/paper/DOI:10.1145/3442188.3445922" in s2.paths()


def test_unanswered_lookups_are_given_up_at_the_deadline(s2: FakeS2, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    s2.latency = 1.0
    monkeypatch.setenv("DRAFTER_ENRICH_TIMEOUT", "0.2")
    job = EnrichJob(_settings(tmp_path), equations=False)
    paper = _paper(arxiv_id=ARXIV_ID)
    job.finish(paper)
    assert "did not answer within" in (job.warning() or "")


# -- the CLI -----------------------------------------------------------------------------------------


def _impact_request(server: FakeOpenAI) -> str:
    for request in server.requests:
        if "Section id: impact" in request.messages[-1]["content"]:
            return request.messages[-1]["content"]
    raise AssertionError("no impact request")


def test_new_from_arxiv_fills_citations_and_lists_citing_papers(s2: FakeS2, arxiv: FakeArxiv,
                                                                fake_server: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "post.md"
    run = cli("new", f"arXiv:{ARXIV_ID}", "-o", out, *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    text = out.read_text(encoding="utf-8")
    assert re.search(r"\*\*Citations\*\*: 123,456 \(Semantic Scholar, \d{4}-\d\d-\d\d\)", text)
    impact = text.split("drafter:begin id=impact")[1].split("drafter:end id=impact")[0]
    assert "Fake draft for impact." in impact  # the model's text stays, the data comes after it
    assert "from Semantic Scholar" in impact and "not written by the model" in impact
    listed = re.findall(r"^- \[(.+?)\]\((\S+)\) \((\d{4})\) - ([\d,]+) citations$", impact, re.M)
    assert [t for t, *_ in listed] == RANKED
    assert listed[0][1] == "https://arxiv.org/abs/1810.04805"
    prompt = _impact_request(fake_server)
    for title in RANKED:
        assert title in prompt
    assert "A Small Workshop Note" not in prompt
    assert "warning" not in run.stderr


def test_new_with_semantic_scholar_failing_still_writes_the_draft(s2: FakeS2, arxiv: FakeArxiv,
                                                                 fake_server: FakeOpenAI, tmp_path: Path) -> None:
    s2.always_500 = True
    out = tmp_path / "post.md"
    run = cli("new", ARXIV_ID, "-o", out, *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and "Semantic Scholar" in warnings[0] and "500" in warnings[0]
    text = out.read_text(encoding="utf-8")
    assert "**Citations**: [Number if known]" in text
    assert "Fake draft for impact." in text


def test_no_enrich_makes_no_requests(s2: FakeS2, arxiv: FakeArxiv, fake_server: FakeOpenAI,
                                     tmp_path: Path) -> None:
    run = cli("new", ARXIV_ID, "-o", tmp_path / "post.md", "--no-enrich", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    assert s2.requests == []
    assert arxiv.paths("/e-print") == []
    run = cli("inspect", ARXIV_ID, "--json", "--no-enrich")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert (data["citation_count"], data["cited_by"], data["equations"]) == (None, [], [])
    assert s2.requests == [] and arxiv.paths("/e-print") == []


def test_offline_drafts_look_nothing_up_unless_asked(s2: FakeS2, sample_pdf: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAFTER_ENRICH")
    run = cli("new", sample_pdf, "-o", tmp_path / "a.md", "--offline")
    assert run.code == 0, run.stderr
    assert s2.requests == []
    monkeypatch.setenv("DRAFTER_ENRICH", "1")
    run = cli("new", sample_pdf, "-o", tmp_path / "b.md", "--offline")
    assert run.code == 0, run.stderr
    assert s2.requests  # asked for: looked up by title


def test_prompt_and_dry_run_show_cached_looked_up_data_as_sent_and_look_nothing_up(
        s2: FakeS2, arxiv: FakeArxiv, fake_server: FakeOpenAI, tmp_path: Path) -> None:
    run = cli("new", ARXIV_ID, "-o", tmp_path / "post.md", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    sent = {section: next(r.messages for r in fake_server.requests
                          if f"Section id: {section}" in r.messages[-1]["content"]) for section in ("math", "impact")}
    lookups = (len(s2.requests), len(arxiv.paths("/e-print")))
    for section in ("math", "impact"):
        run = cli("prompt", ARXIV_ID, section, "--json")
        assert run.code == 0, run.stderr
        assert json.loads(run.stdout)["messages"] == sent[section]
    assert "E = mc^2" in sent["math"][-2]["content"] + sent["math"][-1]["content"]
    run = cli("new", ARXIV_ID, "--dry-run", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    assert RANKED[0] in run.stdout and "from the cache" in run.stderr
    assert (len(s2.requests), len(arxiv.paths("/e-print"))) == lookups  # answered from the cache only


def test_a_dry_run_with_nothing_cached_looks_nothing_up(s2: FakeS2, arxiv: FakeArxiv, fake_server: FakeOpenAI) -> None:
    run = cli("new", ARXIV_ID, "--dry-run", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    assert s2.requests == [] and arxiv.paths("/e-print") == []
    assert "looks nothing up" in run.stderr and RANKED[0] not in run.stdout


def test_inspect_json_carries_the_looked_up_data(s2: FakeS2, arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAFTER_ENRICH")  # inspect looks things up by default
    run = cli("inspect", ARXIV_ID, "--json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["citation_count"] == 123456
    assert [c["title"] for c in data["cited_by"]] == RANKED
    assert set(data["cited_by"][0]) == {"title", "year", "citations", "url"}
    assert data["cited_by"][0]["citations"] == 90000 and data["cited_by"][0]["year"] == 2019
    assert data["equations"] == ["E = mc^2"]


def test_enrich_setting_from_config_file_env_and_mode(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("enrich = false\n", encoding="utf-8")
    assert load_settings({"base_url": "http://x:1/v1", "model": "m"}, env={}, file=cfg).enrich_on is False
    none = tmp_path / "none.toml"
    assert load_settings({"base_url": "http://x:1/v1", "model": "m"}, env={}, file=none).enrich_on is True
    assert load_settings({"offline": True}, env={}, file=none).enrich_on is False
    assert load_settings({"offline": True}, env={"DRAFTER_ENRICH": "1"}, file=none).enrich_on is True


def test_a_refused_connection_fails_at_once(tmp_path: Path) -> None:
    # conftest points DRAFTER_S2_API at a closed local port
    job = EnrichJob(_settings(tmp_path), equations=False)
    paper = _paper(arxiv_id=ARXIV_ID)
    job.finish(paper)
    assert "cannot connect" in (job.warning() or "")
    assert job.client.requests == 1


def test_further_reading_entries_get_links_from_s2_or_the_reference_text() -> None:
    paper = _paper(references=["D. Bahdanau et al. Neural machine translation by jointly learning to align and "
                               "translate. In ICLR, 2015.",
                               "S. Hochreiter. Long short-term memory. Neural Computation, 1997.",
                               "K. He. Deep residual learning for image recognition. arXiv:1512.03385, 2015.",
                               "A. Nobody. An unlinked workshop paper on parsing. 2016."])
    paper.enrichment = Enrichment(reference_links={
        "neural machine translation by jointly learning to align and translate": "https://arxiv.org/abs/1409.0473",
        "long short term memory": "https://doi.org/10.1162/neco.1997.9.8.1735"})
    EnrichJob.add_reference_text_links(paper.enrichment, paper)
    text = ("- *Neural Machine Translation by Jointly Learning to Align and Translate* (Bahdanau, 2015) - attention\n"
            "- *Deep Residual Learning for Image Recognition* (He, 2015) - residuals\n"
            "- *An Unlinked Workshop Paper on Parsing* (Nobody, 2016) - why not\n"
            "- *Long Short-Term Memory* (Hochreiter, 1997) - [already linked](https://example.org)\n")
    lines = annotate_section("further-reading", text, paper).splitlines()
    assert lines[0] == ("- *Neural Machine Translation by Jointly Learning to Align and Translate* "
                        "([arXiv:1409.0473](https://arxiv.org/abs/1409.0473)) (Bahdanau, 2015) - attention")
    assert "([arXiv:1512.03385](https://arxiv.org/abs/1512.03385))" in lines[1]
    assert lines[2] == "- *An Unlinked Workshop Paper on Parsing* (Nobody, 2016) - why not"
    assert lines[3].endswith("[already linked](https://example.org)") and "doi.org" not in lines[3]
    paper.enrichment = None
    assert annotate_section("further-reading", text, paper) == text


def test_redo_impact_keeps_the_looked_up_list(s2: FakeS2, arxiv: FakeArxiv, fake_server: FakeOpenAI,
                                              tmp_path: Path) -> None:
    out = tmp_path / "post.md"
    assert cli("new", ARXIV_ID, "-o", out, *model_flags(fake_server.url)).code == 0
    asked = len(s2.requests)
    run = cli("redo", out, "impact", "--hint", "shorter", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    impact = out.read_text(encoding="utf-8").split("drafter:begin id=impact")[1]
    assert "from Semantic Scholar" in impact and RANKED[0] in impact
    assert len(s2.requests) == asked  # answered from the cache
    assert RANKED[0] in _impact_request(fake_server) and "shorter" in fake_server.requests[-1].messages[-1]["content"]


def test_sections_without_looked_up_data_do_not_wait_for_it(s2: FakeS2, arxiv: FakeArxiv,
                                                            fake_server: FakeOpenAI, tmp_path: Path) -> None:
    s2.latency = 0.4  # three requests: the lookups take well over a second
    run = cli("new", ARXIV_ID, "-o", tmp_path / "post.md", *model_flags(fake_server.url))
    assert run.code == 0, run.stderr
    done = max(s2.answered)
    started = {re.search(r"Section id: ([a-z-]+)", r.messages[-1]["content"]).group(1): r.started
               for r in fake_server.requests}
    assert started["summary"] < done and started["problem"] < done  # drafted meanwhile
    for section_id in enrich.ENRICHED_SECTIONS:
        assert started[section_id] > done  # waited for the data


def test_config_shows_whether_drafts_look_things_up(monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli("config", "--json", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    data = json.loads(run.stdout)
    assert data["enrich"] is True and data["origins"]["enrich"] == "DRAFTER_ENRICH"  # the _fast fixture's "1"
    monkeypatch.setenv("DRAFTER_ENRICH", "0")
    assert json.loads(cli("config", "--json", "--base-url", "http://127.0.0.1:9/v1", "--model", "m").stdout)[
        "enrich"] is False
    monkeypatch.delenv("DRAFTER_ENRICH")
    assert json.loads(cli("config", "--json", "--offline").stdout)["enrich"] is False  # offline: off unless asked


def test_inspect_text_output_shows_the_data(s2: FakeS2, arxiv: FakeArxiv) -> None:
    run = cli("inspect", ARXIV_ID)
    assert run.code == 0, run.stderr
    assert re.search(r"^citations: 123,456 \(Semantic Scholar, \d{4}-\d\d-\d\d\)$", run.stdout, re.M)
    cited = [line for line in run.stdout.splitlines() if line.startswith("cited by:")]
    assert len(cited) == 5 and RANKED[0] in cited[0] and "90,000 citations" in cited[0]
    assert "equations: 1 (arXiv LaTeX source)" in run.stdout


def test_links_with_parentheses_stay_inside_the_markdown_link() -> None:
    paper = _paper()
    paper.enrichment = Enrichment(as_of="2026-11-29", citation_count=10, cited_by=[
        CitingPaper("A [bracketed] title", 1999, 10, "https://doi.org/10.1002/(SICI)1097-0258")])
    block = annotate.cited_by_block(paper)
    assert "- [A (bracketed) title](https://doi.org/10.1002/%28SICI%291097-0258) (1999) - 10 citations" in block
