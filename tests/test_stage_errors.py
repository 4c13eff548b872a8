"""A stage that raises on some documents costs those documents (quarantined), not the run."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from dataprep.stage_runner import apply_isolating
from dataprep.stages.base import Filter, TextBatch


class ChokesOnDigits(Filter):
    """A deliberately buggy filter: raises on any batch holding a document with a digit."""

    name = "chokes_on_digits"

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        if any(any(ch.isdigit() for ch in t) for t in batch.text.to_pylist()):
            raise ValueError("cannot measure digits")
        return {"words": batch.word_counts}

    def checks(self, metrics):
        return [("short", metrics["words"] < 3)]


def test_failing_documents_are_isolated_and_the_rest_decided(sample_docs):
    table = sample_docs.select(["id", "text"]).slice(0, 64)
    texts = table["text"].to_pylist()
    bad = {i for i, t in enumerate(texts) if any(ch.isdigit() for ch in t)}
    assert 0 < len(bad) < 64
    decisions, records = apply_isolating(ChokesOnDigits(), TextBatch(table), "samples/x.parquet")
    assert sorted(r["id"] for r in records) == sorted(table["id"][i].as_py() for i in bad)
    assert all("stage chokes_on_digits failed: ValueError: cannot measure digits" in r["error"] for r in records)
    assert all("test_stage_errors.py" in r["error"] for r in records), "the error says where it was raised"
    survivors = decisions.batch.table["id"].to_pylist()
    assert survivors == [table["id"][i].as_py() for i in range(64) if i not in bad], "order is kept"
    assert len(decisions.reasons) == len(survivors)


def test_a_stage_failing_everywhere_quarantines_everything():
    class Broken(ChokesOnDigits):
        def measure(self, batch):
            raise RuntimeError("model missing")

    table = pa.table({"id": ["a", "b", "c"], "text": pa.array(["x y z", "one two", "w"], pa.large_string())})
    decisions, records = apply_isolating(Broken(), TextBatch(table), "f")
    assert decisions is None and len(records) == 3


def test_the_ledger_keeps_the_text_a_stage_was_given(sample_docs):
    """A line filter that drops every line of a document removes it; the ledger holds the text
    the stage was given, not the empty text it left (C4's rules on a page of menu lines: the
    page was lost, and `explain` showed 0 characters)."""
    from dataprep import ledger
    from dataprep.stage_runner import run_stage
    from dataprep.stages.c4 import C4Quality

    table = sample_docs.select(["id", "text"]).slice(0, 32)
    menu = "Home\nWorld\nPolitics\nBusiness\nTech\nScience"  # no line ends a sentence: C4 drops them all
    table = pa.concat_tables([table, pa.table({"id": ["menu"], "text": [menu]}, schema=table.schema)])
    removed: list[pa.Table] = []
    run_stage(C4Quality(), TextBatch(table), ledger.StageCounts("c4_quality", "line_filter"), removed, [], "test")
    ledger_rows = pa.concat_tables(removed).to_pylist()
    given = dict(zip(table["id"].to_pylist(), table["text"].to_pylist()))
    assert any(r["id"] == "menu" for r in ledger_rows)
    assert all(r["text"] == given[r["id"]] for r in ledger_rows)


def test_inspect_shows_each_documents_own_text_when_a_batch_quarantines_one():
    """The stage's batch lacks the documents it failed on: `inspect` lined the texts up by
    position and showed the next document's text under a removed one's id."""
    from dataprep.inspection import _changes
    from dataprep.stage_runner import apply_isolating

    texts = {"a": "a long enough text of several words", "b": "a text with the digit 7 in it",
             "c": "tiny", "d": "another long enough text of words"}
    batch = TextBatch(pa.table({"id": list(texts), "text": list(texts.values())}))
    decisions, failures = apply_isolating(ChokesOnDigits(), batch, "test")
    shown = "\n".join(_changes(ChokesOnDigits(), batch, decisions, failures))
    assert "--- REMOVED c: chokes_on_digits.short" in shown and "  - tiny" in shown
    assert "CHANGED" not in shown and "QUARANTINED b" in shown


def test_stage_errors_that_differ_only_in_their_figures_are_one_kind():
    """The error budget's stop names the most common kind of error: one bug whose message quotes
    each document's own figures is one kind, not one kind per document."""
    from dataprep.ledger import error_kind

    first = error_kind("stage s1 failed: IndexError: index 4711 out of range for 1,024 items (at s1.py:7)", "s1")
    other = error_kind("stage s1 failed: IndexError: index 12 out of range for 9 items (at s1.py:7)", "s1")
    assert first == other == "stage s1 failed: IndexError: index N out of range for N items"
    assert error_kind("stage s1 failed: KeyError: 'x' (at s1.py:9)", "s1") != first


def test_the_ledgers_details_are_strict_json():
    """An infinite value (the perplexity of a text without words) was written as Infinity, which
    strict JSON readers refuse."""
    import json

    from dataprep.stages.base import details_json, metric_details

    details = metric_details({"perplexity": np.array([np.inf, 12.345678])}, np.array(["perplexity.high", "perplexity.high"], dtype=object))
    written = details_json(details).to_pylist()
    assert [json.loads(d, parse_constant=lambda c: pytest.fail(f"{c} is not JSON")) for d in written] == [
        {"perplexity": "inf"}, {"perplexity": 12.3457}]
