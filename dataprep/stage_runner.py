"""One stage over one Arrow batch, as `dataprep run` and `dataprep inspect` both apply it.

`run_stage` counts what goes in and out, routes removals to the ledger and every document's
measured values to the metrics; `apply_isolating` is where a stage that raises is bisected down
to the documents that break it, which are quarantined while the rest of the batch goes on.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import documents, ledger, metrics
from dataprep.errors import ConfigError
from dataprep.stages.base import Decisions, Global, Stage, TextBatch, details_json

PACKAGE_DIR = str(Path(__file__).parent)  # frames in here (or outside site-packages) name a stage error's place


def run_stage(stage: Stage, batch: TextBatch, count: ledger.StageCounts, removed: list[pa.Table],
               quarantined: list[dict[str, Any]], source: str, resolution: PartResolution | None = None,
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
        gone = _as_given(decisions.batch.table.filter(pa.array(is_removed)), batch.table)
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


def _as_given(gone: pa.Table, given: pa.Table) -> pa.Table:
    """The removed documents with the text the stage was given, not the text it rewrote: a line
    filter that drops every line of a page (C4's rules on a page of menus) left an empty text in
    the ledger, the page lost; `extract` leaves the page's HTML there the same way."""
    if gone.num_rows == 0 or "text" not in gone.column_names:
        return gone
    rows = pc.index_in(gone["id"], value_set=given["id"])
    return gone.set_column(gone.column_names.index("text"), "text", given["text"].take(rows).cast(gone["text"].type))


def _text_bytes(batch: TextBatch) -> int:
    return int(pc.sum(pc.binary_length(batch.text)).as_py() or 0) if batch.num_rows else 0


@dataclass(frozen=True)
class PartResolution:
    """What a global stage's corpus-wide phase left for one part: its decisions (rows of the
    stage's DECISIONS), and the documents whose keys it failed on (id -> error), which the
    resolve never saw: deciding on them would keep them unexamined, so they are quarantined."""

    decisions: pa.Table
    unkeyed: dict[str, str] = field(default_factory=dict)


def global_keys(stage: Global, tables: Iterable[pa.Table]) -> tuple[pa.Table, dict[str, str]]:
    """A global stage's keys of documents (batches in order), and the documents it failed on
    (id -> error; found by bisection as `apply_isolating` finds them): one document whose keys
    raise must not stop a run, nor leave the rest of its batch unkeyed."""
    keys: list[pa.Table] = []
    unkeyed: dict[str, str] = {}
    for table in tables:
        if table.num_rows:
            done, failed = isolating(stage.keys, TextBatch(table), f"stage {stage.name} failed on its keys")
            keys += [k for k in done if k is not None and k.num_rows]
            unkeyed.update(failed)  # ids are unique in a run (conform quarantines repeated ones)
    return (pa.concat_tables(keys) if keys else stage.keys(None)), unkeyed


def apply_isolating(stage: Stage, batch: TextBatch, source: str,
                    resolution: PartResolution | None = None) -> tuple[Decisions | None, list[dict[str, Any]]]:
    """Apply a stage; if it raises, bisect the batch until the documents that break it are found.

    Those documents are quarantined with the error (and where it was raised); the rest of the
    batch goes on as if nothing happened. Costs nothing unless a stage fails. A global stage's
    documents without keys are quarantined with their keys' error before it decides.
    """
    records: list[dict[str, Any]] = []
    if resolution is not None and resolution.unkeyed:
        ids = batch.table.column("id")
        unkeyed = pc.is_in(ids, pa.array(list(resolution.unkeyed), ids.type))
        records = [documents.quarantine_record(source, resolution.unkeyed[i], id=i) for i in ids.filter(unkeyed).to_pylist()]
        batch = batch.filter(pc.invert(unkeyed).to_numpy(zero_copy_only=False))
        if batch.num_rows == 0:
            return None, records

    def call(piece: TextBatch) -> Decisions:
        return stage.decide(piece, resolution.decisions) if isinstance(stage, Global) else stage.apply(piece)

    done, failed = isolating(call, batch, f"stage {stage.name} failed")
    records += [documents.quarantine_record(source, error, id=i) for i, error in failed]
    if len(done) <= 1:
        return (done[0] if done else None), records
    merged = Decisions(
        TextBatch(pa.concat_tables([d.batch.table for d in done], promote_options="default")),
        np.concatenate([d.reasons for d in done]),
        [x for d in done for x in d.details],
        {k: np.concatenate([d.metrics[k] for d in done]) for k in done[0].metrics} if all(d.metrics is not None for d in done) else None,
    )
    return merged, records


T = TypeVar("T")


def isolating(call: Callable[[TextBatch], T], batch: TextBatch, failed: str) -> tuple[list[T], list[tuple[str, str]]]:
    """`call` over the batch; if it raises, over its halves, down to the single documents it
    fails on: (its results over the pieces it worked on, in order; (id, error) of each document
    it failed on, the error naming where in stage code it was raised)."""
    try:
        return [call(batch)], []
    except ConfigError:  # the run's configuration (a tokenizer that cannot be used), no document's fault: stop, one line
        raise
    except Exception as exc:  # noqa: BLE001 (a stage bug must not stop the run)
        if batch.num_rows == 0:  # no document to blame: the stage's own bug
            raise
        if batch.num_rows == 1:
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if f.filename.startswith(PACKAGE_DIR) or "site-packages" not in f.filename]
            frame = (ours or frames)[-1]  # the innermost frame of stage code, not of pyarrow
            return [], [(batch.table.column("id")[0].as_py(), f"{failed}: {type(exc).__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})")]
    half = batch.num_rows // 2
    done: list[T] = []
    failures: list[tuple[str, str]] = []
    for start, length in ((0, half), (half, batch.num_rows - half)):
        results, errors = isolating(call, TextBatch(batch.table.slice(start, length)), failed)
        done += results
        failures += errors
    return done, failures
