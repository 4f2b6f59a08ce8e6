"""The fact check end to end: model answers with an invented number, a misquote, broken LaTeX and a copied prompt
slot are flagged in the draft, by `status` and by `check`; once the author deals with them, `check` is clean."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cliutil import cli, model_flags
from drafter.check import CALLOUT
from fakeserver import default_reply

INVENTED = "After 37 days of training GRM hits 91.7% retrieval accuracy."
TRUE = "GRM reaches 1.115 bpc on enwik8 with L = 128 and runs 2.6 times faster than the 4k-window model."
MISQUOTE = 'The authors put it bluntly: "GRM makes every small model as good as a large one on long documents."'
QUOTE = ('The authors write: "Channels with λ close to one retain information for many chunks, while channels with '
         'small λ track only the recent past."')
BROKEN_MATH = ("$$\n\\frac{1}{L} \\sum_{t : k(t) = k} x_t\n$$\n\n"
               "$$\nm_k = \\lambda m_{k-1} + (1 - \\lambda) W_c c_{k-1\n$$")
ANSWERS = {
    "problem": f"{TRUE}\n\n{INVENTED}\n\n{MISQUOTE}\n\n{QUOTE}",
    "math": f"{BROKEN_MATH}\n\nHere $\\lambda$ is a per-channel decay in (0, 1).",
    "takeaways": "### For Practitioners\n- **<premise 1>**: <how it applies to real work>\n\n### For Researchers\n"
                 "- **Memory slots**: future work includes multiple memory slots.",
}


def _reply(body: dict[str, Any]) -> str:
    section = re.search(r"Section id: ([a-z-]+)", body["messages"][-1]["content"])
    return ANSWERS.get(section.group(1) if section else "", "") or default_reply(body)


def test_findings_are_flagged_at_drafting_time_in_status_and_by_check(fake_server_factory, sample_pdf: Path,
                                                                      tmp_path: Path) -> None:
    server = fake_server_factory(reply=_reply)
    draft = tmp_path / "post.md"
    run = cli("new", sample_pdf, "-o", draft, *model_flags(server.url))
    assert run.code == 0, run.stderr
    assert "check: 8 things to verify against the paper" in run.stderr
    text = draft.read_text(encoding="utf-8")

    # In the draft: every answer is kept as the model wrote it, a callout follows the sections with findings.
    assert INVENTED in text and MISQUOTE in text and TRUE in text and "<premise 1>" in text
    callouts = [line for line in text.splitlines() if line.startswith(CALLOUT)]
    assert callouts == [
        f'{CALLOUT} "37 days" and "91.7%" do not appear in the paper; the quote "GRM makes every small model as '
        'good as a large one on long…" is not the paper\'s words.',
        # the fake model gave no innovation names, so clean-up put the template's slots in
        f"{CALLOUT} `[Main Technical Contribution]` and `[Second Key Contribution]` are slots still to fill in.",
        f"{CALLOUT} `$$ m_k = \\lambda m_{{k-1}} + (1 - \\lambda) W_c c_{{k-1 $$` does not parse (unbalanced "
        "braces).",
        f"{CALLOUT} `<premise 1>` and `<how it applies to real work>` are slots still to fill in.",
    ]
    assert re.search(r"<!-- drafter:begin id=problem source=llm .*checks=3 ", text)

    # In status: a column, and a field in --json.
    rows = {row["id"]: row for row in json.loads(cli("status", draft, "--json").stdout)}
    assert {sid: row["checks"] for sid, row in rows.items() if row["checks"]} == {
        "problem": 3, "innovations": 2, "math": 1, "takeaways": 2}
    assert rows["problem"]["state"] == "generated"
    table = cli("status", draft).stdout
    assert "checks" in table.splitlines()[0]

    # By check, with lines in the draft file.
    run = cli("check", draft, "--json")
    assert run.code == 1
    found = [(f["section"], f["kind"], f["text"]) for f in json.loads(run.stdout)]
    assert found == [("problem", "number", "37 days"), ("problem", "number", "91.7%"),
                     ("problem", "quote", MISQUOTE[MISQUOTE.index('"'):]),
                     ("innovations", "placeholder", "[Main Technical Contribution]"),
                     ("innovations", "placeholder", "[Second Key Contribution]"),
                     ("math", "math", BROKEN_MATH[BROKEN_MATH.index("$$\nm_k"):]),
                     ("takeaways", "placeholder", "<premise 1>"),
                     ("takeaways", "placeholder", "<how it applies to real work>")]
    lines = text.splitlines()
    assert all(str(f["text"]).splitlines()[0] in lines[f["line"] - 1] for f in json.loads(run.stdout))

    # The author deletes the invented sentence (and its callout): that finding is gone, the rest remain.
    edited = text.replace(f"\n\n{INVENTED}", "")
    edited = "\n".join(line for line in edited.splitlines() if not line.startswith(CALLOUT)) + "\n"
    draft.write_text(edited, encoding="utf-8")
    run = cli("check", draft)
    assert run.code == 1
    assert "91.7%" not in run.stdout and "37 days" not in run.stdout and "quote" in run.stdout
    assert f'{draft}:{edited.splitlines().index(MISQUOTE) + 1}: problem: the quote "GRM makes' in run.stdout

    # ... and deals with the rest: nothing is left, exit 0.
    edited = edited.replace(f"\n\n{MISQUOTE}", "").replace("c_{k-1\n", "c_{k-1}\n")
    edited = edited.replace("**<premise 1>**: <how it applies to real work>", "**Gate first**: the gate matters")
    edited = edited.replace("[Main Technical Contribution]", "Decaying memory").replace(
        "[Second Key Contribution]", "Gated mixing")
    draft.write_text(edited, encoding="utf-8")
    run = cli("check", draft)
    assert (run.code, run.stdout) == (0, ""), run.stdout
    assert rows["summary"]["checks"] == 0


def test_redo_checks_the_new_answer_and_replaces_the_old_callout(fake_server_factory, sample_pdf: Path,
                                                                tmp_path: Path) -> None:
    answers = dict(ANSWERS)
    server = fake_server_factory(reply=lambda body: _reply(body) if "problem" not in answers else
                                 (answers["problem"] if "Section id: problem" in body["messages"][-1]["content"]
                                  else _reply(body)))
    draft = tmp_path / "post.md"
    assert cli("new", sample_pdf, "-o", draft, *model_flags(server.url)).code == 0
    answers["problem"] = f"{TRUE} It needs 57 GPUs."
    run = cli("redo", draft, "problem", "--no-cache", *model_flags(server.url))
    assert run.code == 0, run.stderr
    assert "check: 1 thing to verify" in run.stderr
    text = draft.read_text(encoding="utf-8")
    assert f'{CALLOUT} "57 GPUs" does not appear in the paper.' in text
    assert INVENTED not in text and "91.7%" not in text
    assert re.search(r"<!-- drafter:begin id=problem source=llm .*checks=1 ", text)


def test_batch_reports_the_total_and_each_draft_carries_its_callouts(fake_server_factory, sample_pdf: Path,
                                                                     tmp_path: Path) -> None:
    server = fake_server_factory(reply=_reply)
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "grm.pdf").write_bytes(sample_pdf.read_bytes())
    run = cli("batch", papers, "--out", tmp_path / "drafts", *model_flags(server.url))
    assert run.code == 0, run.stderr
    assert "check: 8 things to verify against the paper in the drafts" in run.stderr
    (draft,) = (tmp_path / "drafts").glob("*.md")
    assert cli("check", draft).code == 1
    assert sum(row["checks"] for row in json.loads(cli("status", draft, "--json").stdout)) == 8
