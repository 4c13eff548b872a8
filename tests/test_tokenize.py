"""Tokenizer training and token shards: round trip on every document of samples/, the .idx read by
an independent Megatron-spec parser, windows, an existing tokenizer by path, resume, sampling."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, SAMPLES, read_folder, run_pipeline
from dataprep import ledger, pipeline
from dataprep.errors import ConfigError
from dataprep.stages.train_tokenizer import temperature_probabilities
from dataprep.tokens import TokenDataset

SMALL = {"vocab_size": 2000, "sample_bytes": 1_500_000}  # samples/ is 3.8 MB: a sample of about 40 %
EOS = 2  # "</s>" is id 2 in both families (unk, bos, eos, pad come first)


@pytest.fixture(scope="module", params=["unigram", "bpe", "byte_level_bpe"])
def trained(request, ray_session, tmp_path_factory) -> Path:
    """samples/ through train_tokenizer + tokenize only, so every document is tokenized."""
    out = tmp_path_factory.mktemp(request.param) / "out"
    stats = run_pipeline([{"train_tokenizer": {"model_type": request.param, **SMALL}}, {"tokenize": {}}], SAMPLES, out)
    assert stats["invariant_ok"]
    return out


def shard_names(out: Path) -> list[str]:
    return [s["name"] for s in json.loads((out / "tokens" / "manifest.json").read_text())["shards"]]


def test_round_trip_every_sample_document(trained, sample_docs):
    """Decoding each document's tokens gives its text back exactly: the trained tokenizers keep
    text byte-exact (SentencePiece with the identity normalization and byte fallback; byte-level
    BPE is lossless by construction), so the tokenizer's normalization is the identity here."""
    from dataprep.tokenizer import Tokenizer

    card = json.loads((trained / "tokenizer" / "card.json").read_text())
    tokenizer = Tokenizer(trained / "tokenizer" / card["file"])
    ds = TokenDataset(trained / "tokens")
    texts = [t for name in shard_names(trained) for t in pq.read_table(trained / "kept" / f"{name}.parquet")["text"].to_pylist()]
    assert len(ds) == len(texts) == sample_docs.num_rows == 1259
    assert sorted(texts) == sorted(sample_docs["text"].to_pylist())
    mismatched = [i for i, text in enumerate(texts) if ds[i][-1] != EOS or tokenizer.decode(ds[i][:-1].tolist()) != text]
    assert mismatched == []
    assert ds.num_tokens == json.loads((trained / "stats.json").read_text())["outputs"]["tokenize"]["tokens"]
    # what the sample was: about sample_bytes of text, and decide() marks the same documents resolve drew
    kept = read_folder(trained / "kept")
    drawn = kept.filter(kept["tokenizer_sample"])
    assert card["sample"]["documents"] == drawn.num_rows
    assert 0.8 * SMALL["sample_bytes"] < card["sample"]["bytes"] < 1.25 * SMALL["sample_bytes"]


def test_special_pieces_in_a_documents_text_are_text(trained):
    """A document that writes `</s>` (HTML's strike-through, a tokenizer tutorial) gets no end of
    document in its middle, nor any other special id: byte-level BPE matched them in the text.
    SentencePiece's `\u2581` stands for its space: it comes back as one (docs/tokenization.md)."""
    from dataprep.tokenizer import Tokenizer

    card = json.loads((trained / "tokenizer" / "card.json").read_text())
    tokenizer = Tokenizer(trained / "tokenizer" / card["file"])
    text = "Close it with </s> as usual; <s>, <pad> and <unk> are tags too."
    (ids,) = tokenizer.encode([text])
    assert not {0, 1, 2, 3} & set(ids) and tokenizer.decode(ids) == text
    (ids,) = tokenizer.encode(["trend \u2581\u2582\u2583"])
    assert tokenizer.decode(ids) == ("trend \u2581\u2582\u2583" if card["model_type"] == "byte_level_bpe" else "trend  \u2582\u2583")


