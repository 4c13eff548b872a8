"""`minhash_dedup`: near-duplicate documents, MinHash-LSH across the whole corpus.

Shingles are word 5-grams of the normalized text (lower case, punctuation and digits folded,
whitespace collapsed). Signatures use datasketch's default `affine32` scheme, bit for bit (the
MurmurHash3 pre-mix, then h -> a*h + b mod 2^32 with datasketch's own a, b for the seed), but are
computed for a whole batch at once in numpy. Bands x rows are FineWeb's 14 x 8 (or datasketch's
optimum for a given threshold), and candidate pairs are verified by their signatures' estimated
Jaccard (>= 0.7): together they meet our dedup targets (docs/dedup.md). Ray Data groups the
band keys of the whole corpus (hash-partitioned by bucket, vectorised per partition); documents
sharing a bucket are joined by an edge; connected components are clusters (components.py); in
each the smallest id is kept and the others are removed as `minhash_dedup.near_dup`, with
`duplicate_of`; the decisions are the clustered documents, written per part. Kept documents get
`cluster_id` and `cluster_size` (for rehydration or upsampling, as FineWeb-2 does).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import resolution
from dataprep import text as textutil
from dataprep.stages.base import Decisions, Global, TextBatch, register

KEY_SCHEMA = pa.schema([("id", pa.string()), ("band", pa.int32()), ("bucket", pa.int64()), ("signature", pa.binary())])
_FMIX32 = (np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # multiplier that folds a band's rows into one 64-bit key
#: FineWeb's LSH: 14 bands of 8 rows over 112 permutations (datatrove's MinhashConfig default)
FINEWEB_BANDS = (14, 8)


@functools.cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's (a, b) of each permutation for this seed, as uint32."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (the pre-mix of datasketch's affine schemes)."""
    h = h ^ (h >> np.uint32(16))
    h = h * _FMIX32[0]
    h = h ^ (h >> np.uint32(13))
    h = h * _FMIX32[1]
    return h ^ (h >> np.uint32(16))


def shingle_hashes(text: pa.Array, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit shingle hash, document index) of every word n-gram (the low bits of the 64-bit
    ones). A document shorter than `ngram` words has none, so no signature, as in datatrove: with
    digits folded, "Chapter 1" and "Chapter 2" were one shingle, hence duplicates."""
    hashes, docs = textutil.word_ngram_hashes(text, ngram, short=False)
    return (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32), docs


def signatures(hashes: np.ndarray, docs: np.ndarray, n_docs: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) from shingle hashes grouped by document.

    One permutation at a time over all shingles of the batch: a contiguous multiply-add and a
    1-D min-reduce per document, which numpy runs several times faster than the 2-D form.
    """
    out = np.full((len(a), n_docs), np.iinfo(np.uint32).max, dtype=np.uint32)
    if len(hashes) == 0:
        return out.T
    mixed = fmix32(hashes)
    first = np.flatnonzero(np.concatenate([[True], docs[1:] != docs[:-1]]))
    owners = docs[first]
    permuted = np.empty_like(mixed)
    for p in range(len(a)):
        np.multiply(mixed, a[p], out=permuted)  # uint32: wraps mod 2^32, as datasketch
        np.add(permuted, b[p], out=permuted)
        out[p, owners] = np.minimum.reduceat(permuted, first)
    return np.ascontiguousarray(out.T)


