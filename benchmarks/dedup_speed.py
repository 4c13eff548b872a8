"""MinHash signatures per second on one core, shingling included, ours next to the peers.

    python benchmarks/dedup_speed.py [--peers benchmarks/.peers/bin/python]
    python benchmarks/dedup_speed.py --no-signatures --scale 10000,100000,1000000

Same documents (the real web pages of shared/data), same shingles (word 5-grams of folded
text), 112 permutations. Peers: datasketch's `update` per shingle and `update_batch` per
document (run here, it is a dependency), and rensa's RMinHash (in the peers' venv, where
`pip install rensa` puts it; skipped when absent). Python-made shingles are counted in every
peer's time, as a pipeline would pay them.

With --scale N1,N2,...: whole-run wall time and peak memory of `dataprep run` with stages
[normalize, exact_dedup, minhash_dedup] (its parameters: --minhash, default {}: threshold 0.8)
on N synthetic documents each, in a fresh process per
size (Ray start-up included, as a user sees it). Documents are random real lines (shared/data
lines of >= 5 words, each distinct line equally likely), 1-2 KB each; 5% are exact copies of an
earlier document and 5% near copies (one random line added: Jaccard ~0.9), so both dedup
stages have work. Shards of 10,000 documents go to a temporary folder (--tmp, deleted
afterwards). Memory: the summed RSS of the run's process tree (driver, raylet, GCS and every Ray
worker are its descendants), sampled from /proc every 0.2 s; shared pages (the object store)
count once per process that maps them, so the figure is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.minhash_dedup import MinhashDedup  # noqa: E402
from pipeline import TreeMemory  # noqa: E402  (benchmarks/pipeline.py: summed RSS of a process tree)

NUM_PERM = 112
SHARD_DOCS = 10_000
SCALE_STAGES = "stages:\n  - normalize: {{}}\n  - exact_dedup: {{}}\n  - minhash_dedup: {params}\n"
PEER = r"""
import json, re, sys, time
import pyarrow.parquet as pq
from rensa import RMinHash
texts = pq.read_table(sys.argv[1])["text"].to_pylist()
best = float("inf")
for _ in range(3):
    start = time.process_time()
    for t in texts:
        w = re.sub(r"\d", "0", re.sub(r"[^\w\s]|_", " ", t.lower())).split()
        m = RMinHash(num_perm=NUM_PERM, seed=1)
        m.update([" ".join(w[i:i + 5]) for i in range(max(1, len(w) - 4))])
        m.digest()
    best = min(best, time.process_time() - start)
print(json.dumps({"seconds": best}))
""".replace("NUM_PERM", str(NUM_PERM))


def shingles(text: str) -> list[bytes]:
    import re

    words = re.sub(r"\d", "0", re.sub(r"[^\w\s]|_", " ", text.lower())).split()
    return [" ".join(words[i:i + 5]).encode("utf-8") for i in range(max(1, len(words) - 4))]


def timed(fn, repeat: int = 1) -> float:
    """Best CPU time of `repeat` runs (the machine may be shared: the best run is the least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def signature_rates(data: Path, peers: str) -> None:
    from datasketch import MinHash

    table = pq.read_table(data, columns=["id", "text"]).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())]))
    texts = table["text"].to_pylist()
    n = len(texts)
    print(f"{n:,} documents, {sum(map(len, texts)) / n / 1000:.1f} k characters each on average, {NUM_PERM} permutations, one core")
    stage = MinhashDedup(num_perm=NUM_PERM)

    def ours() -> None:
        for offset in range(0, n, 512):
            stage.signatures(TextBatch(table.slice(offset, 512)))

    def update() -> None:
        for t in texts[:100]:
            m = MinHash(num_perm=NUM_PERM, seed=1)
            for s in shingles(t):
                m.update(s)

    def update_batch() -> None:
        for t in texts:
            MinHash(num_perm=NUM_PERM, seed=1).update_batch(shingles(t))

    stage.signatures(TextBatch(table.slice(0, 8)))  # once per process: the code point table of word breaks
    rows = [("dataprep (numpy, per batch)", n / timed(ours, repeat=5)),
            ("datasketch update_batch", n / timed(update_batch, repeat=2)),
            ("datasketch update (100 docs)", 100 / timed(update))]
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table, f"{tmp}/docs.parquet")
        peer = subprocess.run([peers, "-c", PEER, f"{tmp}/docs.parquet"], capture_output=True, text=True) \
            if Path(peers).is_file() else None
        if peer is None:
            print(f"rensa skipped: no peers' venv at {peers} (bash benchmarks/setup_peers.sh)")
        elif peer.returncode == 0:
            rows.append(("rensa RMinHash (Rust)", n / json.loads(peer.stdout)["seconds"]))
        else:
            print(f"rensa skipped: {peer.stderr.strip().splitlines()[-1] if peer.stderr else 'not installed'}")
    best_peer = max(rate for name, rate in rows[1:])
    for name, rate in rows:
        print(f"{name:<32} {rate:>9,.0f} docs/s  {rate / rows[0][1]:>6.2f}x ours" if name != rows[0][0] else
              f"{name:<32} {rate:>9,.0f} docs/s  ({rate / best_peer:.1f}x the fastest peer)")


