"""Every document's measured values, per stage: what reports, `explain` and threshold tuning read.

The ledger keeps the values behind a *removal*; a histogram with the kept part coloured, or "how
many would a different threshold remove", needs the values of every document a stage saw. The
runner writes them per part and per stage as a compact Parquet file (id, reason, one column per
metric) under OUT/metrics/<index>-<stage>/ (layout.py), next to the part's other outputs (atomic, redone with
the part on resume). A stage's metrics are what it measured (`Decisions.metrics`), or else the
numeric columns it adds to documents (cluster sizes, lines removed; a map of counts, such as
PII found per kind, as its total and one column per key), so a new stage shows up without a
special case.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from dataprep import storage
from dataprep.layout import OutputLayout
from dataprep.stages.base import Decisions, Stage

#: columns of a record that are not metrics
KEYS = ("id", "reason")
SAMPLE_SEED = 0


def record(stage: Stage, decisions: Decisions) -> pa.Table | None:
    """One row per document the stage decided on: id, reason (null when kept), its metrics."""
    table = decisions.batch.table
    if decisions.metrics is not None:
        columns = {k: _arrow(v) for k, v in decisions.metrics.items()}
    else:
        columns = {}
        for name in stage.adds:
            kind = table.schema.field(name).type if name in table.column_names else None
            if kind is not None and is_numeric(kind):
                columns[name] = table.column(name)
            elif kind is not None and pa.types.is_map(kind) and is_numeric(kind.item_type):
                columns.update(_map_columns(name, table.column(name).combine_chunks()))
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


def _map_columns(name: str, column: pa.MapArray) -> dict[str, pa.Array]:
    """A map of counts per row (e.g. PII found per kind) as its total, `name`, and one column per
    key, `name[key]` (the report draws those as one breakdown)."""
    offsets = column.offsets.to_numpy()
    rows = np.repeat(np.arange(len(column)), np.diff(offsets))
    keys = column.keys.slice(offsets[0], offsets[-1] - offsets[0]).to_numpy(zero_copy_only=False)
    items = column.items.slice(offsets[0], offsets[-1] - offsets[0]).fill_null(0).to_numpy(zero_copy_only=False)
    columns = {name: pa.array(np.bincount(rows, weights=items, minlength=len(column)).astype(np.int64))}
    for key in sorted(set(keys.tolist())):
        mine = keys == key
        columns[f"{name}[{key}]"] = pa.array(np.bincount(rows[mine], weights=items[mine], minlength=len(column)).astype(np.int64))
    return columns


def is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def sample(out: OutputLayout | str | os.PathLike, index: int, name: str, rows: int) -> tuple[pa.Table | None, int]:
    """(a stage's records, how many it recorded in all): every record when there are at most
    `rows`, else a seeded uniform sample of exactly `rows` (row numbers drawn over all parts at
    once, then read part by part). Whoever reads it holds `rows` records and one part, whatever
    the corpus size; the same output gives the same sample."""
    layout = OutputLayout.at(out)
    files = layout.parts(layout.metrics_dir(index, name))
    if not files:
        return None, 0
    sizes = storage.each(lambda f: storage.parquet_file(f).metadata.num_rows, files)
    total = sum(sizes)
    if total <= rows:
        return read(out, index, name), total
    picked = np.sort(np.random.default_rng(SAMPLE_SEED).choice(total, rows, replace=False))
    starts = np.cumsum([0, *sizes])
    bounds = np.searchsorted(picked, starts)
    sampled = [i for i in range(len(files)) if bounds[i + 1] > bounds[i]]
    tables = storage.each(lambda i: storage.read_table(files[i]).take(picked[bounds[i]:bounds[i + 1]] - starts[i]), sampled)
    return pa.concat_tables(tables, promote_options="default"), total


def read(out: OutputLayout | str | os.PathLike, index: int, name: str, columns: list[str] | None = None) -> pa.Table | None:
    """A stage's records over all parts (None when the run recorded none)."""
    layout = OutputLayout.at(out)
    files = layout.parts(layout.metrics_dir(index, name))
    if not files:
        return None
    return pa.concat_tables(storage.each(lambda f: storage.read_table(f, columns=columns), files), promote_options="default")
