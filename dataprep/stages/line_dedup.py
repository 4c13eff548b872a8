"""`line_dedup`: lines (or spans of sentences) repeated across the corpus are kept once.

Footers, cookie notices, navigation and e-mail signatures repeat over thousands of pages; a
model learns nothing from the thousandth copy. The unit is a line (C4) or a sentence; a span
is `span` consecutive units of a document (datatrove's sentence dedup uses 3 sentences, so a
common sentence alone is not a duplicate but a repeated passage is). Each span of at least
`min_line_chars` characters is hashed (lower-cased, whitespace collapsed); Ray Data counts,
corpus-wide (hash-partitioned by span), how many documents hold each span; the units of a span
held by more than `max_count` documents are removed from every document but the `max_count`
with the smallest ids (deterministic, independent of sharding): a decision per (document, span)
to drop.
Within a document, a span's repeats after its first are removed too (C4's "local duplicate"
lines; `within_document: false` keeps them). A document left with fewer than `min_words_left`
words is removed as `line_dedup.too_little_left`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import resolution
from dataprep import text as textutil
from dataprep.stages.base import Decisions, Global, TextBatch, emptied, register

# span hashes travel as int64 (the 64 hash bits reinterpreted): Ray Data sorts uint64 as objects
KEY_SCHEMA = pa.schema([("id", pa.string()), ("line", pa.int64())])
UNITS = ("line", "sentence")


@dataclass
class Spans:
    """A batch cut into units, and its spans: where each starts and its hash."""

    units: pa.Array  # the text cut into units (joined per document, they give the text back)
    parent: np.ndarray  # document of each unit
    content: np.ndarray  # indices of the units that are not blank (spans are made of these)
    starts: np.ndarray  # first unit of each eligible span, as a position in `content`
    hashes: np.ndarray  # int64 hash of each eligible span

    def docs(self) -> np.ndarray:
        """The document of each eligible span."""
        return self.parent[self.content[self.starts]]


@register
class LineDedup(Global):
    """Corpus-wide repeated lines or sentence spans removed from all documents but the first (by id)."""

    name = "line_dedup"
    adds = {"line_dedup_removed": pa.int32()}
    DECISIONS = pa.schema([("id", pa.string()), ("line", pa.int64())])  # a span this document drops

    def __init__(
        self,
        max_count: int = 1,  # documents that may hold the same span, the smallest ids (C4 keeps one occurrence)
        min_line_chars: int = 20,  # shorter spans ("Yes.", "Home") are too generic to call duplicates
        min_words_left: int = 5,  # a document reduced below this is no longer a document
        unit: str = "line",  # "line" (C4) or "sentence" (datatrove's sentence dedup)
        span: int = 1,  # units per span: 3 sentences as datatrove does; 1 line as C4 does
        within_document: bool = True,  # a span repeated inside one document is kept once there, as C4 does
    ):
        if max_count < 1:
            raise ValueError(f"max_count must be >= 1, not {max_count}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
        if span < 1:
            raise ValueError(f"span must be >= 1, not {span}")
        if min_words_left < 0:
            raise ValueError(f"min_words_left must be >= 0, not {min_words_left}")
        self.max_count = max_count
        self.min_line_chars = min_line_chars
        self.min_words_left = min_words_left
        self.unit = unit
        self.span = span
        self.within_document = within_document

    def _spans(self, batch: TextBatch) -> Spans:
        cut = batch.lines if self.unit == "line" else textutil.split_sentences(batch.text)
        units, parent = textutil.flat(cut)
        key = textutil.comparison_key(units)
        chars = textutil.char_lengths(key)
        unit_hash = textutil.xxh3_64(key)
        content = np.flatnonzero(chars > 0)  # blank units are in no span, so spacing does not hide a repeat
        starts, hashes = textutil.ngram_starts(unit_hash[content], parent[content], self.span)
        cumulative = np.concatenate([[0], np.cumsum(chars[content])])
        eligible = cumulative[starts + self.span] - cumulative[starts] >= self.min_line_chars
        return Spans(units, parent, content, starts[eligible], hashes[eligible].view(np.int64))

    def keys(self, batch: TextBatch | None) -> pa.Table:
        if batch is None:
            return KEY_SCHEMA.empty_table()
        spans = self._spans(batch)
        pairs = np.unique(np.stack([spans.docs(), spans.hashes]), axis=1)  # a span once per document
        ids = batch.table["id"].combine_chunks().take(pa.array(pairs[0]))
        return pa.table({"id": ids, "line": pa.array(pairs[1], pa.int64())}, schema=KEY_SCHEMA)

    def resolve(self, records: Any, n: int) -> Any:
        if records is None:
            return None
        return resolution.by_hash(records, ["line"], _repeats, n, max_count=self.max_count)

    def decide(self, batch: TextBatch, decisions: pa.Table) -> Decisions:
        n = batch.num_rows
        spans = self._spans(batch)
        repeat = np.zeros(len(spans.starts), dtype=bool)
        if decisions.num_rows:
            ids = batch.table["id"].combine_chunks().take(pa.array(spans.docs()))
            found = pa.table({"id": ids, "line": spans.hashes, "span": np.arange(len(spans.starts))})
            repeat[found.join(decisions, ["id", "line"], join_type="left semi")["span"].to_numpy()] = True
        if self.within_document:
            repeat |= _repeated_in_document(spans)
        drop = self._covered(spans.starts[repeat], spans)
        joiner = "\n" if self.unit == "line" else ""
        kept_lists = pa.ListArray.from_arrays(
            pa.array(np.concatenate([[0], np.cumsum(np.bincount(spans.parent[~drop], minlength=n))]).astype(np.int32)),
            spans.units.filter(pa.array(~drop)))
        new_text = pc.binary_join(kept_lists, pa.scalar(joiner, spans.units.type))
        removed = textutil.per_doc(spans.parent, drop.astype(float), n).astype(np.int32)
        words_left = textutil.list_lengths(textutil.split_words(new_text))
        reasons = np.where((removed > 0) & (words_left < self.min_words_left), f"{self.name}.too_little_left", None).astype(object)
        reasons = emptied(self.name, batch, new_text, reasons)  # with min_words_left 0
        details = [{"units_removed": int(r), "words_left": int(w)} if reason else None
                   for r, w, reason in zip(removed, words_left, reasons)]
        out = batch.with_text(new_text).with_columns({"line_dedup_removed": pa.array(removed, pa.int32())})
        return Decisions(out, reasons, details)

    def _covered(self, repeat_starts: np.ndarray, spans: Spans) -> np.ndarray:
        """Mask of the units under a repeated span (`span` consecutive non-blank units)."""
        edges = np.zeros(len(spans.content) + 1, dtype=np.int64)
        np.add.at(edges, repeat_starts, 1)
        np.add.at(edges, repeat_starts + self.span, -1)
        drop = np.zeros(len(spans.units), dtype=bool)
        drop[spans.content[np.cumsum(edges[:-1]) > 0]] = True
        return drop


def _repeated_in_document(spans: Spans) -> np.ndarray:
    """Mask of the spans whose hash an earlier span of the same document has."""
    docs = spans.docs()
    order = np.lexsort((spans.starts, spans.hashes, docs))  # by document, then hash, then position
    later = np.zeros(len(order), dtype=bool)
    later[1:] = (docs[order][1:] == docs[order][:-1]) & (spans.hashes[order][1:] == spans.hashes[order][:-1])
    repeated = np.zeros(len(order), dtype=bool)
    repeated[order] = later
    return repeated


def _repeats(keys: pa.Table, max_count: int) -> pa.Table:
    """The spans of one hash partition that more than `max_count` documents hold: one decision
    per document holding one, but the `max_count` documents with the smallest ids (C4: one)."""
    keys = keys.sort_by([("line", "ascending"), ("id", "ascending")])
    line = keys["line"].to_numpy()
    first = np.flatnonzero(np.concatenate([[True], line[1:] != line[:-1]])) if len(line) else np.zeros(0, np.int64)
    rank = np.arange(len(line)) - np.repeat(first, np.diff(np.append(first, len(line))))  # place among the span's holders
    repeats = keys.filter(pa.array(rank >= max_count))
    return pa.table({"part": repeats["part"], "id": repeats["id"], "line": repeats["line"]})
