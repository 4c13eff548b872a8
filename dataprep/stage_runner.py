"""One stage over one Arrow batch, as `dataprep run` and `dataprep inspect` both apply it.

`run_stage` counts what goes in and out, routes removals to the ledger and every document's
measured values to the metrics; `apply_isolating` is where a stage that raises is bisected down
to the documents that break it, which are quarantined while the rest of the batch goes on.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import documents, ledger, metrics
from dataprep.stages.base import Decisions, Global, Stage, TextBatch, details_json

PACKAGE_DIR = str(Path(__file__).parent)  # frames in here (or outside site-packages) name a stage error's place


def run_stage(stage: Stage, batch: TextBatch, count: ledger.StageCounts, removed: list[pa.Table],
               quarantined: list[dict[str, Any]], source: str, resolution: Any = None,
               measured: list[pa.Table] | None = None) -> TextBatch:
    """Apply one stage to a batch, route its removals to the ledger (and every document's
    measured values to `measured`), and return what it kept."""
    count.docs_in += batch.num_rows
    if batch.num_rows == 0:
        return batch
    count.bytes_in += _text_bytes(batch)
    started = time.perf_counter()
    decisions, failures = apply_isolating(stage, batch, source, resolution)
    count.seconds += time.perf_counter() - started
    quarantined.extend(failures)
    count.quarantined += len(failures)
    if decisions is None:
        return TextBatch(batch.table.slice(0, 0))
    record = metrics.record(stage, decisions) if measured is not None else None
    if record is not None:
        measured.append(record)
    is_removed = decisions.reasons != None  # noqa: E711 (elementwise)
    if is_removed.any():
        gone = decisions.batch.table.filter(pa.array(is_removed))
        reasons = decisions.reasons[is_removed]
        details = [d for d, r in zip(decisions.details, is_removed) if r]
        gone = gone.append_column("stage", pa.array([stage.name] * len(reasons), pa.string()))
        gone = gone.append_column("reason", pa.array(list(reasons), pa.string()))
        removed.append(gone.append_column("details", details_json(details)))
        count.removed.update(Counter(reasons.tolist()))
    survivors = decisions.batch.filter(~is_removed)
    count.kept += survivors.num_rows
    count.bytes_out += _text_bytes(survivors)
    return survivors


def _text_bytes(batch: TextBatch) -> int:
    return int(pc.sum(pc.binary_length(batch.text)).as_py() or 0) if batch.num_rows else 0


def apply_isolating(stage: Stage, batch: TextBatch, source: str, resolution: Any = None) -> tuple[Decisions | None, list[dict[str, Any]]]:
    """Apply a stage; if it raises, bisect the batch until the documents that break it are found.

    Those documents are quarantined with the error (and where it was raised); the rest of the
    batch goes on as if nothing happened. Costs nothing unless a stage fails.
    """
    try:
        return (stage.decide(batch, resolution) if isinstance(stage, Global) else stage.apply(batch)), []
    except Exception as exc:  # noqa: BLE001 (a stage bug must not stop the run)
        if batch.num_rows == 1:
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if f.filename.startswith(PACKAGE_DIR) or "site-packages" not in f.filename]
            frame = (ours or frames)[-1]  # the innermost frame of stage code, not of pyarrow
            error = f"stage {stage.name} failed: {type(exc).__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})"
            return None, [documents.quarantine_record(source, error, id=batch.table.column("id")[0].as_py())]
    half = batch.num_rows // 2
    results = [apply_isolating(stage, TextBatch(batch.table.slice(start, length)), source, resolution)
               for start, length in ((0, half), (half, batch.num_rows - half))]
    records = [r for _, rs in results for r in rs]
    done = [d for d, _ in results if d is not None]
    if not done:
        return None, records
    merged = Decisions(
        TextBatch(pa.concat_tables([d.batch.table for d in done], promote_options="default")),
        np.concatenate([d.reasons for d in done]),
        [x for d in done for x in d.details],
        {k: np.concatenate([d.metrics[k] for d in done]) for k in done[0].metrics} if all(d.metrics is not None for d in done) else None,
    )
    return merged, records