@register
class MinhashDedup(Global):
    """Near-duplicates by MinHash-LSH over word 5-grams; keeps the smallest id of each cluster."""

    name = "minhash_dedup"
    resolves_tables = True
    adds = {"cluster_id": pa.string(), "cluster_size": pa.int64()}
    DECISIONS = pa.schema([("id", pa.string()), ("cluster_id", pa.string()), ("cluster_size", pa.int64())])

    def __init__(
        self,
        # None: FineWeb's 14 bands x 8 rows (datatrove's MinhashConfig default, ~0.75-0.8); a
        # value: datasketch's optimal bands x rows for that Jaccard threshold instead
        threshold: float | None = None,
        num_perm: int = 112,  # FineWeb's 14 bands x 8 rows; more permutations sharpen the S-curve
        ngram: int = 5,  # word 5-grams (FineWeb): long enough that shared phrases are not shared pages
        seed: int = 1,  # the permutations' seed (datasketch's default)
        bands: int | None = None,  # bands x rows given explicitly instead (both or neither)
        rows: int | None = None,
        # keep a candidate pair only if its signatures agree on this share of permutations (None:
        # no check, as datatrove). benchmarks/dedup_quality.py: 14 x 8 alone merges ~1% of pairs
        # below Jaccard 0.5; with 0.7, recall at J >= 0.85 stays >= 0.95 and those drop below 1%
        verify: float | None = 0.7,
        # bytes scipy's connected components may take in one task (reserved from Ray's scheduler; ~7
        # bytes per byte of edges: about 3 M edges of WARC record ids): above, or above the largest
        # node's memory, large-star / small-star rounds on Ray Data, whose memory is per partition
        component_task_memory: int = 2 * 2**30,
    ):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError(f"threshold must be within (0, 1), not {threshold}")
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither")
        if bands is not None and threshold is not None:
            raise ValueError("give a threshold or bands and rows, not both (bands and rows set the threshold)")
        small = {name: value for name, value in (("num_perm", num_perm), ("ngram", ngram), ("bands", bands), ("rows", rows))
                 if value is not None and value < 1}
        if small:
            raise ValueError(", ".join(f"{name} must be at least 1, not {value}" for name, value in small.items()))
        if not 0 <= seed < 2**32:
            raise ValueError(f"seed must be within [0, 2**32) (numpy's generator of datasketch's permutations), not {seed}")
        if verify is not None and not 0 < verify <= 1:
            raise ValueError(f"verify must be within (0, 1], not {verify}")
        if bands is None and threshold is not None:
            from datasketch import MinHashLSH  # here: datasketch's import is 0.4 s of a driver that only checks the YAML

            try:
                lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
            except ValueError as exc:  # datasketch's words name neither parameter ("The number of bands are too small (b < 2)")
                raise ValueError(f"threshold {threshold} with num_perm {num_perm}: datasketch finds no bands x rows ({exc}); "
                                 "raise num_perm or give bands and rows") from None
            bands, rows = lsh.b, lsh.r
        elif bands is None:
            bands, rows = FINEWEB_BANDS
        if bands * rows > num_perm:
            raise ValueError(f"bands x rows ({bands} x {rows}) exceeds num_perm ({num_perm})")
        self.threshold, self.num_perm, self.ngram, self.seed = threshold, num_perm, ngram, seed
        self.bands, self.rows = bands, rows
        self.verify, self.component_task_memory = verify, component_task_memory

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        return _permutations(self.num_perm, self.seed)

    def signatures(self, batch: TextBatch) -> tuple[np.ndarray, np.ndarray]:
        """(signatures, whether each document has any shingle)."""
        hashes, docs = shingle_hashes(batch.text, self.ngram)
        a, b = self.permutations()
        has = np.bincount(docs, minlength=batch.num_rows) > 0
        return signatures(hashes, docs, batch.num_rows, a, b), has

    def keys(self, batch: TextBatch | None) -> pa.Table:
        """One row per document and band: the band's rows folded into one 64-bit bucket key;
        with `verify`, one more row per document (band -1) holding its whole signature."""
        if batch is None:
            return KEY_SCHEMA.empty_table()
        sig, has = self.signatures(batch)
        ids = batch.table["id"].combine_chunks().filter(pa.array(has))
        sig = sig[has]
        doc = pa.array(np.repeat(np.arange(len(sig)), self.bands))
        table = pa.table({"id": ids.take(doc), "band": np.tile(np.arange(self.bands, dtype=np.int32), len(sig)),
                          "bucket": band_keys(sig, self.bands, self.rows).reshape(-1),
                          "signature": pa.nulls(len(doc), pa.binary())}, schema=KEY_SCHEMA)
        if self.verify is None:
            return table
        signatures = pa.table({"id": ids, "band": np.full(len(sig), -1, np.int32), "bucket": np.zeros(len(sig), np.int64),
                               "signature": pa.array([s.tobytes() for s in sig], pa.binary())}, schema=KEY_SCHEMA)
        return pa.concat_tables([table, signatures])

    def resolve(self, records: Any, n: int) -> Any:
        """Documents sharing a bucket are candidates: each is linked to the bucket's smallest id
        (with `verify`, only if their signatures agree on that share of permutations); clusters
        are the connected components of these edges, one decision per clustered document.
        Records are a Ray Dataset, or a table of at most one partition (`resolves_tables`)."""
        from dataprep.components import components

        if records is None:
            return None
        band_rows = resolution.map_batches(records, _rows_of_bands, parts=self.verify is None)
        edges = resolution.by_hash(band_rows, ["bucket"], _bucket_edges, n)
        if self.verify is not None:
            edges = _verified(edges, resolution.map_batches(records, _rows_of_signatures), self.verify, n)
        return components(edges, self.component_task_memory, n)

    def decide(self, batch: TextBatch, decisions: pa.Table) -> Decisions:
        ids = batch.table["id"].combine_chunks()
        found = resolution.rows_of(decisions, ids)
        clustered = found >= 0
        at = pa.array(np.where(clustered, found, 0))
        keep = pc.if_else(pa.array(clustered), decisions["cluster_id"].combine_chunks().take(at) if decisions.num_rows else ids, ids)
        size = np.where(clustered, decisions["cluster_size"].to_numpy()[found] if decisions.num_rows else 1, 1)
        removed = pc.not_equal(keep, ids).to_numpy(zero_copy_only=False)
        reasons = np.where(removed, f"{self.name}.near_dup", None).astype(object)
        kept_ids = keep.to_pylist()
        details = [{"duplicate_of": kept_ids[i], "cluster_size": int(size[i])} if removed[i] else None for i in range(len(ids))]
        out = batch.with_columns({"cluster_id": keep.cast(pa.string()), "cluster_size": pa.array(size, pa.int64())})
        return Decisions(out, reasons, details)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents x bands) int64 bucket keys: each band's rows folded into one 64-bit key that
    also depends on the band's number (a key is never shared across bands)."""
    banded = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    keys = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64), (len(signatures), bands)).copy()
    with np.errstate(over="ignore"):
        for row in range(rows):
            keys = keys * _MIX + banded[:, :, row]
    return keys.view(np.int64)


