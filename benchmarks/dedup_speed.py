"""MinHash signatures per second on one core, shingling included, ours next to the peers.

    python benchmarks/dedup_speed.py [--peers benchmarks/.peers/bin/python]

Same documents (the real web pages of shared/data), same shingles (word 5-grams of folded
text), 112 permutations. Peers: datasketch's `update` per shingle and `update_batch` per
document (run here, it is a dependency), and rensa's RMinHash (in the peers' venv, where
`pip install rensa` puts it; skipped when absent). Python-made shingles are counted in every
peer's time, as a pipeline would pay them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.minhash_dedup import MinhashDedup  # noqa: E402

NUM_PERM = 112
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "01_web_pages_trafilatura.parquet")
    parser.add_argument("--peers", default=str(REPO / "benchmarks" / ".peers" / "bin" / "python"))
    args = parser.parse_args()
    from datasketch import MinHash

    table = pq.read_table(args.data, columns=["id", "text"]).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())]))
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
        peer = subprocess.run([args.peers, "-c", PEER, f"{tmp}/docs.parquet"], capture_output=True, text=True)
        if peer.returncode == 0:
            rows.append(("rensa RMinHash (Rust)", n / json.loads(peer.stdout)["seconds"]))
        else:
            print(f"rensa skipped: {peer.stderr.strip().splitlines()[-1] if peer.stderr else 'not installed'}")
    best_peer = max(rate for name, rate in rows[1:])
    for name, rate in rows:
        print(f"{name:<32} {rate:>9,.0f} docs/s  {rate / rows[0][1]:>6.2f}x ours" if name != rows[0][0] else
              f"{name:<32} {rate:>9,.0f} docs/s  ({rate / best_peer:.1f}x the fastest peer)")


if __name__ == "__main__":
    main()
