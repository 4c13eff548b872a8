"""The corpus-wide phase of global stages, with no corpus-sized state in any one process.

A global stage's keys carry the part each document is in (`part`, its index in the run's
plan). Its `resolve` is a chain of hash-partitioned shuffles (`by_hash`: rows with equal keys
meet in one task, and a task holds about `PARTITION_ROWS` rows whatever the corpus size) ending
in per-document *decisions* (`part`, `id`, the stage's columns) for the documents it acts on.
`write_decisions` groups them by part with one more shuffle and writes one Parquet file per
part (`_work/sK/decisions/part-<key>.parquet`); the task that runs the part's decisions reads
that file only. Keys that fit one partition (at most PARTITION_ROWS rows and PARTITION_BYTES
bytes as Arrow holds them, the size the keys writer records in each keys file, `ARROW_BYTES`)
may instead be resolved on the driver as that one partition (`by_hash` of a table,
`write_decisions_table`). The driver then holds those keys and what the stage's resolve builds
from them, as a task would for a partition of that size; the byte bound is one a shuffle task
does not have (its partition is bounded in rows).

A shuffle goes through files in the run's work folder, not through Ray's object store: each
map task writes one file holding its rows as one piece per partition (`_write_pieces`), and
the task of partition p reads piece p of every file. Through the object store,
each map task's piece for each partition is an object the driver owns (a few KB of bookkeeping
each), so the driver grew with maps x partitions, the square of the corpus (~24 M objects per
shuffle at 10 TB). With files the driver holds their names only; the pieces cost one ranged
read each, from whatever filesystem the work folder is on (local, S3, GCS).
"""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from dataprep import runtime, storage

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
#: a keys file's documents the stage failed on, as JSON {id: error} (quarantined when it decides)
UNKEYED = b"dataprep.unkeyed"
#: free space a resolve's shuffles need, as a multiple of its keys' Arrow bytes: the shuffle
#: folder's peak, sampled every 0.2 s, was 1.07x the keys for exact_dedup (200k documents),
#: 1.14x for minhash_dedup (200k) and 1.9x for line_dedup (100k), with 10-20 partitions
SHUFFLE_SPACE = 2.5
DONE = "_done.json"
#: the folders the shuffles of the resolve under way write in (`shuffles`): a stack, innermost last
_SHUFFLE_FOLDERS: list[str] = []


@contextlib.contextmanager
def shuffles(folder: str, what: str = "a shuffle") -> Iterator[None]:
    """Shuffles run inside write their files under `folder` (in the run's work folder, which
    every node reaches), deleted on the way out, as are those of an attempt that died. A Ray
    Data task of `what` whose worker died on every retry (`ray_map`) stops the
    run with one line (TaskCrashed), as a part's does."""
    from dataprep.errors import TaskCrashed

    storage.delete_tree(folder)
    _SHUFFLE_FOLDERS.append(folder)
    try:
        yield
    except runtime.worker_lost() as exc:
        raise TaskCrashed(runtime.killed_its_worker(f"a task of {what}", exc) + "; give the workers more memory (a shuffle's "
                          "task holds up to resolution.PARTITION_ROWS rows) and rerun to resume") from None
    finally:
        _SHUFFLE_FOLDERS.pop()
        storage.delete_tree(folder)


