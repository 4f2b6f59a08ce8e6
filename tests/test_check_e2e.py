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


FAITHFUL = {
    "summary": "Small models on phones and in browsers forget anything outside a window of a few hundred tokens. "
               "Gated Residual Mixing (GRM) gives them one summary vector per chunk of the past and a learned gate "
               "that decides when to use it, for fewer than 2% extra parameters on a 40M-parameter Transformer. "
               "On key retrieval at distances up to 16k tokens, accuracy jumps from 9.5% to 71.0%.\n\n"
               "**Quick Summary**: GRM adds a cheap, causal, gated long-range memory to small sequence models.",
    "difficulty": "**Difficulty**: ⭐⭐ (2/5) - one equation per step and about 50 lines of PyTorch",
    "problem": "Short attention windows make small models blind to a user's earlier request or a variable defined "
               "at the top of a file. Sparse attention [6] still pays for every token it looks at, and recurrent "
               "memories such as Transformer-XL [4] store many vectors per segment and roughly double the cost of "
               "each layer. As the authors put it, \"Neither option is available when a model has to run on a "
               "phone, inside a browser, or under a strict latency budget.\"",
    "solution": "Think of a note-taker who writes one line per page and a reader who glances at the notes only "
                "when they help. GRM averages each chunk of L = 128 tokens into one vector, keeps a decaying "
                "average of those vectors (channels with λ > 0.99 remember for over a hundred chunks), and mixes "
                "it into each token through a gate that starts closed (g_t ≈ 1).",
    "innovations": "### Core Innovation #1: Chunk summaries and a decaying memory\nEquation (2) updates the "
                   "memory once per chunk, so its cost is O((T / L) d^2); with d = 512 the whole method adds "
                   "0.8M parameters.\n\n```python\n# simplified\nm = lam * m + (1 - lam) * W_c(c_prev)\n```\n\n"
                   "### Core Innovation #2: Gated mixing\nA per-token, per-channel gate (Eq. 3) mixes memory and "
                   "residual stream as a convex combination (Eq. 4). With a fixed gate of 0.5 most of the "
                   "retrieval gain is lost (18.5% vs 71.0%).",
    "math": "$$\nc_k = \\frac{1}{L} \\sum_{t : k(t) = k} x_t\n$$\n\n$$\nm_k = \\lambda \\odot m_{k-1} + "
            "(1 - \\lambda) \\odot W_c c_{k-1}, \\quad m_0 = 0\n$$\n\n$$\nh_t = g_t \\odot x_t + (1 - g_t) \\odot "
            "m_{k(t)}, \\qquad g_t = \\sigma\\left(W_g [x_t ; m_{k(t)}] + b_g\\right)\n$$\n\nHere $\\lambda "
            "\\in (0, 1)$ is a per-channel decay and $b_g$ starts large so the layer begins as the identity.",
    "takeaways": "### For Practitioners\n- **Cheap context**: a 1k-window model with GRM gets close to a "
                 "4k-window one (23.2 vs 22.9 perplexity on WikiText-103) at 30.4k vs 11.6k tokens/s.\n"
                 "- **Initialise the gate closed**: without it the first epochs were unstable.\n"
                 "- **Chunk length is forgiving**: 64 to 512 changed perplexity by less than 0.3 points.\n\n"
                 "### For Researchers\n- **One vector is a bottleneck**: with five planted keys accuracy drops "
                 "to 40 percent.\n- **Scale**: only models up to 40M parameters were tested.",
    "impact": "### What This Paper Changed\nIt showed that gating matters more than memory size.\n\n"
              "### Papers That Built On This\n- *Gated Memory Transformers* (2025) - 12 memory slots, 1.3B "
              "parameters (verify)",
    "further-reading": "- *Transformer-XL: Attentive language models beyond a fixed-length context* (Dai, 2019) - "
                       "the segment-level memory GRM compresses.\n- *Highway networks* (Srivastava, 2015) - the "
                       "gated convex combination GRM borrows.",
    "discussion": "1. Would one vector per chunk still be enough at 1B parameters?\n2. Why share W_c and W_g "
                  "across every second layer rather than learn one pair per layer?\n3. Could learned chunk "
                  "boundaries replace the fixed L = 128?",
    "tags": "**Tags**: #MachineLearning #DeepLearning #LongContext #GatedMemory #Transformers #NLP",
}


def test_realistic_faithful_answers_check_clean(fake_server_factory, sample_pdf: Path, tmp_path: Path) -> None:
    def reply(body: dict[str, Any]) -> str:
        section = re.search(r"Section id: ([a-z-]+)", body["messages"][-1]["content"])
        return FAITHFUL[section.group(1)] if section else ""

    server = fake_server_factory(reply=reply)
    draft = tmp_path / "post.md"
    run = cli("new", sample_pdf, "-o", draft, *model_flags(server.url))
    assert run.code == 0, run.stderr
    assert "check:" not in run.stderr and CALLOUT not in draft.read_text(encoding="utf-8")
    run = cli("check", draft)
    assert (run.code, run.stdout) == (0, ""), run.stdout
