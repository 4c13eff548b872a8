"""`minhash_dedup`: datasketch-identical signatures, real near-duplicates found, deterministic."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datasketch import MinHash

from conftest import SHARED_DATA, one_and_four_shards, read_folder, run_pipeline
from dataprep.stages.base import TextBatch
from dataprep.stages.minhash_dedup import MinhashDedup, shingle_hashes
from dataprep.text import folded_word_hashes

#: FineWeb's 14 bands x 8 rows unverified: the modabot pair (Jaccard 0.84) is found with
#: probability 0.98; datasketch's optimum for 0.8 (9 x 12) finds a pair at 0.84 with probability 0.69
FINEWEB = {"bands": 14, "rows": 8, "verify": None}
#: the defaults: 14 x 8 alone also merges two Enron mails that share a quoted thread (Jaccard
#: 0.375, a 0.5% chance per such pair); verifying candidates' estimated Jaccard >= 0.7 drops it
STAGES = [{"normalize": {}}, {"exact_dedup": {}}, {"minhash_dedup": {}}]


def test_signatures_equal_datasketch_bit_for_bit(web_docs):
    batch = TextBatch(web_docs.select(["id", "text"]).slice(0, 60).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())])))
    stage = MinhashDedup(num_perm=128, seed=7)
    ours, has = stage.signatures(batch)
    hashes, docs = shingle_hashes(batch.text, 5)
    for i in range(60):
        if not has[i]:
            continue
        reference = MinHash(num_perm=128, seed=7, hashfunc=lambda h: h)
        reference.update_batch([int(h) for h in hashes[docs == i]])
        assert np.array_equal(reference.hashvalues, ours[i]), i


def words_of(text: str) -> list[str]:
    return re.sub(r"\d", "0", re.sub(r"[^\w\s]|_", " ", text.lower())).split()


def jaccard(x: str, y: str) -> float:
    a = {tuple(w[i:i + 5]) for w in [words_of(x)] for i in range(max(1, len(w) - 4))}
    b = {tuple(w[i:i + 5]) for w in [words_of(y)] for i in range(max(1, len(w) - 4))}
    return len(a & b) / len(a | b)


def test_real_near_duplicates_and_no_false_positives(ray_session, tmp_path, shared_data):
    stats = run_pipeline(STAGES, SHARED_DATA, tmp_path / "o")
    assert stats["invariant_ok"]
    removed = [r for r in read_folder(tmp_path / "o" / "removed").to_pylist() if r["stage"] == "minhash_dedup"]
    kept = read_folder(tmp_path / "o" / "kept")
    text_of = dict(zip(kept["id"].to_pylist(), kept["text"].to_pylist()))
    pairs = {(r["id"], json.loads(r["details"])["duplicate_of"]) for r in removed}
    assert ("trafilatura:eval/modabot.de.serkan.html", "trafilatura:eval/archive.modabot.de.serkan.html") in pairs
    oscar = [p for p in pairs if p[0].startswith("oscar2019:unshuffled_original_")]
    assert len(oscar) >= 15, "OSCAR original vs line-deduplicated copies of the same page"
    similarities = [jaccard(r["text"], text_of[json.loads(r["details"])["duplicate_of"]]) for r in removed]
    assert min(similarities) >= 0.5, "no removal of a pair below Jaccard 0.5"
    sizes = kept["cluster_size"].to_pylist()
    assert max(sizes) >= 2 and set(kept["cluster_id"].to_pylist()) >= {p[1] for p in pairs}

    # the ledger explains a removal: which document it duplicated, and how similar they are
    from dataprep.explain import explain

    report = explain(tmp_path / "o", "trafilatura:eval/modabot.de.serkan.html")
    assert "removed by stage minhash_dedup: minhash_dedup.near_dup" in report
    assert "duplicate_of: trafilatura:eval/archive.modabot.de.serkan.html" in report
    similarity = float(re.search(r"Jaccard similarity of word 5-grams with \S+ \(its text as kept, after the later stages\): ([0-9.]+)",
                                 report).group(1))
    assert similarity == pytest.approx(jaccard(*(text_of.get(i) or next(r["text"] for r in removed if r["id"] == i)
                                                 for i in ("trafilatura:eval/modabot.de.serkan.html",
                                                           "trafilatura:eval/archive.modabot.de.serkan.html"))), abs=0.02)
    assert "kept: it passed every stage" in explain(tmp_path / "o", "trafilatura:eval/archive.modabot.de.serkan.html")


def test_same_clusters_with_one_or_four_shards(ray_session, tmp_path, sample_docs):
    one, four = one_and_four_shards(sample_docs, tmp_path)
    stages = [{"normalize": {}}, {"minhash_dedup": {"threshold": 0.7}}]
    stats = run_pipeline(stages, one, tmp_path / "a", part_bytes=1)
    run_pipeline(stages, four, tmp_path / "b")
    a, b = ({r["id"]: r["details"] for r in read_folder(tmp_path / x / "removed").to_pylist()} for x in "ab")
    assert a == b and len(a) > 20
    # normalize's tasks computed the signatures (minhash_dedup's keys): minhash_dedup's time holds them
    markers = [json.loads(m.read_text()) for m in (tmp_path / "a" / "_parts").glob("s0-*.json")]
    keys_seconds = sum(m["keys_seconds"] for m in markers)
    assert len(markers) == stats["input"]["parts"] and keys_seconds > 0
    minhash = stats["stages"][1]
    assert minhash["corpus_seconds"] >= round(keys_seconds, 3) - 0.001 and minhash["seconds"] >= keys_seconds - 0.001


def clusters(out: Path) -> dict[str, str]:
    """Each document's cluster: its own id when kept alone, else the id kept for its cluster."""
    kept = read_folder(out / "kept")
    found = dict(zip(kept["id"].to_pylist(), kept["cluster_id"].to_pylist()))
    removed = read_folder(out / "removed")
    found.update({r["id"]: json.loads(r["details"])["duplicate_of"] for r in removed.to_pylist()} if removed else {})
    return found