def check_space(folder: str, keys_bytes: int, what: str) -> None:
    """Stop before a resolve whose shuffles would not fit on the work folder's disk (NoSpace),
    rather than with an OSError halfway through them. An object store is not checked."""
    from dataprep.errors import NoSpace

    free, need = storage.free_bytes(folder), int(SHUFFLE_SPACE * keys_bytes)
    if free is not None and free < need:
        raise NoSpace(f"{what} writes about {need / 2**30:.2f} GiB of shuffle files under {folder} "
                      f"({SHUFFLE_SPACE}x its keys' {keys_bytes / 2**30:.2f} GiB) and that disk has {free / 2**30:.2f} GiB free; "
                      "free space, or give --work-dir on a larger disk (or an object store), and rerun to resume")


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
    """`fn(table, **kwargs)` over each of `n` hash partitions of a Ray Dataset (or a `union` of
    them) by `key`: all rows with equal keys are in the same call, and a call gets about 1/n of
    the rows (a partition with no rows gets no call). An Arrow table (keys of at most PARTITION_ROWS rows and
    PARTITION_BYTES Arrow bytes, in this process) is one partition: `fn(table)`.

    The map side runs now (its files are written when this returns), the partitions' calls
    lazily, when the returned dataset is used; they can be read again until `shuffles` ends."""
    if isinstance(ds, pa.Table):
        return fn(ds, **kwargs)
    if not _SHUFFLE_FOLDERS:
        raise RuntimeError("a shuffle on Ray Data runs inside resolution.shuffles(folder)")
    folder = storage.join(_SHUFFLE_FOLDERS[-1], uuid.uuid4().hex)
    storage.make_dirs(folder)
    paths = []
    for source in ds if isinstance(ds, list) else [ds]:  # a `union`: each one's tasks write their pieces
        written = ray_map(source, _write_pieces, key=key, n=n, folder=folder)
        paths += [path for batch in written.iter_batches(batch_size=None, batch_format="pyarrow") for path in batch["path"].to_pylist()]
    partitions = runtime.data().from_items([{"partition": p} for p in range(n)], override_num_blocks=n)
    return ray_map(partitions, _partition_calls, paths=paths, fn=fn, kwargs=kwargs)


def _write_pieces(batch: pa.Table, key: list[str], n: int, folder: str) -> pa.Table:
    """A map task's rows as one file of `n` pieces, piece p holding partition p's rows as an
    Arrow IPC stream, after an index of n + 1 little-endian int64 offsets (piece p is bytes
    [offset p, offset p+1)): partition p's task reads 16 bytes at 8p, then its piece, whatever
    n is (an IPC file's footer lists every batch: each read would cost O(n))."""
    if batch.num_rows == 0:
        return pa.table({"path": pa.array([], pa.string())})
    tags = bucket(batch, key, n)
    order = np.argsort(tags, kind="stable")
    bounds = np.searchsorted(tags[order], np.arange(n + 1))
    rows = batch.take(pa.array(order)).combine_chunks().to_batches()[0]
    pieces = [rows.slice(bounds[p], bounds[p + 1] - bounds[p]) for p in range(n)]
    sizes = [_write_piece(piece, pa.MockOutputStream()) for piece in pieces]
    offsets = np.cumsum([8 * (n + 1), *sizes], dtype="<i8")
    path = storage.join(folder, f"{uuid.uuid4().hex}.pieces")  # a retried task writes a file of its own
    with storage.open_output(path) as sink:
        sink.write(offsets.tobytes())
        for piece in pieces:
            _write_piece(piece, sink)
    return pa.table({"path": [path]})


def _write_piece(piece: pa.RecordBatch, sink: pa.NativeFile) -> int:
    """An IPC stream of the piece (nothing for no rows); its size."""
    if piece.num_rows == 0:
        return 0
    start = sink.tell()
    with pa.ipc.new_stream(sink, piece.schema) as writer:
        writer.write_batch(piece)
    return sink.tell() - start


#: a partition task's reads in flight: a node runs a task per core, each with this many threads
PIECE_THREADS = 8


def _partition_calls(batch: pa.Table, paths: list[str], fn: Callable[..., pa.Table], kwargs: dict[str, Any]) -> Iterator[pa.Table]:
    """`fn` over each partition's rows: its piece of every map task's file, read PIECE_THREADS at
    a time (storage.each: on an object store, one after another, two ranged reads for each of
    ~5,000 files was minutes a partition)."""
    for p in batch["partition"].to_pylist():
        pieces = [piece for piece in storage.each(lambda path, p=p: _piece(path, p), paths, threads=PIECE_THREADS) if piece is not None]
        if pieces:
            yield fn(pa.concat_tables(pieces, promote_options="permissive"), **kwargs)


