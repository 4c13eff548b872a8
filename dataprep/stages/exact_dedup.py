"""`exact_dedup`: documents whose normalized text is identical to another's, across the corpus.

The text is lower-cased with whitespace collapsed, then hashed (xxh3-128, as two int64). The
hashes of the whole corpus are grouped on Ray Data (hash-partitioned: a task holds one partition);
in each group of two or more the smallest id is kept (deterministic: independent of shard order
and worker count) and the others become decisions, removed as `exact_dedup.exact_dup` with the
kept id in the ledger's details. Deciding needs no text: a part's decisions name its copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dataprep import resolution
from dataprep import text as textutil
from dataprep.stages.base import Decisions, Global, TextBatch, register

KEY_SCHEMA = pa.schema([("id", pa.string()), ("hash_high", pa.int64()), ("hash_low", pa.int64())])
#: the members of text.WHITESPACE_RUN's class other than the space (tests/test_exact_dedup.py
#: checks this against the class for every code point)
OTHER_WHITESPACE = r"[\t\n\x0b\f\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
#: the runs of whitespace that are not a lone space: replacing just these with a space gives what
#: replacing every run gives, with a match per line instead of per word (RE2's time goes to the
#: matches: 3x faster on web text)
SPACE_RUN = f" {textutil.WHITESPACE_RUN.removesuffix('+')}+|{OTHER_WHITESPACE}{textutil.WHITESPACE_RUN.removesuffix('+')}*"


def one_space_per_run(text: pa.Array) -> pa.Array:
    """Every run of whitespace as one space. Newlines become spaces first, by plain search (the
    same runs): RE2 then matches once per run of several spaces or blank line, not once per
    line (-20% on web text)."""
    return pc.replace_substring_regex(pc.replace_substring(text, "\n", " "), SPACE_RUN, " ")


@register
class ExactDedup(Global):
    """Exact duplicates of normalized text, resolved corpus-wide; keeps the smallest id."""

    name = "exact_dedup"
    resolves_tables = True
    exact_copies = True

    def __init__(
        self,
        lowercase: bool = True,  # "Home" and "HOME" pages are the same page for training
        collapse_whitespace: bool = True,  # re-wrapped copies of a text are still copies
    ):
        self.lowercase = lowercase
        self.collapse_whitespace = collapse_whitespace

    DECISIONS = pa.schema([("id", pa.string()), ("duplicate_of", pa.string()), ("copies", pa.int64())])

    def _hashes(self, batch: TextBatch) -> np.ndarray:
        """(documents x 2) int64: the 128-bit hash of each normalized text."""
        text = batch.text
        if self.lowercase:
            text = pc.utf8_lower(text)
        if self.collapse_whitespace:
            text = pc.utf8_trim_whitespace(one_space_per_run(text))
        digests = b"".join(map(xxhash.xxh3_128_digest, textutil.utf8_bytes(text)))
        return np.frombuffer(digests, dtype=np.int64).reshape(-1, 2)

    def keys(self, batch: TextBatch | None) -> pa.Table:
        if batch is None:
            return KEY_SCHEMA.empty_table()
        hashes = self._hashes(batch)
        return pa.table({"id": batch.table["id"], "hash_high": hashes[:, 0], "hash_low": hashes[:, 1]}, schema=KEY_SCHEMA)

    def resolve(self, records: Any, n: int) -> Any:
        if records is None:
            return None
        return resolution.by_hash(records, ["hash_high", "hash_low"], _copies, n)

    def decide(self, batch: TextBatch, decisions: pa.Table) -> Decisions:
        found = resolution.rows_of(decisions, batch.table["id"].combine_chunks())
        reasons = np.where(found >= 0, f"{self.name}.exact_dup", None).astype(object)
        kept_ids, copies = decisions["duplicate_of"].to_pylist(), decisions["copies"].to_pylist()
        details = [{"duplicate_of": kept_ids[i], "copies": copies[i]} if i >= 0 else None for i in found.tolist()]
        return Decisions(batch, reasons, details)


def _copies(keys: pa.Table) -> pa.Table:
    """The copies of one hash partition: every document of a group of equal hashes but the one
    with the smallest id, with that id and the group's size."""
    rows, group, size = resolution.repeated(keys["hash_high"].to_numpy(), keys["hash_low"].to_numpy())
    taken = pa.array(rows)
    members = pa.table({"group": group, "size": size, "id": keys["id"].take(taken), "part": keys["part"].take(taken)})
    members = members.sort_by([("group", "ascending"), ("id", "ascending")])  # each group's smallest id first
    group = members["group"].to_numpy()
    first = np.r_[True, group[1:] != group[:-1]] if len(group) else np.empty(0, bool)
    kept = members["id"].filter(pa.array(first)).take(pa.array(np.cumsum(first) - 1))
    copies = pc.not_equal(members["id"], kept)
    return pa.table({"part": members["part"].filter(copies), "id": members["id"].filter(copies),
                     "duplicate_of": kept.filter(copies), "copies": members["size"].filter(copies)})
