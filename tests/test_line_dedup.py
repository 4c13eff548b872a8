"""`line_dedup`: corpus-wide repeated lines are kept once, in the smallest id's document."""

from __future__ import annotations

import re
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import SHARED_DATA, one_and_four_shards, read_folder, run_pipeline

STAGES = [{"normalize": {}}, {"line_dedup": {"max_count": 1, "min_line_chars": 20}}]


def key(line: str) -> str:
    return re.sub(r"\s+", " ", line.lower()).strip()


def holders(texts_by_id: dict[str, str]) -> dict[str, set[str]]:
    result = defaultdict(set)
    for doc_id, text in texts_by_id.items():
        for line in text.split("\n"):
            if len(key(line)) >= 20:
                result[key(line)].add(doc_id)
    return result


def test_repeated_lines_kept_once_in_the_smallest_id(ray_session, tmp_path, web_docs):
    from dataprep.stages.base import TextBatch
    from dataprep.stages.normalize import Normalize

    files = sorted(SHARED_DATA.glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f, columns=["id", "text"]).cast(
        pa.schema([("id", pa.string()), ("text", pa.large_string())])) for f in files])
    normalized = Normalize().apply(TextBatch(table)).batch
    before = holders(dict(zip(normalized.table["id"].to_pylist(), normalized.text.to_pylist())))
    frequent = {line: ids for line, ids in before.items() if len(ids) > 1}
    assert len(frequent) > 500 and max(map(len, frequent.values())) > 50

    stats = run_pipeline(STAGES, SHARED_DATA, tmp_path / "o")
    assert stats["invariant_ok"]
    kept = read_folder(tmp_path / "o" / "kept")
    after = holders(dict(zip(kept["id"].to_pylist(), kept["text"].to_pylist())))
    for line, ids in after.items():
        assert len(ids) == 1 or line not in frequent, line
        if line in frequent:
            assert ids == {min(frequent[line])}, "the smallest id keeps the line"
    removed = read_folder(tmp_path / "o" / "removed")
    assert set(removed["reason"].to_pylist()) == {"line_dedup.too_little_left"}
    assert sum(kept["line_dedup_removed"].to_pylist()) > 1000
    for text in kept["text"].to_pylist():  # within a document too, a line is kept once (C4's local duplicates)
        lines = [key(line) for line in text.split("\n") if len(key(line)) >= 20]
        assert len(lines) == len(set(lines)), text[:200]


def test_a_line_repeated_within_one_document_is_kept_once_there():
    """C4 keeps the first of a page's repeated lines ("local duplicate"): a page of one footer
    line 30 times kept all 30. `within_document: false` keeps them, as before. In sentence mode,
    a repeated 3-sentence passage is kept once."""
    from dataprep.stages.base import TextBatch
    from dataprep.stages.line_dedup import LineDedup

    footer = "All rights reserved by the example company"
    table = pa.table({"id": ["a", "b"], "text": pa.array([f"{footer}\n" * 30 + "A line of its own, long enough to count",
                                                      "First sentence here. Second one follows. Third one ends. " * 2], pa.large_string())})
    decided = LineDedup().decide(TextBatch(table), LineDedup.DECISIONS.empty_table())
    assert decided.batch.table["text"][0].as_py() == f"{footer}\nA line of its own, long enough to count"
    assert decided.batch.table["line_dedup_removed"].to_pylist() == [29, 0]
    kept = LineDedup(within_document=False).decide(TextBatch(table), LineDedup.DECISIONS.empty_table())
    assert kept.batch.table["text"].to_pylist() == table["text"].to_pylist()
    sentences = LineDedup(unit="sentence", span=3).decide(TextBatch(table), LineDedup.DECISIONS.empty_table())
    assert sentences.batch.table["text"][1].as_py() == "First sentence here. Second one follows. Third one ends. "
    assert sentences.batch.table["text"][0].as_py() == f"{footer}\nA line of its own, long enough to count"  # 3 footers: a passage


def test_a_document_left_without_text_is_removed_whatever_min_words_left():
    """The one rule of rewriting stages (`emptied`): with `min_words_left: 0` a document all of
    whose lines another document holds was kept with no text at all."""
    import pytest

    from dataprep.stages.base import TextBatch
    from dataprep.stages.line_dedup import LineDedup

    lines = ["All rights reserved by the example company", "Sign up for our weekly newsletter today"]
    table = pa.table({"id": ["a", "b"], "text": pa.array(["A page of its own.\n" + "\n".join(lines), "\n".join(lines)], pa.large_string())})
    stage = LineDedup(min_words_left=0)
    decided = stage.decide(TextBatch(table), pa.table({"id": ["b", "b"], "line": stage.keys(TextBatch(table))["line"].to_numpy()[-2:]}))
    assert decided.reasons.tolist() == [None, "line_dedup.emptied"]
    assert decided.details[1] == {"units_removed": 2, "words_left": 0}
    with pytest.raises(ValueError, match="min_words_left must be >= 0"):
        LineDedup(min_words_left=-1)