def test_distributed_components_equal_in_memory_ones(ray_session, tmp_path, shared_data, monkeypatch):
    """Forcing the Ray Data path (large-star / small-star) gives the scipy path's clusters; from
    a resolve on the driver, in the run's shuffle partitions (not one serial partition)."""
    from dataprep import components, resolution

    run_pipeline([{"minhash_dedup": FINEWEB}], SHARED_DATA, tmp_path / "memory")
    partitions = []
    distributed = components.components_distributed
    monkeypatch.setattr(components, "components_distributed", lambda edges, n, *a: partitions.append(n) or distributed(edges, n, *a))
    run_pipeline([{"minhash_dedup": {**FINEWEB, "component_task_memory": 0}}], SHARED_DATA, tmp_path / "ray")
    assert partitions == [resolution.partitions(1)] and partitions[0] > 1  # the session's 2 CPUs
    memory, ray = clusters(tmp_path / "memory"), clusters(tmp_path / "ray")
    assert memory == ray
    assert sum(doc != root for doc, root in memory.items()) > 300  # the data's own copies, in many clusters


def _components_within_64_mib_more(*blocks: pa.Table):
    """The components task's own function, with this worker's data segment capped 64 MiB above
    what it maps, and Arrow on glibc's allocator (whose large buffers are fresh mappings, where
    mimalloc's would reuse what earlier tests in the worker freed); both restored after, as the
    worker serves other tests."""
    import resource

    from dataprep import components, runtime

    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    runtime.release_memory()
    used = int(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmData")).split()[1]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (used + 64 * 2**20, hard))
    try:
        return components._components_of_blocks(*blocks)
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        pa.set_memory_pool(pool)


def test_components_task_out_of_memory_stops_with_one_line(ray_session, web_docs, monkeypatch):
    """scipy's components in one task, out of memory (real allocations over real ids, ~0.9 GB
    at its peak, the worker's data segment capped): the run stops with one line that names the
    setting to change, not a Ray traceback; uncapped, the same task gives the in-memory decisions."""
    import sys

    import ray.cloudpickle

    from dataprep import components, runtime
    from dataprep.components import EDGE_SCHEMA
    from dataprep.errors import TaskCrashed

    ids = web_docs["id"].to_pylist()
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, len(ids), 1_500_000), rng.integers(0, len(ids), 1_500_000)
    edges = pa.table({"a": pa.array(ids).take(pa.array(a)), "a_part": (a % 4).astype(np.int32),
                      "b": pa.array(ids).take(pa.array(b)), "b_part": (b % 4).astype(np.int32)}, schema=EDGE_SCHEMA)
    real = components._components_of_blocks
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the capped function below runs in the worker
    monkeypatch.setattr(components, "_components_of_blocks", _components_within_64_mib_more)
    with pytest.raises(TaskCrashed) as stopped:
        components.components(runtime.data().from_arrow(edges), 2**31, 2)
    message = str(stopped.value)
    assert "\n" not in message and "1,500,000 edges" in message and "component_task_memory" in message
    assert "MemoryError" in message, message
    monkeypatch.setattr(components, "_components_of_blocks", real)
    one_task = pa.concat_tables(components.components(runtime.data().from_arrow(edges), 2**31, 2).iter_batches(
        batch_format="pyarrow", batch_size=None))
    assert one_task.sort_by("id").equals(components.components_in_memory(edges).sort_by("id"))


