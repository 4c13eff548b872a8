"""Every document's measured values, per stage: what reports, `explain` and threshold tuning read.

The ledger keeps the values behind a *removal*; a histogram with the kept part coloured, or "how
many would a different threshold remove", needs the values of every document a stage saw. The
runner writes them per part and per stage as a compact Parquet file (id, reason, one column per
metric) under OUT/metrics/<index>-<stage>/, next to the part's other outputs (atomic, redone with
the part on resume). A stage's metrics are what it measured (`Decisions.metrics`), or else the
numeric columns it adds to documents (cluster sizes, lines removed, PII counts, ...), so a new
stage shows up without a special case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.stages.base import Decisions, Stage

FOLDER = "metrics"
#: columns of a record that are not metrics
KEYS = ("id", "reason")


def stage_folder(out: Path, index: int, name: str) -> Path:
    return out / FOLDER / f"{index:02d}-{name}"


def part_path(out: Path, index: int, name: str, part_key: str) -> Path:
    return stage_folder(out, index, name) / f"part-{part_key}.parquet"


def record(stage: Stage, decisions: Decisions) -> pa.Table | None:
    """One row per document the stage decided on: id, reason (null when kept), its metrics."""
    table = decisions.batch.table
    if decisions.metrics is not None:
        columns = {k: _arrow(v) for k, v in decisions.metrics.items()}
    else:
        columns = {k: table.column(k) for k in stage.adds if k in table.column_names and is_numeric(table.schema.field(k).type)}
    if not columns:
        return None
    reasons = pa.array(decisions.reasons.tolist(), pa.string())
    return pa.table({"id": table.column("id"), "reason": reasons, **columns})


def _arrow(values: np.ndarray) -> pa.Array:
    """Numbers as they were compared (float64: a float32 copy could cross a threshold); labels as strings."""
    values = np.asarray(values)
    if values.dtype == object:
        return pa.array([None if v is None else str(v) for v in values.tolist()], pa.string())
    return pa.array(values)


def is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def read(out: Path, index: int, name: str, columns: list[str] | None = None) -> pa.Table | None:
    """A stage's records over all parts (None when the run recorded none)."""
    files = sorted(stage_folder(out, index, name).glob("part-*.parquet"))
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files], promote_options="default")
