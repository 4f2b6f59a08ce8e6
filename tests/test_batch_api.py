"""`batch --batch-api`: the same drafts as online through the Batch API, resumable, idempotent, and its errors."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drafter.assemble import parse_draft
from drafter.batch import read_list, run_batch
from drafter.batch_api import STATE_NAME, jsonl_files, load_state, run_batch_api
from drafter.cli import app
from drafter.config import load_settings
from drafter.errors import InputError, ModelError
from drafter.plan import LLM_SECTIONS
from fakearxiv import make_pdf
from fakebatchapi import FakeBatchAPI

N = len(LLM_SECTIONS)
TITLES = ["Sparse Lanterns in Deep Forests", "A Theory of Small Boats"]


@pytest.fixture
def papers(tmp_path: Path, sample_pdf: Path) -> Path:
    """A folder of 3 papers: the example PDF and two synthetic ones."""
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(sample_pdf.read_bytes())
    for i, title in enumerate(TITLES):
        (folder / f"p{i}.pdf").write_bytes(make_pdf(title, seed=title.lower()))
    return folder


@pytest.fixture
def fake() -> Iterator[FakeBatchAPI]:
    with FakeBatchAPI() as server:
        yield server
    assert not server.errors, server.errors


def _settings(tmp_path: Path, url: str, cache: str = "cache", **flags):
    flags.setdefault("enrich", False)  # these tests are about the Batch API; test_enrich.py covers the lookups
    return load_settings({"base_url": url, "model": "fake-model", "cache_dir": tmp_path / cache, "retries": 0,
                          **flags}, env={}, file=tmp_path / "none.toml")


def _api(folder: Path, settings, out: Path, **kwargs):
    lines: list[str] = []
    kwargs.setdefault("poll", 0.01)
    result = asyncio.run(run_batch_api(read_list(str(folder)), settings, out, progress=lines.append, workers=0,
                                       **kwargs))
    return result, lines


def _drafts(out: Path) -> dict[str, str]:
    """Each draft's text with the date line (the day it was drafted) and the endpoint (each run's fake server
    has its own port) taken out."""
    return {p.name: re.sub(r'(?m)^(date|base_url): ".*"$', r"\1: -", p.read_text(encoding="utf-8"))
            for p in sorted(out.glob("*.md"))}


def _jsonl(out: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((out / ".drafter-batch").glob("round*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines()]


def _env(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DRAFTER_BASE_URL", url)
    monkeypatch.setenv("DRAFTER_MODEL", "fake-model")
    monkeypatch.setenv("DRAFTER_RETRIES", "0")
    monkeypatch.setenv("DRAFTER_BATCH_POLL", "0.05")
    monkeypatch.setenv("DRAFTER_CACHE_DIR", str(tmp_path / "cache"))


# -- the same drafts as online ---------------------------------------------------------------------------


@pytest.mark.parametrize("chain", [False, True], ids=["plain", "chain"])
def test_same_drafts_as_online_one_batch_no_chat_call(tmp_path: Path, papers: Path, fake: FakeBatchAPI,
                                                      fake_server, chain: bool):
    online = asyncio.run(run_batch(read_list(str(papers)), _settings(tmp_path, fake_server.url, "c1", chain=chain),
                                   tmp_path / "online", workers=0))
    assert online.exit_code == 0
    result, lines = _api(papers, _settings(tmp_path, fake.url, "c2", chain=chain), tmp_path / "api")
    assert [r.status for r in result.batch.results] == ["done"] * 3
    expected = _drafts(tmp_path / "online")
    got = _drafts(tmp_path / "api")
    assert list(got) == list(expected) and len(got) == 3
    for name, text in got.items():
        assert text == expected[name], name
        mine, theirs = parse_draft(text, name), parse_draft(expected[name], name)
        assert {k: b.content for k, b in mine.blocks.items()} == {k: b.content for k, b in theirs.blocks.items()}
    # One request per model-written section, each the exact body the online path sent, and no chat call.
    requests = _jsonl(tmp_path / "api")
    assert len(requests) == 3 * N and len({r["custom_id"] for r in requests}) == 3 * N
    assert all(r["method"] == "POST" and r["url"] == "/v1/chat/completions" for r in requests)
    canon = sorted(json.dumps(r["body"], sort_keys=True) for r in requests)
    streaming = ("stream", "stream_options")  # the online client streams; a Batch API line never does
    online_bodies = [{k: v for k, v in r.body.items() if k not in streaming} for r in fake_server.requests]
    assert all(r.body.get("stream") is True for r in fake_server.requests)
    assert canon == sorted(json.dumps(b, sort_keys=True) for b in online_bodies)
    assert fake.chat_calls == []
    # --chain: `discussion` reads the drafted `takeaways`, so it goes in a second round; else one batch.
    assert len(fake.batches) == (2 if chain else 1)
    rounds = [len(lines) for lines in fake.inputs.values()]
    assert rounds == ([3 * (N - 1), 3] if chain else [3 * N])
    assert result.batch.requests == 3 * N and result.batch.tokens == online.tokens > 0
    assert any("submitted batch" in line for line in lines)


def test_rerun_after_completion_submits_nothing_and_calls_no_model(tmp_path: Path, papers: Path,
                                                                   fake: FakeBatchAPI):
    settings = _settings(tmp_path, fake.url)
    _api(papers, settings, tmp_path / "out")
    before = list(fake.log)
    again, _ = _api(papers, settings, tmp_path / "out")
    assert [r.status for r in again.batch.results] == ["skipped"] * 3
    assert len(fake.batches) == 1 and not again.created and fake.chat_calls == []
    assert [entry for entry in fake.log[len(before):]] == []  # not even a status check


def test_answers_land_in_the_response_cache(tmp_path: Path, papers: Path, fake: FakeBatchAPI, fake_server):
    """After a Batch API run, the online path with the same cache answers every section from it."""
    _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    settings = _settings(tmp_path, fake.url)  # the same endpoint, so the same cache keys
    online = asyncio.run(run_batch(read_list(str(papers)), settings, tmp_path / "online", workers=0))
    assert online.exit_code == 0 and online.requests == 0
    assert sum(r.cache_hits for r in online.results) == 3 * N and fake.chat_calls == []


# -- resuming -----------------------------------------------------------------------------------------


def test_no_wait_then_the_same_command_collects(tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "home-config"
    (config / "drafter").mkdir(parents=True)
    (config / "drafter" / "config.toml").write_text('[prices."fake-model"]\ninput = 1.0\noutput = 2.0\n',
                                                    encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    with FakeBatchAPI(steps=2) as fake:
        _env(monkeypatch, fake.url, tmp_path)
        out = tmp_path / "out"
        first = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "--no-wait", "-o", str(out)])
        assert first.exit_code == 0, first.output
        assert first.stdout.split() == [b["id"] for b in fake.created()]
        assert "--batch-api" in first.stderr and not list(out.glob("*.md"))
        assert load_state(out).batches[0].status == "validating"
        second = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "-o", str(out)])
        assert second.exit_code == 0, second.output
        assert len(list(out.glob("*.md"))) == 3 and len(fake.batches) == 1 and fake.chat_calls == []
        assert "3 done" in second.stderr and "Batch API answers" in second.stderr
        tokens = re.search(r"([\d,]+) prompt \+ ([\d,]+) completion tokens \(\$([\d.]+)\)", second.stderr)
        assert tokens is not None
        prompt, completion = (int(tokens.group(i).replace(",", "")) for i in (1, 2))
        assert float(tokens.group(3)) == pytest.approx((prompt * 1.0 + completion * 2.0) / 1e6 * 0.5, abs=1e-4)


def test_resume_after_the_process_is_killed_mid_wait(tmp_path: Path, papers: Path):
    with FakeBatchAPI(hold=True) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))}
        env.update(DRAFTER_BASE_URL=fake.url, DRAFTER_MODEL="fake-model", DRAFTER_RETRIES="0",
                   DRAFTER_BATCH_POLL="0.05", DRAFTER_CACHE_DIR=str(tmp_path / "cache"))
        out = tmp_path / "out"
        proc = subprocess.Popen([sys.executable, "-m", "drafter", "batch", str(papers), "--batch-api", "-o",
                                 str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                if fake.batches and max(fake.retrieves.values()) >= 3:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert len(fake.batches) == 1 and not list(out.glob("*.md"))
        fake.release()
        result, _ = _api(papers, _settings(tmp_path, fake.url), out)
        assert [r.status for r in result.batch.results] == ["done"] * 3
        assert len(fake.batches) == 1 and fake.chat_calls == []


# -- failures -------------------------------------------------------------------------------------------


def test_error_and_expired_lines_are_retried_once_in_a_follow_up_batch(tmp_path: Path, papers: Path,
                                                                       fake: FakeBatchAPI):
    fake.fail_lines("small-boats/problem", status=500)
    fake.expire_lines("deep-forests/math")
    result, _ = _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    assert [r.status for r in result.batch.results] == ["done"] * 3
    assert [len(lines) for lines in fake.inputs.values()] == [3 * N, 2]
    retried = sorted(line["custom_id"].split("/")[1] for line in list(fake.inputs.values())[1])
    assert retried == ["math", "problem"]


def test_a_request_failing_twice_fails_its_paper_like_online(tmp_path: Path, papers: Path, fake: FakeBatchAPI):
    fake.fail_lines("small-boats/problem", times=2, status=500)
    fake.expire_lines("deep-forests/tags", times=2)
    result, _ = _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    rows = {Path(r.entry.source).name: r for r in result.batch.results}
    assert rows["a.pdf"].status == "done"
    assert rows["p1.pdf"].status == "failed" and "failed for section problem (500)" in (rows["p1.pdf"].error or "")
    assert rows["p0.pdf"].status == "failed" and "24h window" in (rows["p0.pdf"].error or "")
    assert result.batch.exit_code == 1 and len(fake.batches) == 2
    assert sorted(p.name for p in (tmp_path / "out").glob("*.md")) == [
        "gated-residual-mixing-cheap-long-range-context-for-small-sequence-models.md"]


def test_a_failed_batch_shows_the_reasons_and_keeps_the_state(tmp_path: Path, papers: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    with FakeBatchAPI(fail_batch=True) as fake:
        with pytest.raises(ModelError, match="failed at the provider: model_not_found: The provided model"):
            _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
        assert (tmp_path / "out" / STATE_NAME).is_file()
        _env(monkeypatch, fake.url, tmp_path)
        again = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "-o", str(tmp_path / "out")])
        assert again.exit_code == 1 and len(fake.batches) == 1  # the same failure, nothing submitted again
        assert "model_not_found" in again.stderr and STATE_NAME in again.stderr
        assert len(again.stderr.strip().splitlines()) == 2  # the banner and one error line


def test_cancel_cancels_what_is_in_flight(tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeBatchAPI(hold=True) as fake:
        _env(monkeypatch, fake.url, tmp_path)
        out = str(tmp_path / "out")
        submitted = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "--no-wait", "-o", out])
        assert submitted.exit_code == 0, submitted.output
        cancelled = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "--cancel", "-o", out])
        assert cancelled.exit_code == 0, cancelled.output
        assert [b["status"] for b in fake.created()] == ["cancelling"]
        assert "cancelling batch" in cancelled.stderr
        nothing = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "--cancel", "-o", out])
        assert "no batch in flight" in nothing.stderr and fake.created()[0]["status"] == "cancelled"


def test_no_batch_api_at_the_endpoint_is_one_line(tmp_path: Path, papers: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeBatchAPI(no_batch_api=True) as fake:
        _env(monkeypatch, fake.url, tmp_path)
        result = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "has no Batch API (404 on /files)" in error[0] and "without --batch-api" in error[0]
    assert fake.chat_calls == []


def test_batch_api_options_need_batch_api_and_a_model(tmp_path: Path, papers: Path):
    result = CliRunner().invoke(app, ["batch", str(papers), "--no-wait"])
    assert result.exit_code == 2 and "go with --batch-api" in result.stderr
    offline = CliRunner().invoke(app, ["batch", str(papers), "--batch-api", "--offline"])
    assert offline.exit_code == 2 and "needs a model endpoint" in offline.stderr


def test_bad_entries_are_reported_as_online(tmp_path: Path, papers: Path, fake: FakeBatchAPI):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{papers / 'a.pdf'}\n{tmp_path / 'missing.pdf'}\n", encoding="utf-8")
    result = asyncio.run(run_batch_api(read_list(str(listing)), _settings(tmp_path, fake.url), tmp_path / "out",
                                       poll=0.01, workers=0))
    assert [r.status for r in result.batch.results] == ["done", "failed"]
    assert "no such file" in (result.batch.results[1].error or "") and result.batch.exit_code == 2
    assert len(fake.inputs[next(iter(fake.inputs))]) == N


@pytest.mark.parametrize(("sizes", "max_requests", "max_bytes", "files"), [
    ([10] * 5, 2, 1000, [2, 2, 1]),
    ([10] * 5, 100, 25, [2, 2, 1]),
    ([10] * 3, 100, 5, [1, 1, 1]),  # a line over the byte limit still goes, alone
    ([], 10, 10, []),
])
def test_jsonl_files_stay_under_the_limits(sizes, max_requests, max_bytes, files):
    lines = ["x" * (n - 1) for n in sizes]
    made = jsonl_files(lines, max_requests, max_bytes)
    assert [f.count(b"\n") for f in made] == files
    assert b"".join(made) == "".join(line + "\n" for line in lines).encode()


def test_entries_labels_name_papers_in_the_state(tmp_path: Path, papers: Path, fake: FakeBatchAPI):
    _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    state = load_state(tmp_path / "out")
    requests = state.batches[0].requests
    assert {r["paper"] for r in requests.values()} == {str(p) for p in sorted(papers.glob("*.pdf"))}
    assert {r["section"] for r in requests.values()} == set(LLM_SECTIONS)
    assert all(cid.split("/")[1] == r["section"] for cid, r in requests.items())


def test_a_context_length_error_shrinks_the_paper_like_online(tmp_path: Path, papers: Path, fake: FakeBatchAPI):
    """The online path shrinks the paper context once on a context-length error; so does the batch path, with
    the shrunk request in the next round, and the draft notes the cut in that section as online does."""
    from fakeserver import OPENAI_CONTEXT_MESSAGE

    slug = "gated-residual-mixing-cheap-long-range-context-for-small-sequence-models"
    cid = f"{slug[:60]}/math/"  # custom ids carry the first 60 characters of the slug
    fake.fail_lines(cid, status=400, message=OPENAI_CONTEXT_MESSAGE, code="context_length_exceeded")
    result, _ = _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    assert [r.status for r in result.batch.results] == ["done"] * 3
    first, second = fake.inputs.values()
    assert len(second) == 1 and second[0]["custom_id"].startswith(cid)
    before = next(line for line in first if line["custom_id"].startswith(cid))
    size = [len(json.dumps(line["body"]["messages"])) for line in (before, second[0])]
    assert size[1] < size[0]
    draft = parse_draft((tmp_path / "out" / f"{slug}.md").read_text(encoding="utf-8"), "d")
    assert "context shortened to fit the budget" in draft.blocks["math"].content


def test_a_run_stopped_between_upload_and_create_adopts_the_batch(tmp_path: Path, papers: Path,
                                                                   fake: FakeBatchAPI,
                                                                   monkeypatch: pytest.MonkeyPatch):
    """The upload is recorded first; if the process dies right after creating the batch (before recording
    it), the next run finds that batch by its input file instead of creating a second one."""
    import drafter.batch_api as batch_api

    real = batch_api.Provider.create

    async def create_then_die(self, file_id, round_number):
        await real(self, file_id, round_number)
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_api.Provider, "create", create_then_die)
    with pytest.raises(KeyboardInterrupt):
        _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    assert [b.status for b in load_state(tmp_path / "out").batches] == ["uploaded"]
    monkeypatch.setattr(batch_api.Provider, "create", real)
    result, _ = _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    assert [r.status for r in result.batch.results] == ["done"] * 3
    assert len(fake.batches) == 1 and len(fake.files) == 2  # the one input file and its output


def test_batches_in_flight_elsewhere_are_not_collected_from_another_endpoint(tmp_path: Path, papers: Path):
    with FakeBatchAPI(hold=True) as first, FakeBatchAPI() as second:
        _api(papers, _settings(tmp_path, first.url), tmp_path / "out", wait_for_results=False)
        with pytest.raises(InputError, match=f"were submitted to {first.url}") as caught:
            _api(papers, _settings(tmp_path, second.url), tmp_path / "out")
        assert f"--base-url {first.url}" in caught.value.one_line()
        assert not second.batches


def test_requests_over_the_file_limit_go_in_several_batches(tmp_path: Path, papers: Path, fake: FakeBatchAPI,
                                                            monkeypatch: pytest.MonkeyPatch):
    import drafter.batch_api as batch_api

    monkeypatch.setattr(batch_api, "MAX_REQUESTS", 10)
    result, _ = _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    assert [r.status for r in result.batch.results] == ["done"] * 3
    assert [len(lines) for lines in fake.inputs.values()] == [10, 10, 10, 3]
    assert len(result.created) == 4 and {b.round for b in result.created} == {1}


def test_a_damaged_state_file_is_one_line(tmp_path: Path):
    (tmp_path / STATE_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a drafter Batch API state file"):
        load_state(tmp_path)


def test_batch_discount_setting(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("batch_discount = 0.25\n", encoding="utf-8")
    assert load_settings({"offline": True}, env={}, file=config).batch_discount == 0.25
    assert load_settings({"offline": True}, env={}, file=tmp_path / "none.toml").batch_discount == 0.5
    config.write_text("batch_discount = 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="batch_discount must be above 0 and at most 1"):
        load_settings({"offline": True}, env={}, file=config)


def test_a_reasoning_model_rejecting_parameters_is_learned_as_online(tmp_path: Path, papers: Path):
    """Lines rejected for max_tokens/temperature switch the endpoint profile (as online: not a failure) and go
    again in a follow-up batch with the body the profile builds; the next run starts with it."""
    with FakeBatchAPI(rejects=("max_tokens", "temperature")) as fake:
        settings = _settings(tmp_path, fake.url)
        result, _ = _api(papers, settings, tmp_path / "out")
        assert [r.status for r in result.batch.results] == ["done"] * 3
        first, second = fake.inputs.values()
        assert len(first) == len(second) == 3 * N
        assert all("max_tokens" in line["body"] and "temperature" in line["body"] for line in first)
        assert all("max_completion_tokens" in line["body"] and "temperature" not in line["body"]
                   for line in second)
        (tmp_path / "more").mkdir()
        (tmp_path / "more" / "new.pdf").write_bytes(make_pdf("Brand New Paper", seed="brand new"))
        _api(tmp_path / "more", settings, tmp_path / "out")
        third = list(fake.inputs.values())[2]
        assert len(fake.batches) == 3 and all("max_completion_tokens" in line["body"] for line in third)


def test_an_answer_that_spent_its_budget_goes_again_with_more_room(tmp_path: Path, papers: Path,
                                                                   fake: FakeBatchAPI):
    """As online: no visible text within the token limit (hidden reasoning) -> once more with more headroom;
    twice -> the paper fails with the online path's advice."""
    fake.spend_lines("small-boats/math")
    fake.spend_lines("deep-forests/tags", times=2)
    result, _ = _api(papers, _settings(tmp_path, fake.url), tmp_path / "out")
    rows = {Path(r.entry.source).name: r for r in result.batch.results}
    assert rows["a.pdf"].status == rows["p1.pdf"].status == "done"
    assert rows["p0.pdf"].status == "failed" and "--max-tokens" in (rows["p0.pdf"].error or "")
    first, second = fake.inputs.values()
    limits = {line["custom_id"].split("/")[1]: line["body"]["max_tokens"] for line in second}
    before = {line["custom_id"].split("/")[1]: line["body"]["max_tokens"] for line in first
              if line["custom_id"].startswith(("a-theory-of-small-boats/", "sparse-lanterns"))}
    assert set(limits) == {"math", "tags"} and all(limits[s] > before[s] for s in limits)


