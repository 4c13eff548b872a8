"""`decontaminate`: set-level de-duplication against a reference corpus or an evaluation set.

`dataprep index build REF --output IDX` hashes every word 13-gram (GPT-3's decontamination
length; configurable) of the reference once; the stage then removes every document sharing at
least `min_matches` of those n-grams (`decontaminate.overlap`, with the count in details).
The same index serves every later run, so a new crawl is checked against an existing corpus or
a benchmark's test set without reading it again. Folding (case, punctuation, digits) is the one
of `minhash_dedup`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep import text as textutil
from dataprep.stages.base import Filter, TextBatch, register


@functools.cache
def load_index(path: str) -> tuple[np.ndarray, dict]:
    """(sorted n-gram hashes, card) of an index folder, once per worker process."""
    card = json.loads((Path(path) / "index.json").read_text(encoding="utf-8"))
    hashes = pq.read_table(Path(path) / "ngrams.parquet")["hash"].to_numpy().view(np.uint64)
    return np.sort(hashes), card


def build_index(texts: list[str], output: str, ngram: int = 13, source: str = "") -> dict:
    """Write IDX/ngrams.parquet (distinct n-gram hashes) and IDX/index.json; return the card."""
    hashes, _ = textutil.word_ngram_hashes(pa.array(texts, pa.large_string()), ngram)
    distinct = np.unique(hashes)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"hash": pa.array(distinct.view(np.int64))}), folder / "ngrams.parquet")
    card = {"ngram": ngram, "documents": len(texts), "ngrams": int(len(distinct)), "source": source,
            "folding": "lower case, punctuation and symbols to spaces, digits to 0; xxh3 word hashes"}
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
    ):
        if not (Path(index) / "index.json").is_file():
            raise ValueError(f"no index at {index} (build one with `dataprep index build REF --output {index}`)")
        if min_matches < 1:
            raise ValueError(f"min_matches must be >= 1, not {min_matches}")
        self.index = str(Path(index).resolve())
        self.min_matches = min_matches

    def setup(self) -> None:
        load_index(self.index)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        reference, card = load_index(self.index)
        hashes, docs = textutil.word_ngram_hashes(batch.text, card["ngram"])
        position = np.searchsorted(reference, hashes)
        found = reference[np.minimum(position, len(reference) - 1)] == hashes if len(reference) else np.zeros(len(hashes), bool)
        return {"matched_ngrams": np.bincount(docs[found], minlength=batch.num_rows).astype(np.int64)}

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        return [("overlap", m["matched_ngrams"] >= self.min_matches)]
