"""Presidio's AnalyzerEngine as the `pii` stage's engine, with a lossless screen per recognizer.

The recognizers are Presidio's: its predefined ones chosen by entity name (one instance per
recognizer class, run on every document whatever its language: patterns do not depend on it),
the PatternRecognizers and deny lists of a Presidio YAML recognizer file, custom recognizers
by import path, and our own (dataprep/pii/recognizers.py) where they find more. Each document
goes through `AnalyzerEngine.analyze` with the entities whose screens it passed and with NLP
artifacts computed beforehand, as BatchAnalyzerEngine does: the names come from the trimmed
spaCy model run over the name regions of a whole batch at once (dataprep/pii/ner.py, wrapped
here as Presidio's NlpEngine). A document no screen lets through and that holds no name is not
analysed at all; that is where the speed comes from.

Screens (dataprep/pii/screens.py) are derived from each recognizer's own patterns, so they skip
only documents in which none of its patterns can match. Presidio's PhoneRecognizer has no
pattern but phonenumbers' matcher: its screen is that matcher's shape (a run of digits joined
by at most four punctuation marks) with as many digits as the shortest number valid in any
region. Recognizers without either get no screen and read every document.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import yaml
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import IbanRecognizer, PhoneRecognizer, SpacyRecognizer

from dataprep.pii import ner, phones, recognizers, screens, windows

#: Presidio analyses in one language per call; every recognizer is registered under this one, so
#: all of them run on every document (their patterns and validators do not depend on language)
LANGUAGE = "en"
#: PatternRecognizer subclasses whose own `analyze` still reports only inside matches of their
#: patterns (read in their source), so the patterns' screen holds for them too
PATTERN_BOUND = (IbanRecognizer,)


class Screened(NamedTuple):
    recognizer: EntityRecognizer
    screen: str | None  # RE2; None: the recognizer reads every document


def predefined(entities: Iterable[str] | None, screened: bool = True) -> list[EntityRecognizer]:
    """Presidio's predefined recognizers for these entities (None: all), from its default recognizer YAML in
    every language it lists, one instance per class (the English one where there is one); its
    PhoneRecognizer screened (dataprep/pii/phones.py) unless told otherwise."""
    import presidio_analyzer

    conf = Path(presidio_analyzer.__file__).parent / "conf" / "default_recognizers.yaml"
    listed = yaml.safe_load(conf.read_text(encoding="utf-8"))["recognizers"]
    languages = sorted({lang if isinstance(lang, str) else lang["language"]
                        for r in listed for lang in r.get("supported_languages", [])} | {LANGUAGE})
    registry = RecognizerRegistry(supported_languages=languages)
    registry.load_predefined_recognizers(languages=languages)
    wanted, chosen = None if entities is None else set(entities), {}
    for rec in sorted(registry.recognizers, key=lambda r: r.supported_language != LANGUAGE):
        if isinstance(rec, SpacyRecognizer) or wanted is not None and not wanted & set(rec.supported_entities):
            continue
        chosen.setdefault(type(rec).__name__, rec)
    return [phones.ScreenedPhoneRecognizer(r) if screened and type(r) is PhoneRecognizer else r for r in chosen.values()]


@functools.cache
def predefined_entities() -> frozenset[str]:
    """Every entity a predefined Presidio recognizer finds (PERSON is the NLP engine's)."""
    return frozenset(e for rec in predefined(None) for e in rec.supported_entities)


def from_yaml(path: str) -> list[EntityRecognizer]:
    """The recognizers of a Presidio recognizer YAML (PatternRecognizers, deny lists)."""
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.add_recognizers_from_yaml(path)
    return list(registry.recognizers)


def by_import_path(path: str) -> EntityRecognizer:
    """A custom recognizer class ("package.module:ClassName"), built with no arguments."""
    module, _, name = path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), name)()


def from_patterns(patterns: dict[str, str]) -> list[EntityRecognizer]:
    """{LABEL: regex} as Presidio PatternRecognizers, score 1.0."""
    return [PatternRecognizer(supported_entity=label, patterns=[Pattern(label, regex, 1.0)], name=f"{label}PatternRecognizer")
            for label, regex in patterns.items()]


