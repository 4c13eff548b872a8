"""`perplexity`: the survey's metric filtering, CCNet style (Wenzek et al. 2020).

A 5-gram KenLM model over SentencePiece pieces, trained by this project on edited reference
prose (samples/build_lm.py: the English Debian Reference manual) and shipped in
dataprep/models/. Low perplexity means "reads like the reference". Each document gets its
`perplexity` (over all its lines) and a CCNet bucket: head (<= first cutoff), middle, tail.
The stage removes documents above `max_perplexity`, or outside `keep_buckets`. When an earlier
`language` stage tagged the documents, only those in the model's language are scored; the others
pass unscored (perplexity null), as CCNet scores each language with its own model.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.stages.base import Filter, TextBatch, Threshold, non_negative, register

MODELS = Path(__file__).resolve().parents[1] / "models"
BUCKETS = ("head", "middle", "tail")


def normalize_for_lm(texts: list[str]) -> list[str]:
    """The text as the model saw it in training: lower case, digits as 0, one space."""
    array = pa.array(texts, pa.large_string())
    array = pc.replace_substring_regex(pc.utf8_lower(array), r"\d", "0")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(array, r"[ \t]+", " ")).to_pylist()


@functools.cache
def load(name: str) -> tuple[Any, Any, dict[str, Any]]:
    """(SentencePiece processor, KenLM model, card) of a shipped model, once per process."""
    import kenlm
    import sentencepiece as spm

    card_path = MODELS / f"{name}.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    return spm.SentencePieceProcessor(model_file=str(MODELS / f"{name}.sp.model")), kenlm.Model(str(MODELS / f"{name}.kenlm")), card


def available() -> list[str]:
    return sorted(p.name.removesuffix(".kenlm") for p in MODELS.glob("*.kenlm"))


@register
class Perplexity(Filter):
    """Adds `perplexity` and `perplexity_bucket`; removes by a maximum or by CCNet bucket."""

    name = "perplexity"
    adds = {"perplexity": pa.float32(), "perplexity_bucket": pa.string()}
    thresholds_first = True  # too_high names a document outside the kept buckets too

    def __init__(
        self,
        model: str = "en",  # a model shipped in dataprep/models (trained by samples/build_lm.py)
        max_perplexity: float | None = None,  # remove above this; None: no absolute bound
        keep_buckets: list[str] | None = None,  # e.g. [head, middle] as CCNet keeps; None: all
        cutoffs: list[float] | None = None,  # head/middle and middle/tail bounds; None: the model card's
    ):
        if model not in available():
            raise ValueError(f"no perplexity model {model!r}; shipped: {', '.join(available()) or 'none'}")
        if keep_buckets is not None and set(keep_buckets) - set(BUCKETS):
            raise ValueError(f"keep_buckets must be among {', '.join(BUCKETS)}, not {keep_buckets}")
        if cutoffs is not None and (len(cutoffs) != 2 or not 0 <= cutoffs[0] <= cutoffs[1]):
            raise ValueError(f"cutoffs must be two increasing perplexities (>= 0), not {cutoffs}")
        non_negative(max_perplexity=max_perplexity)
        self.model = model
        self.max_perplexity = max_perplexity
        self.keep_buckets = keep_buckets
        self.cutoffs = cutoffs

    def setup(self) -> None:
        load(self.model)

    def score(self, texts: list[str]) -> np.ndarray:
        """Perplexity of each text: 10 ** (-log10 probability / pieces), lines scored as sentences."""
        sp, lm, _ = load(self.model)
        result = np.zeros(len(texts))
        for i, text in enumerate(normalize_for_lm(texts)):
            log_prob, count = 0.0, 0
            for line in text.split("\n"):
                if line:
                    pieces = sp.encode(line, out_type=str)
                    log_prob += lm.score(" ".join(pieces), bos=True, eos=True)
                    count += len(pieces) + 1
            result[i] = 10 ** (-log_prob / count) if count else np.inf
        return result

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        card = load(self.model)[2]
        scored = np.ones(batch.num_rows, dtype=bool)
        if "language" in batch.table.column_names and "language" in card:
            scored = np.array(batch.table["language"].to_pylist(), dtype=object) == card["language"]
        perplexity = np.full(batch.num_rows, np.nan)
        texts = batch.text.to_pylist()
        perplexity[scored] = self.score([t for t, s in zip(texts, scored) if s])
        head, middle = self.cutoffs or card.get("cutoffs", [np.inf, np.inf])
        bucket = np.where(perplexity <= head, "head", np.where(perplexity <= middle, "middle", "tail")).astype(object)
        bucket[~scored] = None
        return {"perplexity": np.round(perplexity, 1), "bucket": bucket}

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        if self.keep_buckets is None:
            return []
        return [("bucket", ~np.isin(m["bucket"], self.keep_buckets) & (m["bucket"] != None))]  # noqa: E711

    def threshold_rules(self) -> list[Threshold]:
        return [] if self.max_perplexity is None else [Threshold("max_perplexity", "perplexity", self.max_perplexity, "max", "too_high")]

    def annotate(self, batch: TextBatch, metrics: dict[str, np.ndarray]) -> TextBatch:
        return batch.with_columns({"perplexity": pa.array(metrics["perplexity"], pa.float32()),
                                   "perplexity_bucket": pa.array(metrics["bucket"], pa.string())})
