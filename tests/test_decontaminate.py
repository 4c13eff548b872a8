"""`dataprep index build` + `decontaminate`: 13-gram overlap with an evaluation set, on real text."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import regex

from dataprep import cli
from dataprep.errors import ConfigError
from dataprep.pipeline import build_stage
from dataprep.stages.base import TextBatch


@pytest.fixture(scope="module")
def index(tmp_path_factory, real_docs):
    """An 'evaluation set' of 30 real pages, one per line of a .txt file."""
    root = tmp_path_factory.mktemp("index")
    evaluation = [" ".join(t.split()) for t in real_docs["text"].to_pylist()[:30]]
    (root / "eval.txt").write_text("\n".join(evaluation) + "\n", encoding="utf-8")
    assert cli.main(["index", "build", str(root / "eval.txt"), "--output", str(root / "idx")]) == 0
    return root / "idx", evaluation


def test_index_card(index, capsys):
    folder, evaluation = index
    card = json.loads((folder / "index.json").read_text())
    assert card["ngram"] == 13 and card["documents"] == len(evaluation) and card["ngrams"] > 1000


def alphabetic_run(words: list[str], n: int) -> list[str] | None:
    """The first n consecutive purely alphabetic words (folding keeps each one a single word)."""
    for start in range(len(words) - n):
        if all(w.isalpha() for w in words[start:start + n]):
            return words[start:start + n]
    return None


def test_thirteen_words_contaminate_twelve_do_not(index, real_docs):
    folder, evaluation = index
    stage = build_stage("decontaminate", {"index": str(folder)}, "stage 1")
    host = real_docs["text"][500].as_py()  # an unrelated real page
    words = next(run for text in evaluation[3:] if (run := alphabetic_run(text.split(), 13)))
    texts = [host, f"{host}\n{' '.join(words[:13])}", f"{host}\n{' '.join(words[:12])}", evaluation[7].upper(), real_docs["text"][7].as_py()]
    decisions = stage.apply(TextBatch(pa.table({"id": list("abcde"), "text": pa.array(texts, pa.large_string())})))
    assert decisions.reasons.tolist() == [None, "decontaminate.overlap", None, "decontaminate.overlap", "decontaminate.overlap"]
    assert decisions.details[1] == {"matched_ngrams": 1}


def test_short_reference_items_are_found_inside_documents(tmp_path, real_docs):
    """A benchmark's question shorter than 13 words (but of 8 or more, GPT-3's shortest n-gram)
    is found inside a longer page, not only in a page that is the question alone; a shorter item
    still only matches a page that is that item."""
    host = real_docs["text"][500].as_py()
    words = alphabetic_run(real_docs["text"][900].as_py().split(), 12)
    items = [" ".join(words[:10]), " ".join(words[:5])]
    (tmp_path / "eval.txt").write_text("\n".join(items) + "\n", encoding="utf-8")
    assert cli.main(["index", "build", str(tmp_path / "eval.txt"), "--output", str(tmp_path / "idx")]) == 0
    assert json.loads((tmp_path / "idx" / "index.json").read_text())["short_items"] == 1
    stage = build_stage("decontaminate", {"index": str(tmp_path / "idx")}, "stage 1")
    texts = [f"{host}\nQuiz: {items[0].upper()}? Answer below.", f"{host}\n{' '.join(words[:9])}", f"{host}\n{items[1]}", items[1],
             f"{items[0]} {host}"]
    decisions = stage.apply(TextBatch(pa.table({"id": list("abcde"), "text": pa.array(texts, pa.large_string())})))
    assert decisions.reasons.tolist() == ["decontaminate.overlap", None, None, "decontaminate.overlap", "decontaminate.overlap"]


def folded_ngrams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    words = regex.sub(r"\d", "0", regex.sub(r"[\p{P}\p{S}]+", " ", text.lower())).split()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)} if len(words) >= n else {tuple(words)}


def test_flags_exactly_the_pages_that_share_a_13_gram(index, real_docs):
    """Against a plain-Python reading: shared boilerplate counts too (sites repeat their banners)."""
    folder, evaluation = index
    reference = set().union(*(folded_ngrams(t) for t in evaluation))
    stage = build_stage("decontaminate", {"index": str(folder)}, "stage 1")
    rest = real_docs.select(["id", "text"]).slice(100, 300).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())]))
    decisions = stage.apply(TextBatch(rest))
    expected = [bool(folded_ngrams(t) & reference) for t in rest["text"].to_pylist()]
    assert [r == "decontaminate.overlap" for r in decisions.reasons] == expected
    assert 0 < sum(expected) < len(expected) / 2


def test_missing_index_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no index at"):
        build_stage("decontaminate", {"index": str(tmp_path / "none")}, "stage 1")


def test_near_duplicates_of_reference_documents(index, real_docs):
    """With `near_duplicate`, lightly edited copies of evaluation pages are caught by MinHash
    even when n-gram overlap is switched off, with their estimated similarity; unrelated pages
    are not."""
    from dataprep.explain import ngram_jaccard

    folder, evaluation = index
    stage = build_stage("decontaminate", {"index": str(folder), "min_matches": 10**9, "near_duplicate": 0.7}, "stage 1")
    long_pages = [t for t in evaluation if len(t.split()) > 300][:8]
    edited = []
    for page in long_pages:
        words = page.split()
        edited.append(" ".join("changed" if i % 60 == 30 else w for i, w in enumerate(words)))
    unrelated = real_docs["text"].to_pylist()[400:440]
    texts = edited + unrelated
    decisions = stage.apply(TextBatch(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string())})))
    reasons = decisions.reasons.tolist()
    assert len(long_pages) >= 5
    assert reasons[:len(edited)] == ["decontaminate.near_dup"] * len(edited)
    assert all(r is None for r in reasons[len(edited):])
    for i, page in enumerate(long_pages):
        assert decisions.details[i]["reference_similarity"] == pytest.approx(ngram_jaccard(edited[i], page), abs=0.12)


def test_index_build_errors_name_what_to_change(tmp_path, capsys):
    """`--ngram 0` was reported as a bad --min-item-words; a Parquet file without the text
    column said only "no texts"."""
    (tmp_path / "eval.txt").write_text("What is the capital of France and why is it Paris?\n")
    pq.write_table(pa.table({"question": ["What is the capital of France?"]}), tmp_path / "eval.parquet")
    assert cli.main(["index", "build", str(tmp_path / "eval.txt"), "--output", str(tmp_path / "a"), "--ngram", "0"]) == 2
    assert "--ngram must be at least 1, not 0" in capsys.readouterr().err
    assert cli.main(["index", "build", str(tmp_path / "eval.parquet"), "--output", str(tmp_path / "b")]) == 2
    assert "no non-empty `text` column: --text-column names another" in capsys.readouterr().err
    assert cli.main(["index", "build", str(tmp_path / "eval.parquet"), "--output", str(tmp_path / "c"), "--text-column", "question"]) == 0
