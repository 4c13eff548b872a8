"""`pii`: privacy reduction, "Alice is writing a paper" -> "[PERSON] is writing a paper".

Pattern entities (e-mail, phone, IP, card, IBAN, SSN, credentials) are screened over the whole
batch by Arrow's regex kernels; only documents that pass a screen go through the Python regex
and its validator. PERSON comes from spaCy's small English model on the regions of English
documents that may hold a name (see dataprep/pii/ner.py), and can be switched off for speed.
Presidio's default analyzer does the same job at ~7.5 K chars/s per core; the measured
comparison is in docs/pii.md and benchmarks/pii_*.py.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.pii import ner, recognizers
from dataprep.pii.spans import OPERATORS, Span, resolve_overlaps, rewrite
from dataprep.stages.base import Mapper, TextBatch, register

ENTITIES = [*recognizers.PATTERN_ENTITIES, "PERSON"]
#: score a finding must reach to count, per entity (validated patterns score 0.95-1.0; a
#: national-format phone number without a "tel:" nearby 0.7; a one-word PERSON 0.7)
THRESHOLDS = {name: 0.5 for name in ENTITIES}

SPAN_TYPE = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()), ("score", pa.float32())])


@register
class Pii(Mapper):
    """Detect PII and replace it; records `pii_spans` (offsets into the text as it came in) and
    `pii_counts` (entities per label)."""

    name = "pii"
    adds = {"pii_spans": pa.list_(SPAN_TYPE), "pii_counts": pa.map_(pa.string(), pa.int32())}

    def __init__(
        self,
        entities: list[str] = ENTITIES,  # everything the issue names; US_DRIVER_LICENSE & co. flag ordinary words
        thresholds: dict[str, float] | None = None,  # per-entity overrides of THRESHOLDS (0.5: every validated finding)
        operator: str = "tag",  # "[PERSON]" keeps the sentence readable for training; mask, hash, remove
        hash_salt: str = "dataprep-pii",  # set a secret per corpus: hashes are stable within it, unlinkable outside
        ner: bool = True,  # PERSON needs NER (~95% of the stage's time); off for pattern entities only
        ner_languages: list[str] = ["en"],  # noqa: B006 (the model is English; used when `language` is present)
        ner_chunk_chars: int = 1000,  # long regions are cut (the model's work grows with a text's length); overlaps cost 10%
        ner_overlap_chars: int = 100,  # names up to 50 characters survive a chunk border whole
        ner_context_chars: int = 30,  # text sent to NER around each name-like word (~6 tokens; the model reads ~4-5)
        phone_regions: list[str] = ["US", "CA", "GB", "DE", "FR", "IT", "NL", "IN", "AU"],  # noqa: B006 (national formats checked against these plans; "+" numbers against all)
        public_ips_only: bool = True,  # 10.0.0.1, 127.0.0.1, 192.168.x.x identify no person
        patterns: dict[str, str] | None = None,  # extra {LABEL: regex} recognizers, always on (score 1.0)
    ):
        unknown = [e for e in entities if e not in ENTITIES and e not in (patterns or {})]
        if unknown:
            raise ValueError(f"unknown entities {', '.join(unknown)}; known: {', '.join(ENTITIES)} or a label of `patterns`")
        if operator not in OPERATORS:
            raise ValueError(f"operator must be one of {', '.join(OPERATORS)}, not {operator!r}")
        if not 0 <= ner_overlap_chars < ner_chunk_chars // 2:
            raise ValueError("ner_overlap_chars must be >= 0 and below half of ner_chunk_chars")
        if ner_context_chars < 0:
            raise ValueError(f"ner_context_chars must be >= 0, not {ner_context_chars}")
        bad = [k for k, v in (thresholds or {}).items() if k not in ENTITIES and k not in (patterns or {}) or not 0 <= v <= 1]
        if bad:
            raise ValueError(f"thresholds must name a known entity and lie in [0, 1]: {', '.join(bad)}")
        self.entities = list(entities)
        self.thresholds = {**THRESHOLDS, **(thresholds or {})}
        self.operator = operator
        self.hash_salt = hash_salt
        self.ner = ner and "PERSON" in entities
        self.ner_languages = list(ner_languages)
        self.ner_chunk_chars = ner_chunk_chars
        self.ner_overlap_chars = ner_overlap_chars
        self.ner_context_chars = ner_context_chars
        self.phone_regions = list(phone_regions)
        self.public_ips_only = public_ips_only
        self.patterns = dict(patterns or {})
        try:
            self._recognizers = recognizers.build(self.entities + list(self.patterns), self.phone_regions,
                                                  public_ips_only, self.patterns)
        except Exception as exc:  # a user's regex that does not compile
            raise ValueError(f"patterns: {exc}") from None
        self._salt = hashlib.sha256(hash_salt.encode("utf-8")).digest()

    def setup(self) -> None:
        if self.ner:
            ner.load()

    def detect(self, batch: TextBatch) -> list[list[Span]]:
        """Resolved spans per document, on the text as it came in."""
        text = batch.text
        found: list[list[Span]] = [[] for _ in range(batch.num_rows)]
        for recognizer in self._recognizers:
            rows = _matching(text, recognizer.screen)
            for row, doc in zip(rows, text.take(rows).to_pylist()):
                found[row].extend(recognizer.find(doc))
        if self.ner:
            rows = _matching(text, r"\p{Lu}\p{Ll}", self._ner_rows(batch))
            persons = ner.find_persons(text.take(rows).to_pylist(), self.ner_chunk_chars, self.ner_overlap_chars,
                                       self.ner_context_chars)
            for row, spans in zip(rows, persons):
                found[row].extend(spans)
        return [resolve_overlaps([s for s in spans if s.score >= self.thresholds.get(s.label, 0.5)]) if spans else []
                for spans in found]

    def _ner_rows(self, batch: TextBatch) -> np.ndarray:
        if "language" not in batch.table.column_names:
            return np.ones(batch.num_rows, bool)
        return pc.fill_null(pc.is_in(batch.table.column("language"), pa.array(self.ner_languages)), False).to_numpy(zero_copy_only=False)

    def transform(self, batch: TextBatch) -> tuple[pa.Array, dict[str, pa.Array]]:
        found = self.detect(batch)
        rows = np.flatnonzero([bool(spans) for spans in found])
        text = batch.text
        if rows.size:
            values = text.to_pylist()
            for row in rows:
                values[row] = rewrite(values[row], found[row], self.operator, self._salt)
            text = pa.array(values, pa.large_string())
        return text, {"pii_spans": _spans_column(found), "pii_counts": _counts_column(found)}


def _matching(text: pa.Array, screen: str, among: np.ndarray | None = None) -> np.ndarray:
    """Row numbers whose text matches an RE2 screen (all rows for an empty screen)."""
    hit = pc.fill_null(pc.match_substring_regex(text, screen), False).to_numpy(zero_copy_only=False)
    return np.flatnonzero(hit if among is None else hit & among)


def _spans_column(found: list[list[Span]]) -> pa.Array:
    flat = [s for spans in found for s in spans]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in found])]).astype(np.int32)
    values = pa.StructArray.from_arrays(
        [pa.array([s.start for s in flat], pa.int32()), pa.array([s.end for s in flat], pa.int32()),
         pa.array([s.label for s in flat], pa.string()), pa.array([s.score for s in flat], pa.float32())],
        fields=list(SPAN_TYPE))
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=pa.list_(SPAN_TYPE))


def _counts_column(found: list[list[Span]]) -> pa.Array:
    keys, counts, offsets = [], [], [0]
    for spans in found:
        labels, n = np.unique([s.label for s in spans], return_counts=True) if spans else ([], [])
        keys.extend(labels)
        counts.extend(int(c) for c in n)
        offsets.append(len(keys))
    return pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(counts, pa.int32()))