def real_lines(data: Path) -> pa.Array:
    """The distinct lines of >= 5 words of every shared/data file: the synthetic corpus's material."""
    texts = pa.concat_arrays([pq.read_table(f, columns=["text"])["text"].combine_chunks().cast(pa.large_string())
                              for f in sorted(data.glob("*.parquet"))])
    lines = pc.utf8_trim_whitespace(pc.list_flatten(pc.split_pattern(texts, "\n")))
    lines = pc.unique(lines.filter(pc.greater_equal(pc.list_value_length(pc.utf8_split_whitespace(lines)), 5)))
    return lines.cast(pa.large_string())


def synthetic_shards(lines: pa.Array, n_docs: int, folder: Path, rng: np.random.Generator, doc_bytes: int = 1500,
                     shard_docs: int = SHARD_DOCS) -> dict[str, int]:
    """Write n_docs documents of random real lines (2/3 to 4/3 of doc_bytes) in shards of
    `shard_docs`; return the planted counts ("exact", "near") and the text "bytes".

    Per shard: 90% fresh documents, 5% exact copies and 5% near copies (a line added: Jaccard of
    word 5-grams ~0.9) of fresh documents of this shard or the previous one, so duplicates cross
    shards, as in a crawl, while the generator's memory stays one shard's whatever n_docs."""
    line_bytes = pc.binary_length(lines).to_numpy()
    per_doc = max(2, round(doc_bytes / line_bytes.mean()))  # lines per document for ~doc_bytes on average
    previous: list[np.ndarray] = []  # line indices of the previous shard's fresh documents
    planted = {"exact": 0, "near": 0, "bytes": 0}
    for shard, start in enumerate(range(0, n_docs, shard_docs)):
        count = min(shard_docs, n_docs - start)
        copies = count // 20
        sizes = rng.integers(per_doc * 2 // 3, per_doc * 4 // 3 + 1, count - 2 * copies)
        docs = np.split(rng.integers(0, len(lines), sizes.sum()), np.cumsum(sizes)[:-1])
        pool = docs + previous
        sources = rng.integers(0, len(pool), 2 * copies)
        near = [np.append(pool[src], rng.integers(len(lines))) for src in sources[copies:]]
        made = docs + [pool[src] for src in sources[:copies]] + near
        offsets = np.concatenate([[0], np.cumsum([len(d) for d in made])])
        nested = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), lines.take(pa.array(np.concatenate(made))))
        text = pc.binary_join(nested, pa.scalar("\n", pa.large_string()))
        ids = pa.array([f"s{start + i:09d}" for i in range(count)])
        pq.write_table(pa.table({"id": ids, "text": text.take(pa.array(rng.permutation(count)))}),
                       folder / f"shard-{shard:05d}.parquet", row_group_size=10_000)
        planted["exact"] += copies
        planted["near"] += copies
        planted["bytes"] += pc.sum(pc.binary_length(text)).as_py()
        previous = docs
    return planted


