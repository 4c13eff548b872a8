"""Run datatrove's filters on a Parquet of (id, text); print per-filter decisions and seconds as JSON.

Runs in the peers' venv (benchmarks/setup_peers.sh), called by benchmarks/filters.py.
"""

import json
import sys
import time

import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter


def main(path: str) -> None:
    table = pq.read_table(path)
    docs = [(i, t) for i, t in zip(table["id"].to_pylist(), table["text"].to_pylist())]
    filters = {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4_quality": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
    }
    result = {}
    for name, stage in filters.items():
        decisions = {}
        started = time.process_time()
        for doc_id, text in docs:
            verdict = stage.filter(Document(text=text, id=doc_id))
            decisions[doc_id] = None if verdict is True else (verdict[1] if isinstance(verdict, tuple) else "removed")
        result[name] = {"seconds": time.process_time() - started, "decisions": decisions}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
