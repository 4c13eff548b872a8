"""What seeing a run costs: recorded metrics on disk, report.html, explain and inspect times.

    python benchmarks/report.py [--input ../shared/data/] [--pipeline pipelines/default.yaml]

Runs the pipeline once on the input (embedded Ray already up, so start-up is not counted), then
prints: the run's wall time; metrics/ on disk next to kept/ and removed/ (bytes per document
per stage); the time to render report.html and its size; `explain` for a removed and a kept
document; `inspect` of one filter on 500 documents (in-process, no Ray).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not benchmarks/: its script names (tokenize.py) would shadow the standard library


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*.parquet"))


def timed(fn, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--pipeline", default=str(REPO / "pipelines" / "default.yaml"))
    parser.add_argument("--stage", default="gopher_repetition", help="stage to inspect")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from dataprep import pipeline, report, runtime
    from dataprep.explain import explain
    from dataprep.inspection import inspect
    from dataprep.run import run

    runtime.start()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        spec = pipeline.load(args.pipeline, {"input": args.input, "output": str(out)})
        started = time.perf_counter()
        stats = run(spec)
        seconds = time.perf_counter() - started
        docs = stats["input"]["docs"]
        print(f"run: {docs:,} documents, {len(stats['stages'])} stages, {seconds:.1f} s wall (report.html included)")
        measured = sum(s["in"] - s["quarantined"] for s in stats["stages"])
        print(f"on disk: kept/ {folder_bytes(out / 'kept') / 1e6:.2f} MB, removed/ {folder_bytes(out / 'removed') / 1e6:.2f} MB, "
              f"metrics/ {folder_bytes(out / 'metrics') / 1e6:.2f} MB ({len(list((out / 'metrics').rglob('*.parquet')))} files; "
              f"{folder_bytes(out / 'metrics') / max(1, measured):.0f} bytes per document per stage)")
        render, html = timed(lambda: report.render(out))
        print(f"report.html: {len(html.encode()) / 1e6:.2f} MB, rendered in {render:.2f} s (best of 3)")
        removed_id = pq.read_table(next((out / "removed").glob("part-*.parquet")), columns=["id"])["id"][0].as_py()
        kept_id = pq.read_table(next((out / "kept").glob("part-*.parquet")), columns=["id"])["id"][0].as_py()
        for label, doc_id in (("removed", removed_id), ("kept", kept_id)):
            took, text = timed(lambda doc_id=doc_id: explain(out, doc_id))
            print(f"explain ({label} document, {len(text.splitlines())} lines): {took * 1000:.0f} ms (best of 3)")
        took, text = timed(lambda: inspect(spec, args.stage, 500), repeat=1)
        print(f"inspect {args.stage} --sample 500: {took:.2f} s, {len(text.splitlines())} lines; {text.splitlines()[0]}")


if __name__ == "__main__":
    main()