def screen_of(rec: EntityRecognizer) -> str | None:
    if isinstance(rec, windows.WindowedRecognizer):
        # every match holds one of its needles: as lossless as its patterns' screen, and Arrow
        # compiles a screen on every call (Presidio's e-mail pattern: 6.6 ms per batch)
        return screens.any_of(rec.how.needles)
    if isinstance(rec, recognizers.PresidioWrapper):
        return rec.screen or None
    if isinstance(rec, PhoneRecognizer):
        return phone_screen(tuple(rec.supported_regions)) if phones.screenable(rec.leniency) else None
    pattern_bound = type(rec).analyze is PatternRecognizer.analyze or isinstance(rec, PATTERN_BOUND)
    if isinstance(rec, PatternRecognizer) and pattern_bound and rec.patterns:
        return screens.union([screens.superset(p.regex, rec.global_regex_flags) for p in rec.patterns])
    return None


@functools.cache
def phone_screen(regions: tuple[str, ...]) -> str:
    """Where phonenumbers' matcher can find a valid number: as many digits as the fewest of a
    number it can find in one of `regions` (phones.fewest_digits, the rule its line screen
    states), each pair joined by its punctuation class (up to four marks, `_PUNCTUATION`)."""
    from phonenumbers import phonenumbermatcher

    digits = min(phones.fewest_digits(region, plus) for region in regions for plus in (False, True))
    joint = screens.superset(phonenumbermatcher._PUNCTUATION, re_flags())
    return rf"\p{{Nd}}(?:{joint}\p{{Nd}}){{{digits - 1}}}"


def re_flags() -> int:
    import re

    return re.IGNORECASE | re.UNICODE  # the matcher's own flags


class Ent(NamedTuple):
    """What Presidio's SpacyRecognizer reads of a spaCy entity."""

    label_: str
    start_char: int
    end_char: int


class RegionNlpEngine(NlpEngine):
    """Presidio's NlpEngine over dataprep/pii/ner.py: PERSON from the trimmed small spaCy model
    read on the name regions only. No tokens or lemmas: Presidio's context enhancer then leaves
    scores as the recognizers gave them (see docs/pii.md)."""

    def __init__(self, chunk_chars: int = 1000, overlap_chars: int = 100, context_chars: int = 30, whole_chars: int = 500):
        self.chunk_chars, self.overlap_chars, self.context_chars, self.whole_chars = chunk_chars, overlap_chars, context_chars, whole_chars

    def load(self) -> None:
        ner.load()

    def is_loaded(self) -> bool:
        return True  # the model loads on first use, once per process

    def artifacts(self, persons: list) -> NlpArtifacts:
        ents = [Ent(s.label, s.start, s.end) for s in persons]
        return NlpArtifacts(entities=ents, tokens=None, tokens_indices=[], lemmas=[], nlp_engine=self, language=LANGUAGE,
                            scores=[s.score for s in persons])

    def process_batch(self, texts: Iterable[str], language: str, batch_size: int = 64, n_process: int = 1,
                      **kwargs) -> Iterator[tuple[str, NlpArtifacts]]:
        texts = list(texts)
        found = ner.find_persons(texts, self.chunk_chars, self.overlap_chars, self.context_chars, batch_size, self.whole_chars)
        return iter([(text, self.artifacts(persons)) for text, persons in zip(texts, found)])

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return next(self.process_batch([text], language))[1]

    def is_stopword(self, word: str, language: str) -> bool:
        return False

    def is_punct(self, word: str, language: str) -> bool:
        return False

    def get_supported_entities(self) -> list[str]:
        return ["PERSON"]

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]


class NoContext(ContextAwareEnhancer):
    """Presidio's lemma context enhancer needs tokens and lemmas, which RegionNlpEngine does not
    make: it would change no score, only take time (6% with NER off). Said so explicitly."""

    def __init__(self):
        super().__init__(context_similarity_factor=0, min_score_with_context_similarity=0, context_prefix_count=0,
                         context_suffix_count=0)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        return raw_results


def build_analyzer(recs: list[EntityRecognizer], nlp_engine: RegionNlpEngine) -> AnalyzerEngine:
    """An AnalyzerEngine over exactly these recognizers (plus Presidio's SpacyRecognizer, which
    reads PERSON from the NLP artifacts), all registered under LANGUAGE."""
    for rec in recs:
        rec.supported_language = LANGUAGE
    registry = RecognizerRegistry(recognizers=[*recs, SpacyRecognizer(supported_language=LANGUAGE, supported_entities=["PERSON"])],
                                  supported_languages=[LANGUAGE])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE], context_aware_enhancer=NoContext())


def results_of(analyzer: AnalyzerEngine, text: str, entities: list[str], artifacts: NlpArtifacts) -> list[RecognizerResult]:
    return analyzer.analyze(text, language=LANGUAGE, entities=entities, nlp_artifacts=artifacts)
