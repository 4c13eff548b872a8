"""`line_dedup`: lines repeated across the corpus are kept once (C4 / datatrove sentence dedup).

Footers, cookie notices, navigation and e-mail signatures repeat over thousands of pages; a
model learns nothing from the thousandth copy. Every line of at least `min_line_chars`
characters is hashed (lower-cased, whitespace collapsed); Ray Data counts, corpus-wide, how many
documents hold each line; a line held by more than `max_count` documents is removed from every
document but the one with the smallest id (deterministic, independent of sharding). A document
left with fewer than `min_words_left` words is removed as `line_dedup.too_little_left`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dataprep import text as textutil
from dataprep.stages.base import Decisions, Global, TextBatch, register

# line hashes travel as int64 (the 64 hash bits reinterpreted): Ray Data sorts uint64 as objects
KEY_SCHEMA = pa.schema([("id", pa.string()), ("line", pa.int64())])
RESOLUTION_SCHEMA = pa.schema([("line", pa.int64()), ("keep", pa.string()), ("documents", pa.int64())])


@register
class LineDedup(Global):
    """Corpus-wide repeated lines removed from all documents but the first (by id)."""

    name = "line_dedup"
    kind = "global"
    adds = {"line_dedup_removed": pa.int32()}

    def __init__(
        self,
        max_count: int = 1,  # documents that may hold the same line (C4 keeps one occurrence)
        min_line_chars: int = 20,  # shorter lines ("Yes.", "Home") are too generic to call duplicates
        min_words_left: int = 5,  # a document reduced below this is no longer a document
    ):
        if max_count < 1:
            raise ValueError(f"max_count must be >= 1, not {max_count}")
        self.max_count = max_count
        self.min_line_chars = min_line_chars
        self.min_words_left = min_words_left

    def _lines(self, batch: TextBatch) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
        """Flat lines, their document, whether they are long enough to count, and their hash."""
        lines, parent = textutil.flat(batch.lines)
        key = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(lines), r"\s+", " "))
        eligible = textutil.char_lengths(key) >= self.min_line_chars
        hashes = np.zeros(len(lines), dtype=np.uint64)
        values = key.to_pylist()
        for i in np.flatnonzero(eligible):  # one C call per line: xxhash has no Arrow kernel
            hashes[i] = xxhash.xxh3_64_intdigest(values[i].encode("utf-8"))
        return lines, parent, eligible, hashes.view(np.int64)

    def keys(self, batch: TextBatch | None) -> pa.Table:
        if batch is None:
            return KEY_SCHEMA.empty_table()
        _, parent, eligible, hashes = self._lines(batch)
        pairs = np.unique(np.stack([parent[eligible], hashes[eligible]]), axis=1)  # a line once per document
        ids = batch.table["id"].combine_chunks().take(pa.array(pairs[0]))
        return pa.table({"id": ids, "line": pa.array(pairs[1], pa.int64())}, schema=KEY_SCHEMA)

    def resolve(self, records: Any) -> pa.Table:
        from ray.data.aggregate import Count, Min
        from ray.data.expressions import col

        if records is None:
            return RESOLUTION_SCHEMA.empty_table()
        groups = records.groupby("line").aggregate(Count(alias_name="documents"), Min("id", alias_name="keep"))
        frequent = groups.filter(expr=col("documents") > self.max_count)
        return pa.Table.from_pylist(frequent.take_all(), RESOLUTION_SCHEMA)

    def load_resolution(self, table: pa.Table) -> dict[int, str]:
        return dict(zip(table["line"].to_pylist(), table["keep"].to_pylist()))

    def decide(self, batch: TextBatch, resolution: dict[int, str]) -> Decisions:
        n = batch.num_rows
        lines, parent, eligible, hashes = self._lines(batch)
        ids = batch.table["id"].to_pylist()
        drop = np.zeros(len(lines), dtype=bool)
        for i in np.flatnonzero(eligible):
            keeper = resolution.get(int(hashes[i]))
            drop[i] = keeper is not None and keeper != ids[parent[i]]
        new_text = textutil.join_kept(lines, parent, ~drop, n)
        removed = textutil.per_doc(parent, drop.astype(float), n).astype(np.int32)
        words_left = textutil.list_lengths(textutil.split_words(new_text))
        reasons = np.where((removed > 0) & (words_left < self.min_words_left), f"{self.name}.too_little_left", None).astype(object)
        details = [{"lines_removed": int(r), "words_left": int(w)} if reason else None
                   for r, w, reason in zip(removed, words_left, reasons)]
        out = batch.with_text(new_text).with_columns({"line_dedup_removed": pa.array(removed, pa.int32())})
        return Decisions(out, reasons, details)