def test_idx_read_by_an_independent_megatron_parser(trained):
    """Parse each .idx with plain numpy at the offsets of Megatron-LM's MMIDIDX spec, not with our reader."""
    card = json.loads((trained / "tokenizer" / "card.json").read_text())
    if card["file"] == "tokenizer.model":
        import sentencepiece as spm

        encode = spm.SentencePieceProcessor(model_file=str(trained / "tokenizer" / card["file"])).encode
    else:
        from tokenizers import Tokenizer

        hf = Tokenizer.from_file(str(trained / "tokenizer" / card["file"]))
        encode = lambda text: hf.encode(text, add_special_tokens=False).ids  # noqa: E731
    for name in shard_names(trained):
        raw = (trained / "tokens" / f"{name}.idx").read_bytes()
        assert raw[:9] == b"MMIDIDX\x00\x00"
        version, code, n_seq, n_doc = (int(np.frombuffer(raw, "<u8", 1, 9)[0]), raw[17],
                                       int(np.frombuffer(raw, "<u8", 1, 18)[0]), int(np.frombuffer(raw, "<u8", 1, 26)[0]))
        assert (version, code) == (1, 8)  # 8 = uint16 in Megatron's DType table; a 2,000 vocabulary fits
        lengths = np.frombuffer(raw, "<i4", n_seq, 34)
        pointers = np.frombuffer(raw, "<i8", n_seq, 34 + 4 * n_seq)
        doc_index = np.frombuffer(raw, "<i8", n_doc, 34 + 12 * n_seq)
        assert len(raw) == 34 + 12 * n_seq + 8 * n_doc
        assert n_doc == n_seq + 1 and doc_index.tolist() == list(range(n_seq + 1))
        assert pointers.tolist() == (np.concatenate([[0], np.cumsum(lengths)[:-1]]) * 2).tolist()
        flat = np.fromfile(trained / "tokens" / f"{name}.bin", dtype="<u2")
        assert flat.size == lengths.sum()
        kept = pq.read_table(trained / "kept" / f"{name}.parquet")
        assert kept["num_tokens"].to_pylist() == lengths.tolist()
        for text, start, length in list(zip(kept["text"].to_pylist(), pointers // 2, lengths))[::7]:
            assert flat[start: start + length].tolist() == encode(text) + [EOS]


def test_large_vocabulary_shards_are_int32(tmp_path):
    """Past 65,536 ids the .bin is int32 (Megatron code 4: it has no uint32); empty documents too."""
    from dataprep.tokens import dtype_for, write_shard

    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 40, 500)
    flat = rng.integers(0, 100_000, int(lengths.sum())).astype(dtype_for(100_000))
    write_shard(tmp_path / "part-0-0", flat, lengths)
    raw = (tmp_path / "part-0-0.idx").read_bytes()
    assert raw[17] == 4 and (lengths == 0).any()
    pointers = np.frombuffer(raw, "<i8", 500, 34 + 4 * 500)
    stored = np.fromfile(tmp_path / "part-0-0.bin", dtype="<i4")
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i in range(500):
        assert stored[pointers[i] // 4: pointers[i] // 4 + lengths[i]].tolist() == flat[starts[i]: starts[i + 1]].tolist()
    assert stored.max() >= 2**16


def test_windows_cross_shard_boundaries(trained):
    ds = TokenDataset(trained / "tokens")
    stream = np.concatenate([ds[i] for i in range(len(ds))])
    length = 2048
    assert ds.num_windows(length) == len(stream) // length > 100
    for j in range(ds.num_windows(length)):
        assert np.array_equal(ds.window(j, length), stream[j * length: (j + 1) * length])
    with pytest.raises(IndexError):
        ds.window(ds.num_windows(length), length)


@pytest.mark.parametrize("source", ["trained tokenizer.json", "shipped en.sp.model"])
def test_existing_tokenizer_by_path(ray_session, tmp_path, source, tmp_path_factory):
    """tokenize alone, with a tokenizer file: the shards hold that tokenizer's own encoding."""
    shard = SAMPLES / "shard-00.parquet"
    if source == "shipped en.sp.model":
        model = REPO / "dataprep" / "models" / "en.sp.model"
        import sentencepiece as spm

        encode = spm.SentencePieceProcessor(model_file=str(model)).encode
    else:
        out = tmp_path / "train"
        run_pipeline([{"train_tokenizer": {"model_type": "byte_level_bpe", **SMALL}}, {"tokenize": {}}], shard, out)
        model = tmp_path / "elsewhere" / "tokenizer.json"
        model.parent.mkdir()
        shutil.copy(out / "tokenizer" / "tokenizer.json", model)
        from tokenizers import Tokenizer

        hf = Tokenizer.from_file(str(model))
        encode = lambda text: hf.encode(text, add_special_tokens=False).ids  # noqa: E731
    # given relative to where dataprep runs: the manifest names it whole, so it is found from anywhere
    stats = run_pipeline([{"tokenize": {"tokenizer": os.path.relpath(model)}}], shard, tmp_path / "o")
    assert stats["invariant_ok"] and stats["outputs"]["tokenize"]["documents"] == 315
    manifest = json.loads((tmp_path / "o" / "tokens" / "manifest.json").read_text())
    import hashlib

    assert manifest["tokenizer"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert manifest["tokenizer"]["path"] == str(model)
    ds = TokenDataset(tmp_path / "o" / "tokens")
    texts = read_folder(tmp_path / "o" / "kept")["text"].to_pylist()
    assert [ds[i].tolist() for i in range(len(ds))] == [encode(t) + [manifest["tokenizer"]["eos_id"]] for t in texts]


def test_resume_rebuilds_a_lost_shard_identically(ray_session, tmp_path):
    stages = [{"train_tokenizer": {"model_type": "unigram", **SMALL}}, {"tokenize": {}}]
    out = tmp_path / "o"
    run_pipeline(stages, SAMPLES, out, keep_work=True)  # kept, as a run stopped before its end leaves it
    name = shard_names(out)[1]
    before = (out / "tokens" / f"{name}.bin").read_bytes()
    manifest = (out / "tokens" / "manifest.json").read_text()
    # a run killed after this part's kept shard but before its marker: the shard is half there
    (out / "tokens" / f"{name}.idx").unlink()
    (out / "tokens" / f"{name}.bin").write_bytes(before[:100])
    next(out.glob(f"_parts/s1-{name[5:]}.json")).unlink()
    stats = run_pipeline(stages, SAMPLES, out)
    assert stats["invariant_ok"]
    assert (out / "tokens" / f"{name}.bin").read_bytes() == before
    assert (out / "tokens" / "manifest.json").read_text() == manifest


def test_temperature_sampling_by_hand():
    """800/150/50 bytes, 500 to draw, alpha 0.5: quotas go as sqrt(share); the smallest language's
    quota (74) exceeds its 50 bytes, so it is taken whole and its surplus goes to the others."""
    p = temperature_probabilities({"en": 800, "de": 150, "fy": 50}, 500, 0.5)
    assert p["fy"] == 1.0
    en, de = 800 * p["en"], 150 * p["de"]
    assert en + de + 50 == pytest.approx(500)
    assert en / de == pytest.approx((800 / 150) ** 0.5)
    assert p["en"] == pytest.approx(0.3925, abs=1e-3) and p["de"] == pytest.approx(0.9067, abs=1e-3)
    assert temperature_probabilities({"en": 800, "de": 150}, 10_000, 0.3) == {"en": 1.0, "de": 1.0}


@pytest.mark.parametrize("stages, message", [
    ([{"tokenize": {"tokenizer": str(REPO / "dataprep/models/en.sp.model")}}, {"length": {}}], "must be the last stage"),
    ([{"tokenize": {}}], "put train_tokenizer before it"),
    ([{"tokenize": {"tokenizer": "no/such/tokenizer.model"}}], "tokenizer file not found"),
    ([{"tokenize": {"tokenizer": str(SAMPLES / "NOTICE")}}], "expected a SentencePiece .model or a tokenizer.json"),
    ([{"train_tokenizer": {"model_type": "wordpiece"}}], "model_type must be one of"),
    ([{"tokenize": {"dtype": "uint32"}}], "dtype must be one of auto, uint16, int32"),
    # settings SentencePiece refused only after the corpus was read: an internal error, again on every resume
    ([{"train_tokenizer": {"vocab_size": 0}}], r"vocab_size \(0\) must exceed the 4 special"),
    ([{"train_tokenizer": {"character_coverage": 2.0}}], r"character_coverage must be in \(0, 1\]"),
    ([{"train_tokenizer": {"max_sentence_length": 0}}], r"max_sentence_length must be within \[10, 2\^30\]"),
    ([{"train_tokenizer": {"max_sentence_length": 9}}], r"max_sentence_length must be within \[10, 2\^30\]"),
    ([{"train_tokenizer": {"unk": "<s>"}}], "must be distinct non-empty strings"),
    ([{"train_tokenizer": {"user_symbols": ["</s>"]}}], "must be distinct non-empty strings"),
    ([{"train_tokenizer": {"normalization": "nfc"}}], "normalization must be one of"),
])
def test_configuration_errors_are_one_line(stages, message):
    with pytest.raises(ConfigError, match=message):
        pipeline.from_dict({"input": "samples/", "output": "out/x", "stages": stages})


def test_tokens_pipeline_on_samples(ray_session, tmp_path):
    """pipelines/tokens.yaml: quality and dedup, then a tokenizer trained on what is left."""
    from dataprep.run import run

    stats = run(pipeline.load(REPO / "pipelines" / "tokens.yaml", {"input": str(SAMPLES), "output": str(tmp_path / "o")}))
    assert stats["invariant_ok"]
    kept = read_folder(tmp_path / "o" / "kept")
    assert 0 < kept.num_rows < 1259 and stats["outputs"]["tokenize"]["documents"] == kept.num_rows
    assert TokenDataset(tmp_path / "o" / "tokens").num_tokens == sum(kept["num_tokens"].to_pylist())
    card = json.loads((tmp_path / "o" / "tokenizer" / "card.json").read_text())
    corpus = {row["language"]: row for row in card["corpus"]}
    assert set(corpus) == set(kept["language"].to_pylist()) and "de" in corpus and "en" in corpus
    # temperature: the largest language is drawn with the smallest probability
    largest = max(corpus.values(), key=lambda r: r["bytes"])
    assert largest["probability"] == min(r["probability"] for r in corpus.values()) < 1.0


def test_sample_is_the_same_whatever_the_sharding(ray_session, tmp_path, sample_docs):
    """The draw is a hash of each id against its language's probability: one reversed file cut in
    many parts and four files in order give the same sample (and the same card). The samples'
    own `lang_hint` column stands in for the language stage here."""
    from conftest import one_and_four_shards

    one, four = one_and_four_shards(sample_docs, tmp_path)
    stages = [{"train_tokenizer": {"model_type": "byte_level_bpe", "language_column": "lang_hint", **SMALL}}]
    run_pipeline(stages, one, tmp_path / "a", part_bytes=1)
    run_pipeline(stages, four, tmp_path / "b")
    drawn = []
    for out in (tmp_path / "a", tmp_path / "b"):
        kept = read_folder(out / "kept")
        drawn.append(sorted(kept.filter(kept["tokenizer_sample"])["id"].to_pylist()))
    assert drawn[0] == drawn[1] and 0 < len(drawn[0]) < sample_docs.num_rows
    cards = [json.loads((out / "tokenizer" / "card.json").read_text()) for out in (tmp_path / "a", tmp_path / "b")]
    assert cards[0]["corpus"] == cards[1]["corpus"] and cards[0]["sample"] == cards[1]["sample"]
    assert "unknown" in {row["language"] for row in cards[0]["corpus"]}  # documents without a lang_hint
    # byte-level BPE counts words, so the same sample in another order trains the same tokenizer
    assert cards[0]["sha256"] == cards[1]["sha256"]


def test_same_tokenizer_resolved_on_the_driver_or_on_ray_data(ray_session, tmp_path, monkeypatch):
    """Keys within one partition's rows and bytes are resolved on the driver as one table (no Ray
    Data); above resolution.PARTITION_BYTES, on Ray Data: the same sample, card and SentencePiece
    model byte for byte (it trains on the sample in the keys' order, kept by both)."""
    from dataprep import resolution

    stages = [{"train_tokenizer": {"language_column": "lang_hint", **SMALL, "vocab_size": 3000}}]  # the samples need 2,305 pieces for their characters
    resolved_here = []  # the decision folders written by this process (the id check's is not one)
    written = resolution.write_decisions_table
    monkeypatch.setattr(resolution, "write_decisions_table", lambda *a: resolved_here.append(str(a[1])) or written(*a))
    run_pipeline(stages, SAMPLES, tmp_path / "driver")
    assert any("decisions" in folder for folder in resolved_here)
    resolved_here.clear()
    monkeypatch.setattr(resolution, "PARTITION_BYTES", 0)
    run_pipeline(stages, SAMPLES, tmp_path / "ray")
    assert not any("decisions" in folder for folder in resolved_here)
    drawn = []
    for out in ("driver", "ray"):
        kept = read_folder(tmp_path / out / "kept")
        drawn.append(kept.filter(kept["tokenizer_sample"])["id"].to_pylist())
    assert drawn[0] == drawn[1] and drawn[0]
    cards = [json.loads((tmp_path / out / "tokenizer" / "card.json").read_text()) for out in ("driver", "ray")]
    assert cards[0]["sha256"] == cards[1]["sha256"] and cards[0]["sample"] == cards[1]["sample"]


def test_nothing_left_to_train_on(ray_session, tmp_path):
    """Every document removed before train_tokenizer: the run still ends, accounted, and says why."""
    stages = [{"length": {"min_words": 10**9}}, {"train_tokenizer": {"vocab_size": 1000}}, {"tokenize": {}}]
    stats = run_pipeline(stages, SAMPLES / "shard-00.parquet", tmp_path / "o")
    assert stats["invariant_ok"] and stats["output"]["removed"] == 315
    assert "no documents reached train_tokenizer" in stats["outputs"]["train_tokenizer"]["error"]
    # the card says it too (docs/tokenization.md lists it as an output; there was no tokenizer/ folder)
    assert json.loads((tmp_path / "o" / "tokenizer" / "card.json").read_text()) == {"error": stats["outputs"]["train_tokenizer"]["error"]}
    assert stats["outputs"]["tokenize"] == {"documents": 0, "tokens": 0, "dtype": None}
    assert len(TokenDataset(tmp_path / "o" / "tokens")) == 0


def test_a_sample_too_small_to_draw_a_document_says_so(ray_session, tmp_path):
    """sample_bytes below a document's size draws nothing: the card says that, not that no
    document reached the stage (every one did)."""
    stats = run_pipeline([{"train_tokenizer": {"vocab_size": 1000, "sample_bytes": 100}}], SAMPLES / "shard-00.parquet", tmp_path / "o")
    error = stats["outputs"]["train_tokenizer"]["error"]
    assert "the sample drew none of the 315 documents" in error and "raise sample_bytes (100)" in error


@pytest.mark.parametrize("model_type", ["unigram", "byte_level_bpe"])
def test_a_vocabulary_smaller_than_asked_is_said(ray_session, tmp_path, model_type):
    """Eleven documents cannot hold 2,000 pieces: the card recorded vocab_size 2000 while the
    tokens' manifest held 318; the card records what was learned and the run says why."""
    out = tmp_path / "o"
    stats = run_pipeline([{"train_tokenizer": {"model_type": model_type, "vocab_size": 2000}}, {"tokenize": {}}],
                         SAMPLES / "shard-00.parquet", out, limit=11)
    card = json.loads((out / "tokenizer" / "card.json").read_text())
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    assert card["vocab_size"] == manifest["tokenizer"]["vocab_size"] < 2000 == card["parameters"]["vocab_size"], (card, manifest)
    assert f"a vocabulary of {card['vocab_size']:,} pieces, not vocab_size 2,000" in card["note"]
    assert f"train_tokenizer: {card['note']}" in ledger.table(stats)


def test_dtype_int32_holds_the_same_ids_as_uint16(ray_session, tmp_path):
    """`dtype` as DESIGN.md's example gives it (uint16), and int32: the same ids, another width."""
    shard, model = SAMPLES / "shard-01.parquet", str(REPO / "dataprep" / "models" / "en.sp.model")
    streams = {}
    for dtype in ("uint16", "int32"):
        stats = run_pipeline([{"tokenize": {"tokenizer": model, "dtype": dtype}}], shard, tmp_path / dtype)
        assert stats["invariant_ok"] and stats["outputs"]["tokenize"]["dtype"] == dtype
        ds = TokenDataset(tmp_path / dtype / "tokens")
        assert ds[0].dtype == np.dtype(dtype)
        streams[dtype] = [ds[i].tolist() for i in range(len(ds))]
    assert streams["uint16"] == streams["int32"] and len(streams["int32"]) == pq.read_metadata(shard).num_rows


def test_the_contract_example_pipeline_is_accepted():
    """The pipeline YAML of DESIGN.md (the project's contract) configures without an error."""
    import yaml

    design = REPO.parent / "shared" / "DESIGN.md"
    if not design.exists():
        pytest.skip(f"{design} not found")
    text = design.read_text(encoding="utf-8")
    block = text[text.index("    name: default"):text.index("    dataprep run pipelines/default.yaml")]
    config = yaml.safe_load("\n".join(line[4:] for line in block.splitlines()))
    stages = pipeline.from_dict(config).stages
    assert [s.name for s in stages][-1] == "tokenize" and stages[-1].dtype == "uint16"


def test_keys_bound_by_their_size_in_memory_not_by_parquet(ray_session, tmp_path, monkeypatch):
    """Repeated texts: Parquet's footer counts them after dictionary encoding (a few KB for 300
    copies of a 7 KB text), Arrow holds every copy (2.1 MB). The driver's byte bound is on the
    latter: above it, the resolve goes to Ray Data."""
    import pyarrow as pa

    from dataprep import resolution
    from dataprep.stages.train_tokenizer import TrainTokenizer

    text = " ".join(f"word{i}" for i in range(1000))  # ~7 KB
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(300)], "text": [text] * 300}), tmp_path / "in.parquet")
    monkeypatch.setattr(resolution, "PARTITION_BYTES", 2**20)
    seen = []
    monkeypatch.setattr(TrainTokenizer, "resolve", lambda self, records, n: seen.append(type(records)))  # the path only
    run_pipeline([{"train_tokenizer": {**SMALL}}], tmp_path / "in.parquet", tmp_path / "o")
    assert seen and not any(issubclass(t, pa.Table) for t in seen)


