"""Property-based tests (text normalisation, markers, slugs, the fence) and a seeded fuzz of the PDF front end."""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drafter import text as textmod
from drafter.assemble import SectionText, content_hash, parse_draft, replace_section, wrap
from drafter.drafts import output_path as _output_path
from drafter.errors import DrafterError, DraftFormatError
from drafter.extract import load_paper
from drafter.files import MAX_SLUG, slugify
from drafter.plan import LLM_SECTIONS
from drafter.prompts import fence

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import faults as bench

FUZZ = settings(max_examples=100, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])



def tokens(items: list[str], max_size: int) -> st.SearchStrategy[str]:
    """Strings made of these (possibly multi-character) pieces."""
    return st.lists(st.sampled_from(items), max_size=max_size).map("".join)


# Text that looks like extracted PDF text: letters, ligatures, TeX accents, hyphens, line breaks, marks.
PDFISH = tokens(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ éüçıß0123456789.,;:()-\n\t ") + list(textmod.LIGATURES)
    + ["\u00b4", "`", "\u00a8", "^", "~", "\u02c6", "\u00b8", "\u02db", "\u00ad", "\u2010", "\u2217", "\u2020",
       "\u00b9", "\u00a0", "\u2009", "-\n", "ﬁ", "\u0301"], 200)
ANY_TEXT = st.text(max_size=300)


# -- text normalisation ------------------------------------------------------------------------------------


@FUZZ
@given(PDFISH)
def test_ligatures_are_always_expanded(text: str) -> None:
    out = textmod.expand_ligatures(text)
    assert not set(out) & set(textmod.LIGATURES)
    assert textmod.expand_ligatures(out) == out


@FUZZ
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=200))
def test_plain_ascii_has_no_ligatures_to_expand(text: str) -> None:
    assert textmod.expand_ligatures(text) == text


@FUZZ
@given(PDFISH)
def test_accent_restoring_yields_nfc_and_never_adds_letters(text: str) -> None:
    out = textmod.restore_accents(text)
    assert unicodedata.is_normalized("NFC", out)
    letters = lambda s: "".join(c for c in unicodedata.normalize("NFD", s) if c.isalpha())  # noqa: E731
    assert len(letters(out)) <= len(letters(text).replace("\u0131", "i").replace("\u0237", "j")) + text.count(
        "\u0131") + text.count("\u0237")


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("abcdefghij KLMNOP.,;\n")), max_size=200))
def test_text_without_accent_marks_is_left_alone(text: str) -> None:
    assert textmod.restore_accents(text) == text


@FUZZ
@given(PDFISH)
def test_hyphenation_joining_only_removes_hyphens_and_line_breaks(text: str) -> None:
    out = textmod.join_hyphenation(text)
    strip = lambda s: re.sub(r"[-\u00ad\u2010\s]", "", s)  # noqa: E731
    assert strip(out) == strip(text)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("abcdefg XYZ-.\n")), max_size=200))
def test_hyphenation_without_a_line_end_hyphen_is_a_no_op(text: str) -> None:
    text = text.replace("-\n", "- \n")
    assert textmod.join_hyphenation(text) == text


@FUZZ
@given(PDFISH)
def test_footnote_marks_are_all_stripped(text: str) -> None:
    out = textmod.strip_footnote_marks(text)
    assert not set(out) & set(textmod.FOOTNOTE_MARKS)


@FUZZ
@given(PDFISH)
def test_space_collapsing_is_tidy_and_idempotent(text: str) -> None:
    out = textmod.collapse_spaces(text)
    assert "\n\n\n" not in out
    assert all(line == line.strip() for line in out.splitlines())
    assert "  " not in out
    assert textmod.collapse_spaces(out) == out


@FUZZ
@given(PDFISH)
def test_normalize_text_never_fails_and_is_tidy(text: str) -> None:
    out = textmod.normalize_text(text)
    assert not set(out) & set(textmod.LIGATURES)
    assert unicodedata.is_normalized("NFC", out)
    assert "\n\n\n" not in out and out == out.strip()


