"""The corpus-wide phase of global stages, with no corpus-sized state in any one process.

A global stage's keys carry the part each document is in (`part`, its index in the run's
plan). Its `resolve` is a chain of hash-partitioned shuffles on Ray Data (`by_hash`: rows with
equal keys meet in one task, and a task holds about `PARTITION_ROWS` rows whatever the corpus
size) ending in per-document *decisions* (`part`, `id`, the stage's columns) for the documents
it acts on. `write_decisions` groups them by part on Ray Data and writes one Parquet file per
part (`_work/sK/decisions/part-<key>.parquet`); the task that runs the part's decisions reads
that file only. The driver sees row counts and file names, nothing per document; keys that fit
one partition (at most PARTITION_ROWS rows and PARTITION_BYTES bytes as Arrow holds them, the
size the keys writer records in each keys file, `ARROW_BYTES`) may instead be resolved on the
driver as that one partition (`by_hash` of a table, `write_decisions_table`). The driver then
holds those keys and what the stage's resolve builds from them, as a task would for a partition
of that size; the byte bound is one a shuffle task does not have (its partition is bounded in rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from dataprep import storage

#: rows of keys one resolve task holds at most (about 50-500 bytes each, by stage): with the
#: row count of the keys, sets the number of shuffle partitions, so a task's memory is bounded
#: by this setting, not by the corpus
PARTITION_ROWS = 2_000_000
#: bytes of keys (as Arrow holds them in memory, `ARROW_BYTES`) a resolve on the driver holds at
#: most: the row bound alone would let keys that carry text (train_tokenizer's) fill the driver
PARTITION_BYTES = 512 * 2**20
#: a keys file's Parquet key-value metadata: the Arrow size of its table when written. Parquet's
#: own sizes are after dictionary encoding (20,000 copies of one 7 KB text: 0.43 MB, 159 MB in Arrow)
ARROW_BYTES = b"dataprep.arrow_bytes"
PARTITION_COLUMN = "_partition"
DONE = "_done.json"


def partitions(rows: int) -> int:
    """Shuffle partitions for `rows` rows: enough that each holds at most PARTITION_ROWS, and
    at least one per CPU of the cluster (so the resolve runs on all of them)."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1
    return max(cpus, -(-rows // PARTITION_ROWS))


def arrow_bytes(footer: Any) -> int:
    """The in-memory (Arrow) size of a keys file's table, from its footer (`ARROW_BYTES`); a file
    without it (written by an older version) counts as more than PARTITION_BYTES."""
    value = (footer.metadata or {}).get(ARROW_BYTES)
    return int(value) if value is not None else PARTITION_BYTES + 1


def bucket(table: pa.Table, columns: list[str], n: int) -> np.ndarray:
    """Each row's partition in [0, n): a hash of its values in `columns`, equal in every process."""
    import pandas as pd

    hashes = pd.util.hash_pandas_object(table.select(columns).to_pandas(), index=False).to_numpy()
    return (hashes % np.uint64(n)).astype(np.int64)


def by_hash(ds: Any, key: list[str], fn: Callable[..., pa.Table], n: int, **kwargs: Any) -> Any:
    """`fn(table, **kwargs)` over each of `n` hash partitions of a Ray Dataset by `key`: all rows
    with equal keys are in the same call, and a call gets about 1/n of the rows. An Arrow table
    (keys of at most PARTITION_ROWS rows and PARTITION_BYTES Arrow bytes, in this process) is one
    partition: `fn(table)`."""
    if isinstance(ds, pa.Table):
        return fn(ds, **kwargs)
    tagged = ds.map_batches(_tag, batch_format="pyarrow", fn_kwargs={"key": key, "n": n})
    return tagged.groupby(PARTITION_COLUMN, num_partitions=n).map_groups(
        _untagged, batch_format="pyarrow", fn_kwargs={"fn": fn, "kwargs": kwargs})


def repeated(high: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows whose 128-bit key (`high`, `low`) occurs more than once: their indices, equal keys
    adjacent; each one's group (numbers that rise from group to group) and that group's size.
    A sort of two int64 columns, not Arrow's hash group-by: over 2 M keys (a partition, or a
    resolve on the driver) it peaks at ~140 MiB above its input, the group-by at 520-570 MiB."""
    if len(high) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((low, high))
    high, low = high[order], low[order]
    group = np.cumsum(np.r_[True, (high[1:] != high[:-1]) | (low[1:] != low[:-1])]) - 1
    sizes = np.bincount(group)[group]
    many = sizes > 1
    return order[many], group[many], sizes[many]


def map_batches(data: Any, fn: Callable[..., pa.Table], **kwargs: Any) -> Any:
    """`fn(batch, **kwargs)` over every batch of a Ray Dataset, or over a table (the one
    partition of a resolve on the driver): the steps between a stage's shuffles, written once
    for both."""
    if isinstance(data, pa.Table):
        return fn(data, **kwargs)
    return data.map_batches(fn, batch_format="pyarrow", fn_kwargs=kwargs)


def union(first: Any, second: Any) -> Any:
    """The rows of both (two Ray Datasets, or two tables on the driver)."""
    if isinstance(first, pa.Table):
        return pa.concat_tables([first, second])
    return first.union(second)


def _tag(batch: pa.Table, key: list[str], n: int) -> pa.Table:
    return batch.append_column(PARTITION_COLUMN, pa.array(bucket(batch, key, n), pa.int32()))  # 4 bytes a row shuffled


def _untagged(group: pa.Table, fn: Callable[..., pa.Table], kwargs: dict[str, Any]) -> pa.Table:
    return fn(group.drop_columns([PARTITION_COLUMN]), **kwargs)


def write_decisions(decisions: Any, folder: str, part_keys: list[str], n: int) -> dict[str, int]:
    """Write a Ray Dataset of decisions (with a `part` column) as one Parquet file per part
    that has any, then `_done.json` (what a resumed run checks). Returns the counts."""
    storage.delete_tree(folder)  # a half-written attempt
    rows = files = 0
    if decisions is not None:
        decisions = decisions.materialize()  # (in the object store, spilled to disk beyond it)
    if decisions is not None and decisions.count():  # most inputs hold no repeated id: no shuffle then
        written = decisions.groupby("part", num_partitions=n).map_groups(
            _write_part, batch_format="pyarrow", fn_kwargs={"folder": str(folder), "part_keys": part_keys})
        for batch in written.iter_batches(batch_format="pyarrow"):
            rows += int(np.sum(batch["rows"].to_numpy()))
            files += batch.num_rows
    counts = {"files": files, "rows": rows}
    storage.write_json(counts, storage.join(folder, DONE))
    return counts


def write_decisions_table(decisions: pa.Table | None, folder: str, part_keys: list[str]) -> dict[str, int]:
    """`write_decisions` for decisions small enough to be one table in this process (at most
    PARTITION_ROWS rows): the same files, written from here."""
    storage.delete_tree(folder)  # a half-written attempt
    rows = files = 0
    if decisions is not None and decisions.num_rows:
        decisions = decisions.sort_by("part")
        parts = decisions["part"].to_numpy()
        starts = np.flatnonzero(np.r_[True, parts[1:] != parts[:-1]])
        for start, end in zip(starts, [*starts[1:], len(parts)]):
            rows += _write_part(decisions.slice(start, end - start), folder, part_keys)["rows"][0].as_py()
            files += 1
    counts = {"files": files, "rows": rows}
    storage.write_json(counts, storage.join(folder, DONE))
    return counts


def _write_part(group: pa.Table, folder: str, part_keys: list[str]) -> pa.Table:
    key = part_keys[group["part"][0].as_py()]
    storage.write_parquet(group.drop_columns(["part"]), storage.join(folder, f"part-{key}.parquet"))
    return pa.table({"rows": [group.num_rows]}, schema=pa.schema([("rows", pa.int64())]))


def finished(folder: str) -> bool:
    return storage.exists(storage.join(folder, DONE))


def part_decisions(folder: str, key: str, schema: pa.Schema) -> pa.Table:
    """A part's decisions (an empty table of `schema` when the stage decided nothing there)."""
    path = storage.join(folder, f"part-{key}.parquet")
    return storage.read_table(path) if storage.exists(path) else schema.empty_table()


def rows_of(decisions: pa.Table, ids: pa.Array) -> np.ndarray:
    """For each id of a batch, its row in `decisions` (matched by `id`), or -1 when it has none."""
    if decisions.num_rows == 0:
        return np.full(len(ids), -1, np.int64)
    import pyarrow.compute as pc

    return pc.fill_null(pc.index_in(ids, value_set=decisions["id"].combine_chunks()), -1).to_numpy().astype(np.int64)