def test_same_clusters_resolved_on_the_driver_or_on_ray_data(ray_session, tmp_path, shared_data, monkeypatch):
    """Keys that fit one shuffle partition are resolved on the driver as one table (no Ray
    Data); the shuffles on Ray Data (any corpus above resolution.PARTITION_ROWS) give the same
    clusters, with the default verification's two joins."""
    from dataprep import resolution

    monkeypatch.setattr("dataprep.run.DRIVER_ID_ROWS", 0)  # the id check on Ray Data: the spy below sees the resolve only
    on_the_driver = []
    written = resolution.write_decisions_table
    monkeypatch.setattr(resolution, "write_decisions_table", lambda *a: on_the_driver.append(1) or written(*a))
    run_pipeline([{"minhash_dedup": {}}], SHARED_DATA, tmp_path / "driver")
    assert on_the_driver
    monkeypatch.setattr(MinhashDedup, "resolves_tables", False)
    on_the_driver.clear()
    run_pipeline([{"minhash_dedup": {}}], SHARED_DATA, tmp_path / "ray")
    assert not on_the_driver
    driver, ray = clusters(tmp_path / "driver"), clusters(tmp_path / "ray")
    assert driver == ray
    assert sum(doc != root for doc, root in driver.items()) > 300


@pytest.mark.parametrize("on_ray_data", [False, True], ids=["driver", "ray-data"])
def test_verified_edges_are_those_whose_signatures_agree(ray_session, tmp_path, on_ray_data):
    """_verified's two joins (each signature shuffled once) keep exactly the edges whose ends
    agree on >= verify of the permutations, checked pair by pair: repeated edges, documents at
    both ends of edges and documents in no edge, on the driver and in 3 partitions on Ray Data;
    each end with the part its signature row carries."""
    from dataprep import resolution, runtime
    from dataprep.components import PAIR_SCHEMA
    from dataprep.stages.minhash_dedup import _verified

    rng = np.random.default_rng(5)
    docs, perms = 300, 20
    signature = rng.integers(0, 4, size=(docs, perms), dtype=np.uint32)  # pairs agree on ~25% of permutations
    for i in range(0, 120, 2):  # and near copies, agreeing on 14 to 20 of the 20
        signature[i + 1] = signature[i]
        signature[i + 1, : i % 7] += 1
    ids = [f"d{i:03d}" for i in range(docs)]
    pairs = [(i, i + 1) for i in range(0, 120, 2)] + [tuple(rng.choice(200, 2, replace=False)) for _ in range(150)]
    pairs += pairs[:20]  # an edge found in two bands
    edges = pa.table({"a": [ids[a] for a, _ in pairs], "b": [ids[b] for _, b in pairs]}, schema=PAIR_SCHEMA)
    records = pa.table({"id": ids, "part": pa.array([i % 5 for i in range(docs)], pa.int32()),
                        "signature": pa.array([row.tobytes() for row in signature], pa.binary())})
    expected = {(ids[a], a % 5, ids[b], b % 5) for a, b in pairs if (signature[a] == signature[b]).mean() >= 0.7}
    assert 60 <= len(expected) < len(set(pairs))
    if on_ray_data:
        with resolution.shuffles(str(tmp_path / "shuffle")):
            found = pa.concat_tables(_verified(runtime.data().from_arrow(edges), runtime.data().from_arrow(records), 0.7, 3).iter_batches(
                batch_format="pyarrow", batch_size=None))
    else:
        found = _verified(edges, records, 0.7, 3)
    rows = list(zip(*(found[c].to_pylist() for c in ("a", "a_part", "b", "b_part"))))
    assert len(rows) == len(set(rows)) and set(rows) == expected


def test_verification_drops_candidates_below_the_estimate(ray_session, tmp_path, shared_data):
    """With `verify`, a removal's signature agrees with the kept document's on at least that
    share of permutations, and loose LSH settings (4 x 4 bands) stop merging unrelated pages."""
    loose = {"bands": 4, "rows": 4, "verify": None}
    run_pipeline([{"minhash_dedup": loose}], SHARED_DATA, tmp_path / "loose")
    run_pipeline([{"minhash_dedup": {**loose, "verify": 0.7}}], SHARED_DATA, tmp_path / "verified")
    loose_removed = {r["id"] for r in read_folder(tmp_path / "loose" / "removed").to_pylist()}
    verified = read_folder(tmp_path / "verified" / "removed").to_pylist()
    assert {r["id"] for r in verified} < loose_removed
    texts = {**dict(zip(*(read_folder(tmp_path / "verified" / "kept")[c].to_pylist() for c in ("id", "text")))),
             **{r["id"]: r["text"] for r in verified}}
    stage = MinhashDedup()
    pairs = [(r["id"], json.loads(r["details"])["duplicate_of"]) for r in verified]
    batch = TextBatch(pa.table({"id": [i for p in pairs for i in p], "text": pa.array([texts[i] for p in pairs for i in p], pa.large_string())}))
    sig, _ = stage.signatures(batch)
    agreement = (sig[0::2] == sig[1::2]).mean(axis=1)
    # a removal joins its cluster through some verified pair; most are verified with the kept one directly
    assert np.mean(agreement >= 0.7) > 0.9 and len(pairs) > 300


