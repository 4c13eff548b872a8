"""Whole datatrove pipelines for benchmarks/compare.py: one fresh process per command, as a
datatrove user runs them (LocalPipelineExecutor, one task per input file, N worker processes).

    benchmarks/.peers/bin/python benchmarks/datatrove_pipeline.py {filters,minhash,exact,survey} INPUT WORK [--workers 2]

INPUT is a folder of Parquet files with `id` and `text`. The documents a pipeline keeps end in
WORK/<step>/ as Parquet (the last step's folder is printed); every step reads the previous one's
output, as a chain of datatrove jobs does. Prints one JSON line: the steps run and the folder of
kept documents. Runs in the peers' venv (benchmarks/setup_peers.sh).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig, ExactDedupFilter, ExactDedupSignature, ExactFindDedups
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter

#: FineWeb's MinHash: 14 bands x 8 rows over word 5-grams (datatrove's defaults, and ours)
MINHASH = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)


def text_of(doc) -> str:
    """Exact dedup's key: the whole text (module level, so worker processes can unpickle it)."""
    return doc.text


class Chain:
    """Steps run one after the other, each reading the Parquet files the previous one wrote."""

    def __init__(self, source: Path, work: Path, workers: int):
        self.current, self.work, self.workers, self.steps = source, work, workers, []

    def _tasks(self) -> int:
        return max(1, len(list(self.current.glob("*.parquet"))))

    def _run(self, pipeline: list, tasks: int, name: str) -> None:
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(self.workers, tasks),
                              logging_dir=str(self.work / "logs" / name)).run()

    def _reader(self) -> ParquetReader:
        return ParquetReader(str(self.current), glob_pattern="*.parquet", text_key="text", id_key="id", read_metadata=False)

    def _step(self, name: str, steps: list) -> None:
        """reader -> steps -> writer, one task per file; the writer's folder is the next input."""
        target = self.work / name
        self._run([self._reader(), *steps, ParquetWriter(str(target), output_filename="${rank}.parquet")], self._tasks(), name)
        self.current = target
        self.steps.append(name)

    def filters(self) -> None:
        # FineWeb's order (its published pipeline), each with datatrove's defaults
        self._step("filters", [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()])

    def exact(self) -> None:
        config = ExactDedupConfig(content_getter=text_of)
        signatures, duplicates, tasks = self.work / "exact_sigs", self.work / "exact_dups", self._tasks()
        self._run([self._reader(), ExactDedupSignature(str(signatures), config=config)], tasks, "exact1")
        self._run([ExactFindDedups(str(signatures), str(duplicates), config=config)], 1, "exact2")
        self._step("exact", [ExactDedupFilter(str(duplicates), config=config)])

    def minhash(self) -> None:
        signatures, buckets, clusters = self.work / "mh_sigs", self.work / "mh_buckets", self.work / "mh_remove"
        self._run([self._reader(), MinhashDedupSignature(str(signatures), config=MINHASH)], self._tasks(), "minhash1")
        self._run([MinhashDedupBuckets(str(signatures), str(buckets), config=MINHASH)], MINHASH.num_buckets, "minhash2")
        self._run([MinhashDedupCluster(str(buckets), str(clusters), config=MINHASH)], 1, "minhash3")
        self._step("minhash", [MinhashDedupFilter(str(clusters))])

    def pii(self) -> None:
        self._step("pii", [PIIFormatter()])  # e-mail and public IP addresses: all datatrove redacts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline", choices=["filters", "minhash", "exact", "survey"])
    parser.add_argument("input", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    chain = Chain(args.input, args.work, args.workers)
    # the survey as far as datatrove goes offline: no language filter (its fastText model is a
    # download) and no tokenizer (a Hugging Face hub download)
    steps = {"filters": [chain.filters], "minhash": [chain.minhash], "exact": [chain.exact],
             "survey": [chain.filters, chain.exact, chain.minhash, chain.pii]}[args.pipeline]
    for step in steps:
        step()
    print(json.dumps({"steps": chain.steps, "kept": str(chain.current)}))


if __name__ == "__main__":
    main()