def test_max_count_documents_keep_a_span_the_smallest_ids():
    """`max_count: 2` kept a line held by two documents in both, and one held by three only in the
    first: a third copy took it from the second."""
    from dataprep.stages.line_dedup import _repeats

    keys = pa.table({"part": [0, 1, 2, 0, 1], "id": ["m2", "m3", "m1", "x1", "x2"], "line": [7, 7, 7, 9, 9]})
    assert _repeats(keys, 2).to_pylist() == [{"part": 1, "id": "m3", "line": 7}]
    assert sorted(r["id"] for r in _repeats(keys, 1).to_pylist()) == ["m2", "m3", "x2"]
    assert _repeats(keys.slice(0, 0), 1).num_rows == 0


def test_sentence_cuts_lose_no_character_of_the_text():
    """Sentences were cut at a noncharacter, U+FFFF, dropped from a document that held it."""
    from dataprep import text as textutil

    texts = pa.array(["Weird \uffffchar here. Next one! And \ufffe more.", "Plain. Text."], pa.large_string())
    assert ["".join(s) for s in textutil.split_sentences(texts).to_pylist()] == texts.to_pylist()


def test_same_result_with_one_or_four_shards(ray_session, tmp_path, sample_docs):
    one, four = one_and_four_shards(sample_docs, tmp_path)
    run_pipeline(STAGES, one, tmp_path / "a", part_bytes=1)
    run_pipeline(STAGES, four, tmp_path / "b")
    a, b = (sorted(read_folder(tmp_path / x / "kept").select(["id", "text"]).to_pylist(), key=lambda r: r["id"]) for x in "ab")
    assert a == b


def test_three_sentence_spans(ray_session, tmp_path, shared_data):
    """Sentence mode (datatrove style): a passage of 3 sentences that several documents share is
    kept only in the smallest id, and once within a document; a shared sentence alone is not a
    duplicate; nothing else of the documents changes, and a document's sentences join back to
    its text exactly."""
    import json

    from dataprep.text import split_sentences

    files = sorted(SHARED_DATA.glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f, columns=["id", "text"]).cast(
        pa.schema([("id", pa.string()), ("text", pa.large_string())])) for f in files])
    sentences = split_sentences(table["text"].combine_chunks()).to_pylist()
    assert all("".join(s) == t for s, t in zip(sentences, table["text"].to_pylist()))

    stages = [{"line_dedup": {"unit": "sentence", "span": 3, "min_line_chars": 30}}]
    stats = run_pipeline(stages, SHARED_DATA, tmp_path / "o")
    assert stats["invariant_ok"]
    kept = read_folder(tmp_path / "o" / "kept")
    before = dict(zip(table["id"].to_pylist(), sentences))
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731  (str.split: whitespace of any script)

    def spans(units: list[str]) -> list[tuple[list[int], tuple[str, ...]]]:
        """(unit positions, normalized sentences) of every eligible 3-sentence span."""
        content = [i for i, u in enumerate(units) if norm(u)]
        found = []
        for k in range(len(content) - 2):
            span = tuple(norm(units[i]) for i in content[k:k + 3])
            if sum(map(len, span)) >= 30:
                found.append((content[k:k + 3], span))
        return found

    holders = defaultdict(set)
    for doc_id, units in before.items():
        for _, span in spans(units):
            holders[span].add(doc_id)
    repeated = {span: ids for span, ids in holders.items() if len(ids) > 1}
    assert len(repeated) > 100
    changed = 0
    for doc_id, text, removed in zip(kept["id"].to_pylist(), kept["text"].to_pylist(), kept["line_dedup_removed"].to_pylist()):
        units = before[doc_id]
        dropped = {i for positions, span in spans(units) if span in repeated and doc_id != min(repeated[span]) for i in positions}
        seen: set[tuple[str, ...]] = set()
        for positions, span in spans(units):  # and a passage repeated within the document, after its first
            dropped |= set(positions) if span in seen else set()
            seen.add(span)
        assert text == "".join(u for i, u in enumerate(units) if i not in dropped), doc_id
        assert removed == len(dropped)
        changed += bool(dropped)
    assert changed > 50
    removed = read_folder(tmp_path / "o" / "removed")
    if removed is not None:
        assert {json.loads(d)["units_removed"] > 0 for d in removed["details"].to_pylist()} == {True}