def test_same_clusters_with_one_or_four_ray_workers(tmp_path, sample_docs):
    """The CLI on an embedded Ray of 1 and of 4 worker processes: identical clusters."""
    import subprocess
    import sys

    one, four = one_and_four_shards(sample_docs, tmp_path)
    outputs = []
    for cpus in (1, 4):
        out = tmp_path / f"cpus{cpus}"
        pipeline = tmp_path / f"p{cpus}.yaml"
        pipeline.write_text(json.dumps({"name": "workers", "stages": [{"normalize": {}}, {"minhash_dedup": {"threshold": 0.7}}]}))
        done = subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(pipeline), "--input", str(four),
                               "--output", str(out), "--num-cpus", str(cpus), "--part-bytes", "20000"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads((out / "stats.json").read_text())["ray"]["cpus"] == cpus
        outputs.append(clusters(out))
    assert outputs[0] == outputs[1] and sum(d != r for d, r in outputs[0].items()) > 20


def test_parameters():
    stage = MinhashDedup(threshold=0.8, num_perm=112)
    assert (stage.bands, stage.rows, stage.verify) == (9, 12, 0.7)  # datasketch's optimum for 0.8
    default = MinhashDedup()
    assert (default.bands, default.rows, default.num_perm, default.ngram, default.verify) == (14, 8, 112, 5, 0.7)
    from dataprep.errors import ConfigError
    from dataprep.pipeline import build_stage

    with pytest.raises(ConfigError, match="exceeds num_perm"):
        build_stage("minhash_dedup", {"bands": 20, "rows": 10, "num_perm": 112}, "stage 1")
    # settings that silently disabled dedup (bands 0, ngram 0), merged every document into one
    # bucket (rows 0), quarantined the corpus at its keys (seed -1) or were ignored (threshold with bands)
    for bad, message in [({"bands": 14, "rows": 0}, "rows must be at least 1"), ({"bands": 0, "rows": 8}, "bands must be at least 1"),
                         ({"ngram": 0}, "ngram must be at least 1"), ({"seed": -1}, "seed must be within"),
                         ({"threshold": 0.5, "bands": 4, "rows": 4}, "not both")]:
        with pytest.raises(ConfigError, match=message):
            build_stage("minhash_dedup", bad, "stage 1")


def reference_words(text: str) -> list[str]:
    """Folding as documented, one character at a time: breaks at whitespace, punctuation and
    symbols of any script, ASCII digits to 0 (the text is lower-cased by Arrow beforehand)."""
    words, current = [], []
    for ch in text:
        if ch.isspace() or unicodedata.category(ch)[0] in "PSZ":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append("0" if "0" <= ch <= "9" else ch)
    return words + (["".join(current)] if current else [])


def test_folded_words_match_a_character_by_character_reading(web_docs):
    """The byte-level word split and hash equal a plain reading on real multilingual text: same
    words, in the same documents, and equal hashes exactly for equal words."""
    texts = [pa.array(["a1b2 «quoted» — 12.5%", None, "", "İstanbul ÇOK güzel 東京“x”", "end", "start"], pa.large_string()),
             web_docs["text"].combine_chunks().cast(pa.large_string()).slice(7, 400)]
    for text in texts:
        hashes, docs = folded_word_hashes(text)
        words, owners = [], []
        for i, doc in enumerate(pc.fill_null(pc.utf8_lower(text), "").to_pylist()):
            found = reference_words(doc)
            words += found
            owners += [i] * len(found)
        assert docs.tolist() == owners
        assert np.array_equal(pd.factorize(pd.Series(words))[0], pd.factorize(hashes)[0])


def test_documents_shorter_than_a_shingle_have_no_signature():
    """datatrove signs no document without a word 5-gram: with digits folded (as its
    simplify_text does), "Chapter 1" and "Chapter 2" were one shingle each, the same one, and
    minhash removed one as a near duplicate of the other. Five words or more are signed."""
    texts = ["Chapter 1", "Chapter 2", "Room 101 is free", "Room 237 is free", "one two three four five"]
    batch = TextBatch(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string())}))
    _, has = MinhashDedup().signatures(batch)
    assert has.tolist() == [False, False, False, False, True]
    assert MinhashDedup().keys(batch)["id"].unique().to_pylist() == ["4"]