def test_driver_frees_the_keys_before_training(ray_session, tmp_path, monkeypatch):
    """On the driver path the keys (every document's text) are dropped once the sample is drawn:
    training holds the sample and the trainer's memory, not the keys as well."""
    import weakref

    from dataprep.stages import train_tokenizer

    refs, alive = [], []
    sampled = train_tokenizer._sampled
    monkeypatch.setattr(train_tokenizer, "_sampled", lambda table, p: refs.append(weakref.ref(table)) or sampled(table, p))
    train = train_tokenizer.TrainTokenizer.train
    monkeypatch.setattr(train_tokenizer.TrainTokenizer, "train", lambda self, feed: alive.append(refs[0]() is not None) or train(self, feed))
    run_pipeline([{"train_tokenizer": {**SMALL}}], SAMPLES / "shard-00.parquet", tmp_path / "o")
    assert alive == [False]


def test_two_outputs_sharing_a_work_dir_each_get_their_tokenizer(ray_session, tmp_path):
    """The same pipeline and input to two outputs with one --work-dir (the README's shared
    scratch folder): the second found the first's finished resolve in a folder named by the
    fingerprint alone, trained nothing into its own output, and quarantined every document."""
    stages = [{"train_tokenizer": {"model_type": "unigram", **SMALL}}, {"tokenize": {}}]
    shard = SAMPLES / "shard-00.parquet"
    outputs = [tmp_path / "first", tmp_path / "second"]
    for out in outputs:
        stats = run_pipeline(stages, shard, out, work_dir=str(tmp_path / "scratch"))
        assert stats["invariant_ok"] and stats["output"]["quarantined"] == 0, stats["output"]
        assert (out / "tokenizer" / "card.json").exists()
    assert read_folder(outputs[0] / "kept").num_rows == read_folder(outputs[1] / "kept").num_rows > 0