@FUZZ
@given(ANY_TEXT)
def test_fold_name_is_idempotent_and_case_free(name: str) -> None:
    folded = textmod.fold_name(name)
    assert textmod.fold_name(folded) == folded
    assert folded == folded.lower() or not folded.isascii()
    assert not any(unicodedata.combining(c) for c in folded)


# -- slugs and output paths ----------------------------------------------------------------------------------


@FUZZ
@given(ANY_TEXT)
def test_slugify_is_always_a_safe_file_name(title: str) -> None:
    slug = slugify(title)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
    assert 1 <= len(slug) <= MAX_SLUG


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("./\\\x00~$:- abcXYZ\u202e")), max_size=400))
def test_output_path_from_any_title_stays_in_the_folder(tmp_path_factory: pytest.TempPathFactory,
                                                        title: str) -> None:
    folder = Path("/tmp/drafter-out")
    path = _output_path(f"{folder}/", title)
    assert path is not None and path.parent == folder and path.suffix == ".md"
    assert ".." not in path.name


# -- the <paper> fence -----------------------------------------------------------------------------------------


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("<>/ paperPAPER\n\t-x")), max_size=200))
def test_fenced_text_can_never_open_or_close_the_fence(text: str) -> None:
    assert not re.search(r"<\s*/?\s*paper\s*>", fence(text), re.I)


# -- section markers ---------------------------------------------------------------------------------------------

SECTION_TEXT = st.one_of(ANY_TEXT, tokens(
    ["<!-- ", "drafter:", "begin ", "end ", "id=summary", " -->", "\n", "x", "hash=abc", "#", "```", "\r"], 30))
MODEL = st.text(alphabet=st.sampled_from(list("abc-_.: /\t>")), min_size=1, max_size=20)


def _draft(texts: dict[str, str], filler: list[str], model: str) -> str:
    parts = ["---\ntitle: \"t\"\n---\n"]
    for (section_id, text), between in zip(texts.items(), filler, strict=False):
        parts.append(between.replace("<!--", "<!- -"))
        parts.append(wrap(SectionText(section_id, text, "llm", model, 12)))
    return "\n".join(parts) + "\n"


@FUZZ
@given(st.lists(SECTION_TEXT, min_size=3, max_size=3), st.lists(ANY_TEXT, min_size=3, max_size=3), MODEL)
def test_wrapped_sections_parse_back_unedited(texts: list[str], filler: list[str], model: str) -> None:
    ids = list(LLM_SECTIONS[:3])
    draft = _draft(dict(zip(ids, texts, strict=True)), filler, model)
    parsed = parse_draft(draft)
    assert list(parsed.blocks) == ids
    for section_id in ids:
        block = parsed.blocks[section_id]
        assert not block.edited, (section_id, block.content)
        assert block.attrs["hash"] == content_hash(block.content)


@FUZZ
@given(st.lists(SECTION_TEXT, min_size=3, max_size=3), st.lists(ANY_TEXT, min_size=3, max_size=3), SECTION_TEXT)
def test_replacing_one_section_keeps_every_other_byte(texts: list[str], filler: list[str], new: str) -> None:
    ids = list(LLM_SECTIONS[:3])
    draft = _draft(dict(zip(ids, texts, strict=True)), filler, "m")
    parsed = parse_draft(draft)
    target = parsed.blocks[ids[1]]
    replaced = replace_section(parsed, SectionText(ids[1], new, "llm", "m2"))
    assert replaced[: target.start] == draft[: target.start]
    assert replaced.endswith(draft[target.end:])
    again = parse_draft(replaced)
    assert list(again.blocks) == ids
    for section_id in (ids[0], ids[2]):
        assert again.blocks[section_id].content == parsed.blocks[section_id].content
    assert not again.blocks[ids[1]].edited