def _rows_of_bands(keys: pa.Table, parts: bool) -> pa.Table:
    """The band rows of keys (band >= 0) as the band shuffle needs them: id and bucket only (the
    bucket key already folds in the band's number), and the part only when no verification will
    bring parts with the signatures. 14 rows a document make this the run's largest shuffle."""
    return keys.filter(pc.greater_equal(keys["band"], 0)).select(["id", "part", "bucket"] if parts else ["id", "bucket"])


def _rows_of_signatures(keys: pa.Table) -> pa.Table:
    """Each document's whole signature (its row of band -1), with its id and part."""
    return keys.filter(pc.equal(keys["band"], -1)).select(["id", "part", "signature"])


def _bucket_edges(keys: pa.Table) -> pa.Table:
    """Edges of one hash partition of band rows: in every bucket of two or more documents,
    each member to the bucket's smallest id (vectorised over the partition's buckets); with
    the ends' parts when the rows have them (`EDGE_SCHEMA`), else the ids only (`PAIR_SCHEMA`)."""
    from dataprep.components import PAIR_SCHEMA, EDGE_SCHEMA

    keys = keys.sort_by([("bucket", "ascending"), ("id", "ascending")])
    bucket = keys["bucket"].to_numpy()
    starts = np.concatenate([[True], bucket[1:] != bucket[:-1]])
    members = np.flatnonzero(~starts)  # every row but a bucket's first (its smallest id)
    roots = np.flatnonzero(starts)[np.cumsum(starts)[members] - 1]
    take = pa.array(members), pa.array(roots)
    if "part" not in keys.column_names:
        return pa.table({"a": keys["id"].take(take[0]), "b": keys["id"].take(take[1])}, schema=PAIR_SCHEMA)
    return pa.table({"a": keys["id"].take(take[0]), "a_part": keys["part"].take(take[0]),
                     "b": keys["id"].take(take[1]), "b_part": keys["part"].take(take[1])}, schema=EDGE_SCHEMA)


#: rows of the two joins that verify edges: an edge (with a's part and signature once known) or
#: a document's part and signature, partitioned by `key` (the edge's end being looked up, or the document)
_JOIN_SCHEMA = pa.schema([("key", pa.string()), ("a", pa.string()), ("a_part", pa.int32()), ("b", pa.string()),
                          ("sig_a", pa.binary()), ("part", pa.int32()), ("signature", pa.binary())])