def whole_run(n_docs: int, data: Path, tmp: Path, seed: int, minhash: str) -> dict:
    """Generate n_docs, run the dedup pipeline in a fresh process, measure wall time and memory."""
    folder = tmp / f"scale-{n_docs}"
    (folder / "input").mkdir(parents=True)
    try:
        megabytes = synthetic_shards(real_lines(data), n_docs, folder / "input", np.random.default_rng(seed))["bytes"] / 1e6
        (folder / "p.yaml").write_text(f"name: dedup_scale\n{SCALE_STAGES.format(params=minhash)}", encoding="utf-8")
        cmd = [sys.executable, "-m", "dataprep.cli", "run", str(folder / "p.yaml"), "--input", str(folder / "input"),
               "--output", str(folder / "out"), "--no-progress"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with TreeMemory(proc.pid, interval=0.2) as memory:
            _, err = proc.communicate()
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{n_docs:,} documents: dataprep run failed: {err.decode().strip()[-2000:]}")
        stats = json.loads((folder / "out" / "stats.json").read_text(encoding="utf-8"))
        removed = {s["name"]: sum(s["removed"].values()) for s in stats["stages"]}
        return {"docs": n_docs, "mb": megabytes, "seconds": seconds, "peak": memory.peak, "driver": memory.root_peak,
                "removed": removed}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scaling(sizes: list[int], data: Path, tmp: Path, minhash: str) -> None:
    print(f"\nwhole run, stages [normalize, exact_dedup, minhash_dedup: {minhash}], `dataprep run` in a fresh process "
          f"(Ray start-up included), {os.cpu_count()} cores; synthetic documents of real lines, ~1.5 KB each")
    print(f"{'docs':>10} {'text MB':>8} {'wall s':>8} {'docs/s':>8} {'MB/s':>6} {'x linear':>9} {'peak tree':>10} {'driver':>8}"
          f"  {'removed: exact':>14} {'near':>6}")
    previous = None
    for n_docs in sizes:
        row = whole_run(n_docs, data, tmp, seed=n_docs, minhash=minhash)
        previous = previous or row
        growth = (row["seconds"] / previous["seconds"]) / (row["docs"] / previous["docs"])
        previous = row
        print(f"{row['docs']:>10,} {row['mb']:>8,.0f} {row['seconds']:>8.1f} {row['docs'] / row['seconds']:>8,.0f} "
              f"{row['mb'] / row['seconds']:>6.2f} {growth:>9.2f} {row['peak'] / 2**30:>8.2f} G {row['driver'] / 2**30:>6.2f} G"
              f"  {row['removed'].get('exact_dedup', 0):>14,} {row['removed'].get('minhash_dedup', 0):>6,}", flush=True)
    print("x linear: (wall time / the previous size's) / (documents / the previous size's); 1.00 = linear growth,"
          " below 1 while Ray's fixed start-up cost still dominates")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "01_web_pages_trafilatura.parquet")
    parser.add_argument("--peers", default=str(REPO / "benchmarks" / ".peers" / "bin" / "python"))
    parser.add_argument("--scale", default="", help="comma-separated corpus sizes for whole-run time and memory (off by default)")
    parser.add_argument("--minhash", default="{}", help="minhash_dedup's parameters in the --scale runs (YAML/JSON mapping)")
    parser.add_argument("--no-signatures", action="store_true", help="skip the signatures-per-core comparison")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="where the synthetic shards go")
    args = parser.parse_args()
    if not args.no_signatures:
        signature_rates(args.data, args.peers)
    if args.scale:
        scaling([int(n) for n in args.scale.split(",")], args.data.parent, args.tmp, args.minhash)


if __name__ == "__main__":
    main()
