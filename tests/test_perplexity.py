"""`perplexity` with the shipped KenLM model: edited prose scores low, crawled pages high."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dataprep.errors import ConfigError
from dataprep.pipeline import build_stage
from dataprep.stages.base import TextBatch
from dataprep.stages.language import Language
from dataprep.stages.perplexity import Perplexity, load, normalize_for_lm


@pytest.fixture(scope="module")
def manual(sample_docs) -> list[str]:
    """English Debian Reference sections from samples/: chapters the model was not trained on."""
    keep = pc.and_(pc.equal(sample_docs["source"], "debian-reference"), pc.equal(sample_docs["lang_hint"], "en"))
    return sample_docs.filter(keep)["text"].to_pylist()


@pytest.fixture(scope="module")
def english_pages(web_docs) -> list[str]:
    batch = Language().apply(TextBatch(web_docs.select(["id", "text"]).cast(
        pa.schema([("id", pa.string()), ("text", pa.large_string())])))).batch
    return [t for t, lang in zip(batch.text.to_pylist(), batch.table["language"].to_pylist()) if lang == "en"]


def test_perplexity_is_kenlm_over_sentencepiece_lines(manual):
    sp, lm, _ = load("en")
    text = manual[0]
    log_prob, count = 0.0, 0
    for line in normalize_for_lm([text])[0].split("\n"):
        if line:
            pieces = sp.encode(line, out_type=str)
            log_prob += sum(prob for prob, _, _ in lm.full_scores(" ".join(pieces), bos=True, eos=True))
            count += len(pieces) + 1
    assert Perplexity().score([text])[0] == pytest.approx(10 ** (-log_prob / count), rel=1e-6)  # float32 sums


def test_reference_prose_scores_lower_than_crawled_pages(manual, english_pages):
    stage = Perplexity()
    assert len(manual) >= 20 and len(english_pages) >= 100
    prose, crawl = stage.score(manual), stage.score(english_pages)
    assert np.median(prose) * 1.4 < np.median(crawl)
    decisions = Perplexity(keep_buckets=["head", "middle"]).apply(TextBatch(pa.table(
        {"id": [str(i) for i in range(len(english_pages))], "text": pa.array(english_pages, pa.large_string())})))
    buckets = decisions.batch.table["perplexity_bucket"].to_pylist()
    assert all((r == "perplexity.bucket") == (b == "tail") for r, b in zip(decisions.reasons, buckets))
    assert buckets.count("tail") > len(buckets) / 2, "most crawled pages fall in the tail"


def test_max_perplexity_just_above_and_below(english_pages):
    scores = Perplexity().score(english_pages[:40])
    order = np.argsort(scores)
    low, high = english_pages[order[10]], english_pages[order[11]]
    threshold = (scores[order[10]] + scores[order[11]]) / 2
    assert not math.isclose(scores[order[10]], scores[order[11]])
    batch = TextBatch(pa.table({"id": ["low", "high"], "text": pa.array([low, high], pa.large_string())}))
    decisions = Perplexity(max_perplexity=float(threshold)).apply(batch)
    assert decisions.reasons.tolist() == [None, "perplexity.too_high"]
    assert decisions.details[1]["perplexity"] > threshold


def test_bad_parameters(tmp_path):
    with pytest.raises(ConfigError, match="no perplexity model 'xx'"):
        build_stage("perplexity", {"model": "xx"}, "stage 1")
    with pytest.raises(ConfigError, match="keep_buckets"):
        build_stage("perplexity", {"keep_buckets": ["top"]}, "stage 1")


def test_only_documents_in_the_models_language_are_scored(sample_docs):
    table = sample_docs.filter(pc.equal(sample_docs["source"], "debian-reference")).select(["id", "text"]).cast(
        pa.schema([("id", pa.string()), ("text", pa.large_string())]))
    tagged = Language().apply(TextBatch(table)).batch
    decisions = Perplexity(keep_buckets=["head"]).apply(tagged)
    languages = tagged.table["language"].to_pylist()
    perplexity = decisions.batch.table["perplexity"].to_pylist()
    for language, value, reason in zip(languages, perplexity, decisions.reasons):
        if language != "en":
            assert math.isnan(value) and reason is None
        else:
            assert value > 0
    assert "de" in languages and "en" in languages