def test_a_run_whose_tokenizer_file_changed_is_not_resumed(ray_session, tmp_path):
    """A run interrupted, its tokenizer file then replaced: the same command must not resume it
    (the parts done hold the old tokenizer's ids, the rest would hold the new one's, and the
    manifest names one); the files stages read are part of the run's fingerprint."""
    import sentencepiece as spm

    model = tmp_path / "tok.model"
    shutil.copy(REPO / "dataprep" / "models" / "en.sp.model", model)
    shard, out = SAMPLES / "shard-00.parquet", tmp_path / "o"
    stages = [{"tokenize": {"tokenizer": str(model)}}]
    run_pipeline(stages, shard, out, part_bytes=200_000)
    assert len(list(out.glob("_parts/s0-*.json"))) > 1
    next(out.glob("_parts/s0-*.json")).unlink()  # an interrupted run: one part still to do
    (out / "stats.json").unlink()
    other = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(read_folder(out / "kept")["text"].to_pylist()), model_writer=other,
                                   vocab_size=2000, hard_vocab_limit=False, character_coverage=0.99, minloglevel=2)
    model.write_bytes(other.getvalue())
    with pytest.raises(ConfigError, match=f"holds a different run .*: file a stage reads {model} changed"):
        run_pipeline(stages, shard, out, part_bytes=200_000)
    from dataprep.run import _identity

    # a run whose stages read no file has the fingerprint it had before files were counted (a finished run stays finished)
    assert "stage_files" not in _identity(pipeline.from_dict({"input": str(shard), "output": str(out), "stages": [{"normalize": {}}]}), [str(shard)])