def _piece(path: str, p: int) -> pa.Table | None:
    """Partition p's rows in one map task's file (None when it has none)."""
    with storage.open_random(path) as source:
        start, end = np.frombuffer(source.read_at(16, 8 * p), "<i8")
        return pa.ipc.open_stream(source.read_at(end - start, start)).read_all() if end > start else None


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


def ray_map(ds: Any, step: Callable[..., Any], batch_size: int | None = None, **kwargs: Any) -> Any:
    """`step(batch, **kwargs)` over a Ray Dataset, as every map of a resolve runs: Arrow batches
    (whole blocks by default), and a lost worker retried CRASH_RETRIES times, as a part is (Ray
    Data's own default retries it forever: a task that kills its worker every time would never
    stop). Every map gets these same arguments: Ray Data fuses two maps only when theirs are equal.

    `max_retries` has no named parameter in Ray 2.60, so it goes as a remote argument, which Ray
    warns is deprecated on every map: the warning is silenced here, not printed into a run's log."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return ds.map_batches(step, batch_size=batch_size, batch_format="pyarrow", fn_kwargs=kwargs, max_retries=runtime.CRASH_RETRIES)


def map_batches(data: Any, fn: Callable[..., pa.Table], **kwargs: Any) -> Any:
    """`fn(batch, **kwargs)` over every batch of a Ray Dataset (or of each of a `union`'s), or
    over a table (the one partition of a resolve on the driver): the steps between a stage's
    shuffles, written once for both."""
    if isinstance(data, pa.Table):
        return fn(data, **kwargs)
    if isinstance(data, list):
        return [map_batches(d, fn, **kwargs) for d in data]
    return ray_map(data, fn, **kwargs)


def union(first: Any, second: Any) -> Any:
    """The rows of both: two tables on the driver as one; two Ray Datasets as a list of them, for
    `by_hash`, which writes each one's pieces from its own tasks (Ray Data's union would pass
    every block of both through the object store first)."""
    if isinstance(first, pa.Table):
        return pa.concat_tables([first, second])
    return [*(first if isinstance(first, list) else [first]), *(second if isinstance(second, list) else [second])]


def write_decisions(decisions: Any, folder: str, part_keys: list[str], n: int) -> dict[str, int]:
    """Write a Ray Dataset of decisions (with a `part` column) as one Parquet file per part
    that has any, then `_done.json` (what a resumed run checks). Returns the counts."""
    storage.delete_tree(folder)  # a half-written attempt
    counts = []
    if decisions is not None:
        written = by_hash(decisions, ["part"], _write_parts, n, folder=folder, part_keys=part_keys)
        counts = [c for batch in written.iter_batches(batch_size=None, batch_format="pyarrow") for c in batch["rows"].to_pylist()]
    return _done(folder, counts)


def write_decisions_table(decisions: pa.Table | None, folder: str, part_keys: list[str]) -> dict[str, int]:
    """`write_decisions` for decisions small enough to be one table in this process (at most
    PARTITION_ROWS rows): the same files, written from here."""
    storage.delete_tree(folder)  # a half-written attempt
    any_rows = decisions is not None and decisions.num_rows > 0
    return _done(folder, _write_parts(decisions, folder, part_keys)["rows"].to_pylist() if any_rows else [])


def _write_parts(decisions: pa.Table, folder: str, part_keys: list[str]) -> pa.Table:
    """One Parquet file per part of the decisions; the rows of each."""
    decisions = decisions.sort_by("part")
    parts = decisions["part"].to_numpy()
    starts = np.flatnonzero(np.r_[True, parts[1:] != parts[:-1]])
    counts = []
    for start, end in zip(starts, [*starts[1:], len(parts)]):
        key = part_keys[int(parts[start])]
        storage.write_parquet(decisions.slice(start, end - start).drop_columns(["part"]), storage.join(folder, f"part-{key}.parquet"))
        counts.append(end - start)
    return pa.table({"rows": pa.array(counts, pa.int64())})


def _done(folder: str, rows_per_file: list[int]) -> dict[str, int]:
    counts = {"files": len(rows_per_file), "rows": sum(rows_per_file)}
    storage.write_json(counts, storage.join(folder, DONE))
    return counts


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