@FUZZ
@given(tokens(["<!-- drafter:begin ", "<!-- drafter:end ", "id=summary ", "id=tags ", "hash=1 ", "-->", " -->", "\n",
               "text "], 40))
def test_parse_draft_fails_only_with_draft_format_errors(text: str) -> None:
    try:
        parse_draft(text)
    except DraftFormatError as exc:
        assert exc.one_line().count("\n") == 0


# -- PDF front end fuzz ----------------------------------------------------------------------------------------


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    n = len(data)
    if kind == 0:  # flip a few bytes
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == 1:  # truncate
        return data[: rng.randrange(n)]
    if kind == 2:  # delete a slice
        at = rng.randrange(n)
        return data[:at] + data[at + rng.randint(1, 400):]
    if kind == 3:  # duplicate a slice
        at = rng.randrange(n)
        return data[:at] + data[at: at + rng.randint(1, 400)] + data[at:]
    if kind == 4:  # change numbers (object ids, lengths, offsets, coordinates)
        numbers = list(re.finditer(rb"\d+", data))
        buf = data
        for m in rng.sample(numbers, min(len(numbers), rng.randint(1, 5))):
            repl = rng.choice([b"0", b"-1", b"999999999", b"3.5e308", b"1"])
            buf = buf[: m.start()] + repl + buf[m.end():] if len(buf) == len(data) else buf
        return buf
    # change a name or keyword
    names = list(re.finditer(rb"/[A-Za-z]+|\b(?:obj|endobj|stream|endstream|BT|ET|Tf|Tj|TJ|Td|cm)\b", data))
    m = rng.choice(names)
    return data[: m.start()] + rng.choice([b"/Xx", b"/FlateDecode", b"/Type", b"[", b"<<", b"(", b""]) + \
        data[m.end():]


def _fuzz(sources: list[Path], count: int, seed: int, tmp_path: Path) -> tuple[int, list[str]]:
    """Exactly `count` mutants (a fixed number, not as many as a deadline allows: the same cases on any machine)."""
    rng = random.Random(seed)
    escaped: list[str] = []
    done = 0
    while done < count:
        source = sources[done % len(sources)]
        mutated = _mutate(source.read_bytes(), rng)
        target = tmp_path / f"m{done}.pdf"
        target.write_bytes(mutated)
        try:
            load_paper(target, None)
        except DrafterError as exc:
            assert "\n" not in exc.one_line()
        except Exception as exc:  # noqa: BLE001 - the property under test: nothing else may escape
            what = f"{type(exc).__name__}: {exc}"
            escaped.append(f"case {done} from {source.name} (seed {seed}): {what}"[:300])
        target.unlink()
        done += 1
    return done, escaped


def test_fuzzed_pdfs_raise_only_drafter_errors(sample_pdf: Path, tmp_path: Path) -> None:
    sources = [sample_pdf, bench.text_pdf(tmp_path / "plain.pdf", compress=False, pages=3)]
    done, escaped = _fuzz(sources, count=40, seed=6, tmp_path=tmp_path)
    assert done == 40
    assert escaped == [], "\n".join(escaped)


def test_fuzzed_real_papers_raise_only_drafter_errors(shared_papers: Path, tmp_path: Path) -> None:
    sources = sorted(shared_papers.glob("*.pdf"))[:2]
    done, escaped = _fuzz(sources, count=3, seed=7, tmp_path=tmp_path)
    assert done == 3
    assert escaped == [], "\n".join(escaped)


def test_an_unknown_stream_filter_is_a_drafter_error_or_a_skipped_page(sample_pdf: Path, tmp_path: Path) -> None:
    pdf = bench.bad_page_pdf(tmp_path / "bad.pdf", sample_pdf, filter_name="/FlateDecode85Decode")
    try:
        paper = load_paper(pdf, None)
    except DrafterError:
        return
    assert any("page 2" in w for w in paper.warnings)