def _word_level(path: Path, vocab: dict[str, int], special: bool = True) -> Path:
    """A tokenizer.json of whole words (the tokenizers library's WordLevel model), whose `</s>`
    is an added token, special or not."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_tokens([AddedToken("</s>", special=special)])
    tokenizer.save(str(path))
    return path


def test_the_shards_dtype_follows_the_largest_id_not_the_number_of_entries(tmp_path):
    """A vocabulary may skip ids: 4 entries, the largest id 70,000, which uint16 cannot hold."""
    from dataprep.stages.tokenize import Tokenize

    path = _word_level(tmp_path / "tokenizer.json", {"[UNK]": 0, "hello": 1, "</s>": 2, "big": 70_000})
    stage = Tokenize(tokenizer=str(path))
    assert stage._dtype(stage._tokenizer()) == np.int32
    with pytest.raises(ValueError, match="dtype uint16 holds ids below 65,536"):
        Tokenize(tokenizer=str(path), dtype="uint16")


@pytest.mark.parametrize("case", ["eos matched in text", "cannot encode", "not a tokenizer", "not a model"])
def test_tokenizers_that_cannot_be_used_are_one_line_errors(tmp_path, case):
    """An end of document the encoder also makes from text (an added token not marked special: a
    document quoting "</s>" would be cut there), a tokenizer that raises on text (a WordLevel
    vocabulary without its unknown token: it was an internal error that said to resume), or a file
    the library cannot read: a configuration error naming the file, before any document is read."""
    if case == "eos matched in text":
        path, message = _word_level(tmp_path / "tokenizer.json", {"[UNK]": 0, "a": 1, "b": 3}, special=False), "also matched in text"
    elif case == "cannot encode":
        path, message = _word_level(tmp_path / "tokenizer.json", {"a": 1, "b": 3}), "cannot encode text .*Missing \\[UNK\\]"
    else:
        path = tmp_path / ("tokenizer.json" if case == "not a tokenizer" else "tokenizer.model")
        path.write_text('{"not": "a tokenizer"}' if case == "not a tokenizer" else "plain text\n")
        message = "is not a readable " + ("tokenizer.json" if case == "not a tokenizer" else "SentencePiece model")
    with pytest.raises(ConfigError, match=message):
        pipeline.from_dict({"input": "samples/", "output": "out/x", "stages": [{"tokenize": {"tokenizer": str(path)}}]})


def test_an_end_of_document_made_from_text_anywhere_is_refused(tmp_path):
    """Only a special token ends documents: a plain piece of a byte-level BPE is made from text
    after a bracket or a newline but not between words ("tion" vs "Ġ..."), and the check, which
    tried it between words only, let 24 of 166 documents hold an end of document inside them."""
    from tokenizers import Tokenizer as HFTokenizer

    from dataprep.stages.tokenize import Tokenize
    from dataprep.stages.train_tokenizer import TextFeed, TrainTokenizer
    from dataprep.tokenizer import Tokenizer

    texts = pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"])["text"].combine_chunks()
    name, model = TrainTokenizer(model_type="byte_level_bpe", vocab_size=600).train(TextFeed(iter([texts.cast(pa.large_string())])))
    path = tmp_path / name
    path.write_bytes(model)
    plain = (t for t in HFTokenizer.from_file(str(path)).get_vocab() if t.isalpha() and len(t) >= 3)
    hidden = [t for t in plain if (tok := Tokenizer(path, t)).eos_id not in tok.encode([f"a {t} b"])[0] and tok.eos_id in tok.encode([f"({t})"])[0]]
    assert hidden
    with pytest.raises(ValueError, match="also matched in text"):
        Tokenize(tokenizer=str(path), eos=hidden[0])


def test_byte_level_user_symbols_are_pieces_of_text(tmp_path):
    """A user symbol is never split, in every family: byte-level BPE too (they were trained as
    special tokens, which tokenize never matches in text, so "<|im_start|>" came out in 8 pieces)."""
    from dataprep.stages.train_tokenizer import TextFeed, TrainTokenizer
    from dataprep.tokenizer import Tokenizer

    texts = pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"])["text"].combine_chunks()
    stage = TrainTokenizer(model_type="byte_level_bpe", vocab_size=600, user_symbols=["<|im_start|>"])
    name, model = stage.train(TextFeed(iter([texts.cast(pa.large_string())])))
    (tmp_path / name).write_bytes(model)
    tokenizer = Tokenizer(tmp_path / name)
    ids = tokenizer.encode(["<|im_start|>user hi </s>"])[0]
    assert ids[0] == 4 and tokenizer.decode(ids[:1]) == "<|im_start|>"  # after unk, bos, eos, pad
    assert EOS not in ids, "the end of document in a document's text is still text"


@pytest.mark.parametrize("stages, message", [
    ([{"train_tokenizer": {"vocab_size": 100}}], "SentencePiece cannot train on the sample: Vocabulary size is smaller"),
    ([{"train_tokenizer": SMALL}, {"tokenize": {"eos": "<nope>"}}], "tokenize: .* has no end-of-document token '<nope>'"),
    ([{"train_tokenizer": {**SMALL, "user_symbols": ["<|endoftext|>"]}}, {"tokenize": {"eos": "<|endoftext|>"}}],
     "also matched in text"),
])
def test_a_tokenizer_the_run_cannot_train_or_use_stops_it_with_one_line(ray_session, tmp_path, stages, message):
    """Known only once the sample is drawn or the tokenizer trained: the run stops with one line
    (it quarantined every document one by one, or ended in an internal error that a rerun repeats)."""
    with pytest.raises(ConfigError, match=message):
        run_pipeline(stages, SAMPLES / "shard-00.parquet", tmp_path / "o")
    assert not (tmp_path / "o" / "quarantine").exists() or not list((tmp_path / "o" / "quarantine").glob("*.parquet"))


def test_lines_sentencepiece_would_skip_are_left_out_and_counted():
    """SentencePiece skips lines longer than max_sentence_length without a word; the card counted
    them as trained on. The feed leaves them out and counts them."""
    from dataprep.stages.train_tokenizer import TextFeed

    feed = TextFeed(iter([pa.array(["short line\n" + "x" * 40 + "\n\nanother", "é" * 6], pa.large_string())]), max_line_bytes=11)
    assert list(feed.lines_of_text()) == ["short line", "another"] and (feed.lines, feed.long_lines) == (2, 2)  # é is 2 bytes


def test_a_sample_of_lines_all_too_long_says_so(ray_session, tmp_path):
    """Documents of one long line each (pages whose newlines were lost): nothing to train on, said
    as such (it was an internal error, `!sentences_.empty()`, on every rerun)."""
    texts = pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"])["text"].to_pylist()
    one_line = tmp_path / "one_line.parquet"
    pq.write_table(pa.table({"text": [" ".join(t.split()) for t in texts if len(t) > 200]}), one_line)
    stats = run_pipeline([{"train_tokenizer": {**SMALL, "max_sentence_length": 100}}], one_line, tmp_path / "o")
    assert "longer than max_sentence_length (100 bytes" in stats["outputs"]["train_tokenizer"]["error"]


def test_the_same_sample_trains_the_same_sentencepiece_model_on_any_machine(monkeypatch):
    """SentencePiece's model depends on its thread count, which was the machine's core count: the
    same data, pipeline and seed gave another vocabulary on a machine with more cores."""
    from dataprep.stages.train_tokenizer import TextFeed, TrainTokenizer

    texts = pa.concat_arrays([pq.read_table(f, columns=["text"])["text"].combine_chunks().cast(pa.large_string())
                              for f in sorted(SAMPLES.glob("shard-0[01].parquet"))])
    models = set()
    for cores in (1, 2):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        models.add(TrainTokenizer(vocab_size=2000).train(TextFeed(iter([texts])))[1])
    assert len(models) == 1
