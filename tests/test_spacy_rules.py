"""The `spacy_rules` word splitter against spaCy itself (`spacy.blank(lang)`, datatrove's
splitter): the same number of words with the same lengths, on real text of every profiled
language, and on the special cases that make spaCy's tokenizer more than regexes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dataprep import spacy_rules
from dataprep import text as textutil
from dataprep.stages.base import TextBatch


def same_words(fast: pa.ListArray, reference: pa.ListArray) -> np.ndarray:
    """Per document: equal word count and equal length of every word."""
    fast_lengths = [textutil.char_lengths(pc.list_flatten(fast[i:i + 1])).tolist() for i in range(len(fast))]
    reference_lengths = [textutil.char_lengths(pc.list_flatten(reference[i:i + 1])).tolist() for i in range(len(reference))]
    return np.array([a == b for a, b in zip(fast_lengths, reference_lengths)])


def agreement(text: pa.Array, lang: str, batch_rows: int = 512) -> tuple[float, list[str]]:
    """Share of documents whose words agree, and a few of the first differences (for the message)."""
    agree, examples = 0, []
    for offset in range(0, len(text), batch_rows):
        chunk = text.slice(offset, batch_rows)
        fast, reference = spacy_rules.split_words(chunk, lang), spacy_rules.reference_words(chunk, lang)
        same = same_words(fast, reference)
        agree += int(same.sum())
        for i in np.flatnonzero(~same)[:3]:
            a, b = fast[int(i)].as_py(), reference[int(i)].as_py()
            k = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            examples.append(f"ours {a[max(0, k - 2):k + 3]} spaCy {b[max(0, k - 2):k + 3]}")
    return agree / len(text), examples[:5]


@pytest.fixture(scope="module")
def real_text() -> pa.Table:
    """Every document of the five shared/data files (samples/ when they are absent), with the
    language our `language` stage tags it with."""
    from conftest import SAMPLES, SHARED_DATA

    from dataprep.stages.language import Language

    paths = sorted(SHARED_DATA.glob("*.parquet")) or sorted(SAMPLES.glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(p, columns=["text"]).cast(pa.schema([("text", pa.large_string())])) for p in paths])
    tags = [Language().measure(TextBatch(table.slice(o, 512)))["language"] for o in range(0, table.num_rows, 512)]
    return table.append_column("language", pa.array(np.concatenate(tags).tolist(), pa.string()))


def test_every_document_split_as_spacy_splits_english(real_text):
    """The filters' default: English rules on every document, whatever its language."""
    share, examples = agreement(real_text["text"].combine_chunks(), "en")
    assert share >= 0.999, (share, examples)


@pytest.mark.parametrize("lang", [code for code in spacy_rules.LANGUAGES if code != "en"])
def test_documents_of_each_language_split_as_spacy_splits_them(real_text, lang):
    text = real_text.filter(pc.equal(real_text["language"], lang))["text"].combine_chunks()
    if len(text) < 10:
        pytest.skip(f"fewer than 10 documents tagged {lang}")
    share, examples = agreement(text, lang)
    assert share >= 0.999, (lang, len(text), share, examples)


@pytest.mark.parametrize("lang, text", [
    ("en", "I can't say \"we're (U.S.) fine\": e.g. it's 5km, 10.5% or $3... Washington University-St. Louis :) ''yes''"),
    ("en", "don't DON'T Mr. Smith's e-mail: a.b@example.com, see https://example.com/a-b?x=1 (c) 1-2 A. B.C. x.Y"),
    ("de", "Die Kfz.-Steuer z.B. u. a. ca. 5 Mio. € (inkl. MwSt.) ist's, „Mitglieder“-Rabatte und Wander- u. Radtouren."),
    ("fr", "L'homme d'aujourd'hui, peut-être ; c.-à-d. « oui » !"),
    ("es", "EE. UU. y la Sra. García (p. ej.) dijo: ¡hola!"),
    ("ru", "и др. т.е. в т.ч. д-р мед. наук Иванов, «Ромашка»…"),
    ("en", ""),
])
def test_special_cases_and_affixes(lang, text):
    """Contractions, abbreviations, emoticons, URLs, affix runs that spell a special case, and
    special cases of several words (spaCy matches those across spaces)."""
    fast = spacy_rules.split_words(pa.array([text, text.upper()], pa.large_string()), lang).to_pylist()
    reference = spacy_rules.reference_words(pa.array([text, text.upper()], pa.large_string()), lang).to_pylist()
    assert fast == reference


def test_nulls_and_whitespace_only_documents_have_no_words():
    words = spacy_rules.split_words(pa.array([None, " \n\t\u00a0", "a"], pa.large_string()), "en")
    assert words.to_pylist() == [[], [], ["a"]]


def test_a_long_run_of_unseen_words_does_not_grow_spacys_memory():
    """Chunks the fast path leaves to spaCy (URLs, numbers with units) keep coming in a long run;
    spaCy would keep every new string in its vocabulary and cache for the life of the worker.
    The memo of our own is bounded, and spaCy's string store stays as it was."""
    def batch(n: int) -> pa.Array:  # unseen words of shapes spaCy splits: a URL, a number and unit
        return pa.array([f"see https://site{n}-{i}.example.org/page?id={i} at {n}{i}km/h now" for i in range(2000)], pa.large_string())

    spacy_rules.split_words(batch(0), "en")
    strings = spacy_rules.rules("en").tokenizer.vocab.strings
    before = len(strings)
    words = spacy_rules.split_words(batch(1), "en")
    assert len(strings) == before
    assert words[0].as_py() == spacy_rules.reference_words(batch(1).slice(0, 1), "en")[0].as_py()


def test_a_full_memo_starts_again_without_losing_the_batchs_known_chunks(monkeypatch):
    """When the memo of chunks spaCy split is full it is emptied; a batch holding chunks it knew
    and new ones still gets spaCy's words for all of them."""
    monkeypatch.setattr(spacy_rules, "MEMO_SIZE", 3)
    spacy_rules.rules("en").memo.clear()  # a cache: the other tests fill it again as they need
    first = pa.array(["don't stop at 5km/h'1 now"], pa.large_string())
    later = pa.array(["don't go to http://a.example.org/x or 7km/h'2 or 8km/h'3 yet"], pa.large_string())
    spacy_rules.split_words(first, "en")
    for text in (later, first):
        assert spacy_rules.split_words(text, "en").to_pylist() == spacy_rules.reference_words(text, "en").to_pylist()
