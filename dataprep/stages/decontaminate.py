"""`decontaminate`: set-level de-duplication against a reference corpus or an evaluation set.

`dataprep index build REF --output IDX` hashes every word 13-gram (GPT-3's decontamination
length; configurable) of the reference once (a reference item shorter than that, of at least
`MIN_ITEM_WORDS` words, whole: it is then looked for as a run of words inside every document, as
a benchmark's short questions must be), and each reference document's MinHash signature;
the stage then removes every document sharing at least `min_matches` of those n-grams
(`decontaminate.overlap`, with the count in details) and, if `near_duplicate` is set, every
document whose estimated Jaccard with a reference document reaches it (`decontaminate.near_dup`:
found through the LSH bands, then estimated from the whole signatures). The same index serves
every later run, so a new crawl is checked against an existing corpus or a benchmark's test set
without reading it again. Folding (case, punctuation, digits) is the one of `minhash_dedup`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep import text as textutil
from dataprep.stages.base import Filter, TextBatch, Threshold, register
from dataprep.stages.minhash_dedup import MinhashDedup, band_keys


#: changes whenever the word hashing changes: an index of another version cannot match
HASHING = "bytes-8-v2"
#: MinHash of reference documents: FineWeb's 14 bands x 8 rows over 112 permutations
MINHASH = {"num_perm": 112, "bands": 14, "rows": 8, "seed": 1, "ngram": 5}


@dataclass
class Index:
    card: dict
    ngrams: np.ndarray  # sorted distinct n-gram hashes
    bucket_keys: np.ndarray  # sorted LSH bucket keys of the reference documents
    bucket_docs: np.ndarray  # the reference document of each bucket key
    signatures: np.ndarray  # reference documents x permutations
    short_lengths: np.ndarray  # words of each short reference item (found whole inside documents)
    short_hashes: np.ndarray  # its hash


@functools.cache
def load_index(path: str) -> Index:
    """An index folder, read once per worker process."""
    card = json.loads((Path(path) / "index.json").read_text(encoding="utf-8"))
    if card.get("hashing") != HASHING:
        raise ValueError(f"the index at {path} was built by another dataprep version: rebuild it with `dataprep index build`")
    hashes = pq.read_table(Path(path) / "ngrams.parquet")["hash"].to_numpy().view(np.uint64)
    signatures = np.load(Path(path) / "minhash.npy")
    keys = band_keys(signatures, card["minhash"]["bands"], card["minhash"]["rows"]).reshape(-1)
    docs = np.repeat(np.arange(len(signatures)), card["minhash"]["bands"])
    order = np.argsort(keys)
    short = pq.read_table(Path(path) / "short.parquet") if (Path(path) / "short.parquet").is_file() else None  # older indexes: none
    lengths = short["length"].to_numpy() if short is not None else np.zeros(0, np.int32)
    runs = short["hash"].to_numpy().view(np.uint64) if short is not None else np.zeros(0, np.uint64)
    return Index(card, np.sort(hashes), keys[order], docs[order], signatures, lengths, runs)


def _minhash() -> MinhashDedup:
    return MinhashDedup(num_perm=MINHASH["num_perm"], bands=MINHASH["bands"], rows=MINHASH["rows"],
                        seed=MINHASH["seed"], ngram=MINHASH["ngram"])


#: reference items shorter than the n-gram but at least this many words are looked for whole
#: inside documents (GPT-3's shortest decontamination n-gram: 8 words); shorter ones match only a
#: document that is the item itself (fewer words say too little to call a page contaminated)
MIN_ITEM_WORDS = 8


def build_index(texts: list[str], output: str, ngram: int = 13, source: str = "", min_item_words: int = MIN_ITEM_WORDS) -> dict:
    """Write IDX/ngrams.parquet (distinct n-gram hashes), IDX/short.parquet (the hashes of
    reference items of `min_item_words` to `ngram` - 1 words, with their length), IDX/minhash.npy
    (a signature per reference document) and IDX/index.json; return the card."""
    text = pa.array(texts, pa.large_string())
    hashes, owner = textutil.word_ngram_hashes(text, ngram)
    words = np.bincount(textutil.folded_word_hashes(text)[1], minlength=len(texts))[owner]
    short = (words < ngram) & (words >= min_item_words)  # an item shorter than n is one hash of all its words
    distinct = np.unique(hashes[~short])
    runs = pa.table({"length": pa.array(words[short], pa.int32()), "hash": pa.array(hashes[short].view(np.int64))})
    signatures, _ = _minhash().signatures(TextBatch(pa.table({"id": pa.array(range(len(texts))).cast(pa.string()), "text": text})))
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"hash": pa.array(distinct.view(np.int64))}), folder / "ngrams.parquet")
    pq.write_table(runs, folder / "short.parquet")
    np.save(folder / "minhash.npy", signatures)
    card = {"ngram": ngram, "documents": len(texts), "ngrams": int(len(distinct)), "short_items": int(short.sum()),
            "min_item_words": min_item_words, "source": source, "minhash": MINHASH, "hashing": HASHING,
            "folding": "lower case; whitespace, punctuation and symbols of any script break words; digits to 0"}
    (folder / "index.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


@register
class Decontaminate(Filter):
    """Removes documents that share word n-grams with an index built by `dataprep index build`."""

    name = "decontaminate"

    def __init__(
        self,
        index: str = "index",  # the folder `dataprep index build` wrote
        min_matches: int = 1,  # shared n-grams that make a document contaminated (GPT-3: any)
        near_duplicate: float | None = None,  # also remove documents this similar (estimated Jaccard) to a reference one
    ):
        if not (Path(index) / "index.json").is_file():
            raise ValueError(f"no index at {index} (build one with `dataprep index build REF --output {index}`)")
        if min_matches < 1:
            raise ValueError(f"min_matches must be >= 1, not {min_matches}")
        if near_duplicate is not None and not 0 < near_duplicate <= 1:
            raise ValueError(f"near_duplicate must be within (0, 1], not {near_duplicate}")
        self.index = str(Path(index).resolve())
        self.min_matches = min_matches
        self.near_duplicate = near_duplicate

    def read_files(self) -> list[str]:
        return [self.index]

    def setup(self) -> None:
        load_index(self.index)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        index = load_index(self.index)
        hashes, docs = textutil.word_ngram_hashes(batch.text, index.card["ngram"])
        matched = np.bincount(docs[_members(index.ngrams, hashes)], minlength=batch.num_rows).astype(np.int64)
        if len(index.short_hashes):  # short reference items, found whole inside a document (each counts as one n-gram)
            matched += textutil.word_runs_found(batch.text, index.short_lengths, index.short_hashes)
        metrics = {"matched_ngrams": matched}
        if self.near_duplicate is not None:
            metrics["reference_similarity"] = self._similarity(batch, index)
        return metrics

    def _similarity(self, batch: TextBatch, index: Index) -> np.ndarray:
        """Per document: the highest estimated Jaccard with a reference document that shares an
        LSH bucket with it (0 when none does)."""
        signatures, has = _minhash().signatures(batch)
        keys = band_keys(signatures, MINHASH["bands"], MINHASH["rows"])
        doc = np.repeat(np.arange(batch.num_rows), MINHASH["bands"])
        flat = keys.reshape(-1)
        lo, hi = np.searchsorted(index.bucket_keys, flat, "left"), np.searchsorted(index.bucket_keys, flat, "right")
        pairs_doc = np.repeat(doc, hi - lo)
        pairs_ref = index.bucket_docs[textutil.ragged_ranges(lo, hi)]
        best = np.zeros(batch.num_rows)
        if len(pairs_doc):
            agreement = (signatures[pairs_doc] == index.signatures[pairs_ref]).mean(axis=1)
            np.maximum.at(best, pairs_doc, agreement)
        return np.where(has, best, 0.0)

    def threshold_rules(self) -> list[Threshold]:
        rules = [Threshold("min_matches", "matched_ngrams", self.min_matches, "below", "overlap")]
        if self.near_duplicate is not None:
            rules.append(Threshold("near_duplicate", "reference_similarity", self.near_duplicate, "below", "near_dup"))
        return rules


def _members(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mask of `values` found in `sorted_values`."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), bool)
    position = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[position] == values