def test_requests_that_keep_changing_stop_after_max_rounds(tmp_path: Path, papers: Path, fake: FakeBatchAPI,
                                                           monkeypatch: pytest.MonkeyPatch):
    import drafter.batch_api as batch_api

    monkeypatch.setattr(batch_api, "MAX_ROUNDS", 1)  # --chain needs a second round
    with pytest.raises(ModelError, match="kept changing between passes"):
        _api(papers, _settings(tmp_path, fake.url, chain=True), tmp_path / "out")
    assert len(fake.batches) == 1 and (tmp_path / "out" / STATE_NAME).is_file()


def test_lookups_made_at_submission_stay_valid_while_the_batch_runs(tmp_path: Path, fake: FakeBatchAPI,
                                                                    monkeypatch: pytest.MonkeyPatch):
    """The LaTeX equations looked up two days ago (a batch may take a day) still go into the math prompt."""
    from drafter.arxiv_source import _cache_path, eprint_url
    from fakearxiv import FakeArxiv

    arxiv_id = "2401.00001"
    settings = _settings(tmp_path, fake.url, enrich=True)
    cached = _cache_path(settings.cache_dir, eprint_url(arxiv_id))  # the e-print server is a closed port
    cached.parent.mkdir(parents=True)
    cached.write_text(json.dumps({"time": time.time() - 2 * 24 * 3600, "sections": ["Method"], "equations": [
        {"latex": "E = m c^{2} + \\mathrm{cached}", "env": "equation", "label": "eq:1", "section": "Method"}]}),
        encoding="utf-8")
    monkeypatch.setenv("DRAFTER_ARXIV_DELAY", "0")
    with FakeArxiv() as server:
        server.add(arxiv_id, "Gated Widgets", ["Ada Lovelace"], pdf=make_pdf("Gated Widgets", seed="gw"))
        monkeypatch.setenv("DRAFTER_ARXIV_API", server.api_url)
        (tmp_path / "list.txt").write_text(f"{arxiv_id}\n", encoding="utf-8")
        result, _ = _api(tmp_path / "list.txt", settings, tmp_path / "out")
    assert result.batch.exit_code == 0
    [math] = [line for line in _jsonl(tmp_path / "out") if line["custom_id"].split("-")[-2:-1] == ["math"]
              or "Section id: math" in line["body"]["messages"][-1]["content"]]
    assert "E = m c^{2} + \\mathrm{cached}" in math["body"]["messages"][1]["content"]


def test_figures_are_exported_once_in_the_pass_that_writes_the_draft(tmp_path: Path, papers: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    import drafter.pipeline as pipeline

    exported: list[Path] = []
    real = pipeline.export_figures

    def spy(pdf, figures, out_dir, *args, **kwargs):
        exported.append(out_dir)
        return real(pdf, figures, out_dir, *args, **kwargs)

    monkeypatch.setattr(pipeline, "export_figures", spy)
    with FakeBatchAPI(hold=True) as fake:
        settings = _settings(tmp_path, fake.url)
        _api(papers, settings, tmp_path / "out", wait_for_results=False)
        assert exported == []  # every paper waits for its answers: nothing to export yet
        fake.release()
        result, _ = _api(papers, settings, tmp_path / "out")
    assert [r.status for r in result.batch.results] == ["done"] * 3, [r.error for r in result.batch.results]
    assert sorted(p.name for p in exported) == sorted(f"{p.stem}-figures" for p in (tmp_path / "out").glob("*.md"))
    exported.clear()
    _api(papers, settings, tmp_path / "none", figures=False)
    assert exported == []