def _verified(edges: Any, signatures: Any, verify: float, n: int) -> Any:
    """The edges (ids only) whose ends' signatures agree on at least `verify` of the
    permutations, with their ends' parts (`EDGE_SCHEMA`).

    Two hash-partitioned joins, every document's signature shuffled once (not per band, nor
    per join): the first partitions the signatures (with their parts) by document with each
    edge twice, under a and under b; a partition attaches a's part and signature to its edges
    under a, and passes on the part and signature of each document that is some edge's b
    (candidates are few). The second, by b, compares the two.
    """
    both_ends = resolution.map_batches(edges, _edge_rows)
    with_a = resolution.by_hash(resolution.union(both_ends, resolution.map_batches(signatures, _signature_rows)), ["key"], _attach_signature, n)
    return resolution.by_hash(with_a, ["key"], _compare_signatures, n, verify=verify)


def _signature_rows(batch: pa.Table) -> pa.Table:
    n = batch.num_rows
    return pa.table({"key": batch["id"], "a": pa.nulls(n, pa.string()), "a_part": pa.nulls(n, pa.int32()),
                     "b": pa.nulls(n, pa.string()), "sig_a": pa.nulls(n, pa.binary()), "part": batch["part"],
                     "signature": batch["signature"]}, schema=_JOIN_SCHEMA)


def _edge_rows(batch: pa.Table) -> pa.Table:
    """Each edge twice: under its end a (to find a's signature) and under b (to pass b's on)."""
    n = batch.num_rows
    ends = {"a": batch["a"], "a_part": pa.nulls(n, pa.int32()), "b": batch["b"], "sig_a": pa.nulls(n, pa.binary()),
            "part": pa.nulls(n, pa.int32()), "signature": pa.nulls(n, pa.binary())}
    return pa.concat_tables([pa.table({"key": batch["a"], **ends}, schema=_JOIN_SCHEMA),
                             pa.table({"key": batch["b"], **ends}, schema=_JOIN_SCHEMA)])


def _split(rows: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A partition's documents (key, part, signature) and its edges."""
    is_edge = pc.is_valid(rows["a"])
    return rows.filter(pc.invert(is_edge)).select(["key", "part", "signature"]), rows.filter(is_edge)


def _attach_signature(rows: pa.Table) -> pa.Table:
    """A partition's edges under a, each once with a's part and signature, and the documents
    that are an edge's b with theirs, all keyed by b (an edge never links a document to itself)."""
    documents, edges = _split(rows)
    under_a = pc.equal(edges["key"], edges["a"])
    edges_a = edges.filter(under_a).select(["a", "b"]).group_by(["a", "b"]).aggregate([])
    found = edges_a.join(documents, "a", right_keys="key", join_type="inner")
    ends_b = pa.table({"key": pc.unique(edges.filter(pc.invert(under_a))["key"])})
    passed = documents.join(ends_b, "key", join_type="inner").rename_columns(["id", "part", "signature"])
    n = found.num_rows
    return pa.concat_tables([
        pa.table({"key": found["b"], "a": found["a"], "a_part": found["part"], "b": found["b"], "sig_a": found["signature"],
                  "part": pa.nulls(n, pa.int32()), "signature": pa.nulls(n, pa.binary())}, schema=_JOIN_SCHEMA),
        _signature_rows(passed)])


def _compare_signatures(rows: pa.Table, verify: float) -> pa.Table:
    from dataprep.components import EDGE_SCHEMA

    documents, edges = _split(rows)
    found = edges.select(["a", "a_part", "b", "sig_a"]).join(documents, "b", right_keys="key", join_type="inner")
    if found.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    theirs = np.frombuffer(b"".join(found["sig_a"].to_pylist()), np.uint32).reshape(found.num_rows, -1)
    mine = np.frombuffer(b"".join(found["signature"].to_pylist()), np.uint32).reshape(found.num_rows, -1)
    keep = pa.array((theirs == mine).mean(axis=1) >= verify)
    return pa.table({"a": found["a"], "a_part": found["a_part"], "b": found["b"], "b_part": found["part"]}).filter(keep).cast(EDGE_SCHEMA)
