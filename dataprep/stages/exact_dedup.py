"""`exact_dedup`: documents whose normalized text is identical to another's, across the corpus.

The text is lower-cased with whitespace collapsed, then hashed (xxh3-128). Ray Data groups the
hashes of the whole corpus; in each group of two or more the smallest id is kept (deterministic:
independent of shard order and worker count) and the others are removed as
`exact_dedup.exact_dup` with the kept id in the ledger's details.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dataprep import text as textutil
from dataprep.stages.base import Decisions, Global, TextBatch, register

KEY_SCHEMA = pa.schema([("id", pa.string()), ("hash", pa.string())])
RESOLUTION_SCHEMA = pa.schema([("hash", pa.string()), ("keep", pa.string()), ("copies", pa.int64())])


@register
class ExactDedup(Global):
    """Exact duplicates of normalized text, resolved corpus-wide; keeps the smallest id."""

    name = "exact_dedup"

    def __init__(
        self,
        lowercase: bool = True,  # "Home" and "HOME" pages are the same page for training
        collapse_whitespace: bool = True,  # re-wrapped copies of a text are still copies
    ):
        self.lowercase = lowercase
        self.collapse_whitespace = collapse_whitespace

    def _hashes(self, batch: TextBatch) -> list[str]:
        text = batch.text
        if self.lowercase:
            text = pc.utf8_lower(text)
        if self.collapse_whitespace:
            text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, textutil.WHITESPACE_RUN, " "))
        return [xxhash.xxh3_128_hexdigest(t.encode("utf-8")) for t in text.to_pylist()]

    def keys(self, batch: TextBatch | None) -> pa.Table:
        if batch is None:
            return KEY_SCHEMA.empty_table()
        return pa.table({"id": batch.table["id"], "hash": pa.array(self._hashes(batch), pa.string())}, schema=KEY_SCHEMA)

    def resolve(self, records: Any) -> pa.Table:
        from ray.data.aggregate import Count, Min
        from ray.data.expressions import col

        if records is None:
            return RESOLUTION_SCHEMA.empty_table()
        groups = records.groupby("hash").aggregate(Count(alias_name="copies"), Min("id", alias_name="keep"))
        groups = groups.filter(expr=col("copies") > 1)
        return pa.Table.from_pylist(groups.take_all(), RESOLUTION_SCHEMA)

    def load_resolution(self, table: pa.Table) -> dict[str, tuple[str, int]]:
        return dict(zip(table["hash"].to_pylist(), zip(table["keep"].to_pylist(), table["copies"].to_pylist())))

    def decide(self, batch: TextBatch, resolution: dict[str, tuple[str, int]]) -> Decisions:
        reasons = np.full(batch.num_rows, None, dtype=object)
        details: list[dict[str, Any] | None] = [None] * batch.num_rows
        for i, (doc_id, digest) in enumerate(zip(batch.table["id"].to_pylist(), self._hashes(batch))):
            group = resolution.get(digest)
            if group is not None and group[0] != doc_id:
                reasons[i] = f"{self.name}.exact_dup"
                details[i] = {"duplicate_of": group[0], "copies": group[1]}
        return Decisions(batch, reasons, details)
