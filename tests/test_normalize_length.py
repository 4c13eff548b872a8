"""`normalize` and `length` on real text, called directly on Arrow batches (no Ray needed)."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

from dataprep.stages.base import TextBatch
from dataprep.stages.length import Length
from dataprep.stages.normalize import Normalize


def batch_of(texts: list[str]) -> TextBatch:
    return TextBatch(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string())}))


def test_mojibake_in_samples_is_repaired(sample_docs):
    broken = sample_docs.filter(pc.match_substring(sample_docs["source"], "mis-decoded"))
    # the stored text is UTF-8 read as cp1252: undoing that gives the ground truth
    truths = [t.encode("sloppy-windows-1252").decode("utf-8") for t in broken["text"].to_pylist()]
    damaged = [before != truth for before, truth in zip(broken["text"].to_pylist(), truths)]
    assert sum(damaged) == 12
    out = Normalize().apply(TextBatch(broken.select(["id", "text"])))
    expected = Normalize(fix_mojibake=False).apply(batch_of(truths)).batch.text.to_pylist()
    assert out.batch.text.to_pylist() == expected
    tags = out.batch.table["normalize_fixes"].to_pylist()
    assert [("mojibake" in t) for t in tags] == damaged


def test_clean_text_is_left_alone(sample_docs):
    clean = sample_docs.filter(pc.equal(sample_docs["source"], "fortune")).slice(0, 200)
    out = Normalize().apply(TextBatch(clean.select(["id", "text"])))
    fixes = out.batch.table["normalize_fixes"].to_pylist()
    assert not any("mojibake" in f for f in fixes), "ftfy must not 'repair' correct text"


def test_nfc_control_and_whitespace_on_real_text(real_docs):
    text = next(t for t in real_docs["text"].to_pylist() if "é" in t or "ü" in t)[:3000]
    decomposed = unicodedata.normalize("NFD", text)
    damaged = decomposed.replace("\n", "\r\n", 3).replace(" ", "\x00 ", 2).replace(" ", "\u00a0\t  ", 1) + "\x07"
    out = Normalize().apply(batch_of([damaged]))
    result = out.batch.text[0].as_py()
    assert unicodedata.is_normalized("NFC", result)
    assert "\x00" not in result and "\x07" not in result and "\r" not in result and "\t" not in result
    assert "  " not in result and "\n\n\n" not in result
    assert set(out.batch.table["normalize_fixes"][0].as_py()) >= {"nfc", "control", "whitespace"}
    # the words survive: only their encoding and the spacing changed
    assert result.split() == unicodedata.normalize("NFC", text.replace("\x00", "")).split()


def test_normalize_removes_terminal_escape_sequences_whole():
    logs = ["\x1b[1;31mERROR\x1b[0m: disk full on /dev/sda1", "build \x1b]0;make: done\x07finished \x1b[32mOK\x1b[m",
            "a quoted [31m is text, not a colour code"]
    out = Normalize().apply(batch_of(logs)).batch.text.to_pylist()
    assert out == ["ERROR: disk full on /dev/sda1", "build finished OK", logs[2]]


def test_normalize_empties_whitespace_only_docs():
    out = Normalize().apply(batch_of(["Guten Tag, wie geht es Ihnen?", " \u00a0\t\r\n\x0b "]))
    assert out.reasons.tolist() == [None, "normalize.emptied"]


def test_length_bounds_just_above_and_below(web_docs):
    words = web_docs["text"][5].as_py().split()
    assert len(words) > 60
    texts = [" ".join(words[:n]) for n in (49, 50, 51)]
    decisions = Length(min_words=50, max_words=50).apply(batch_of(texts))
    assert decisions.reasons.tolist() == ["length.too_few_words", None, "length.too_many_words"]
    assert decisions.details[0] == {"chars": len(texts[0]), "words": 49}
    chars = [len(t) for t in texts]
    decisions = Length(min_chars=chars[1], max_chars=chars[1], min_words=None).apply(batch_of(texts))
    assert decisions.reasons.tolist() == ["length.too_few_chars", None, "length.too_many_chars"]


def test_length_counts_code_points_not_bytes(sample_docs):
    chinese = next(t for t, lang in zip(sample_docs["text"].to_pylist(), sample_docs["lang_hint"].to_pylist()) if lang == "zh-cn")
    snippet = chinese[:100]
    assert len(snippet.encode()) > 100
    assert Length(min_chars=100, min_words=None).apply(batch_of([snippet])).reasons.tolist() == [None]


def test_mojibake_in_decomposed_text_is_repaired_as_in_composed_text():
    """NFD splits mojibake's "Ã" into "A" and a combining tilde, which the mojibake hint did not
    match: the NFD copy of a page kept "MÃ¤scot" while the NFC one was repaired, so they were no
    longer copies. A decomposed page without mojibake gets only its NFC fix."""
    damaged = "Die MÃ¤scot im HauptmenÃ¼ ist schÃ¶n."
    texts = [damaged, unicodedata.normalize("NFD", damaged), unicodedata.normalize("NFD", "Café crème, à la carte.")]
    out = Normalize().apply(TextBatch(pa.table({"id": ["a", "b", "c"], "text": pa.array(texts, pa.large_string())}))).batch
    assert out.text.to_pylist() == ["Die Mäscot im Hauptmenü ist schön."] * 2 + ["Café crème, à la carte."]
    assert out.table["normalize_fixes"].to_pylist()[2] == ["nfc"]


def test_utf8_read_in_another_code_page_is_repaired_not_cut():
    """A dash's UTF-8 bytes read as Windows-1257 ("ā" and two C1 controls) matched no hint, and
    stripping the controls left "airāhere's" (hellogiggles.com, trafilatura's test pages); a C1
    control, which no text writes, sends the document to ftfy too. A NEL stays a line break."""
    texts = ["It was in the air\u0101\x80\x94here's what happened next.", "First line\u0085second line"]
    out = Normalize().apply(TextBatch(pa.table({"id": ["a", "b"], "text": pa.array(texts, pa.large_string())}))).batch
    assert out.text.to_pylist() == ["It was in the air\u2014here's what happened next.", "First line\nsecond line"]
