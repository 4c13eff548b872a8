"""Documents in and out: find input files, cut them into parts, read parts, write shards.

Bad input never crashes a run (more of it than the error budget stops it: run.py) and never
disappears: a file that cannot be opened, lacks the text column or has a text column of the
wrong type is quarantined whole at planning time; a row with null, non-UTF-8, non-string or
oversized text, or a duplicate id, is quarantined at read time.
Each quarantine record says which file, which row, how many documents and why.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dataprep import storage
from dataprep import text as textutil
from dataprep.errors import ConfigError
from dataprep.readers import html as html_reader
from dataprep.readers import warc as warc_reader

TABLE_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".ndjson")
FORMAT_SUFFIXES = {"parquet": (".parquet",), "jsonl": (".jsonl", ".jsonl.gz", ".ndjson"), "wet": warc_reader.WET_SUFFIXES,
                   "warc": warc_reader.WARC_SUFFIXES, "html": html_reader.HTML_SUFFIXES}
INPUT_FORMATS = ("auto", *FORMAT_SUFFIXES)
INPUT_SUFFIXES = tuple(sorted({s for suffixes in FORMAT_SUFFIXES.values() for s in suffixes}, key=len, reverse=True))
QUARANTINE_SCHEMA = pa.schema(
    [("source", pa.string()), ("row", pa.int64()), ("rows", pa.int64()), ("id", pa.string()), ("error", pa.string())]
)
TEXT_TYPES = (pa.string(), pa.large_string(), pa.string_view(), pa.binary(), pa.large_binary(), pa.binary_view(), pa.null())
#: defaults of the run options that shape reading (pipeline.RunOptions uses them; so does read_texts)
PART_BYTES = 32 * 2**20  # target uncompressed size of one unit of work (a Ray task)
BATCH_ROWS = 512  # documents per Arrow batch inside a task
MAX_DOC_BYTES = 8 * 2**20  # no web page is 8 MiB of text


@dataclass(frozen=True)
class Part:
    """One unit of work: a run of row groups of one Parquet file, a whole JSONL file, a byte
    range of a WARC/WET file, or a bundle of HTML files."""

    key: str  # "<file index>-<chunk>", names the part's output shards
    file_index: int
    path: str
    stem: str  # what assigned ids ("<stem>:<row>") start with: documents.id_prefixes
    row_groups: tuple[int, ...] | None  # None: the whole file (JSONL)
    first_row: int  # index in the file of the part's first row
    num_rows: int | None  # None when unknown before reading (JSONL)
    max_rows: int | None = None  # the part's share of --limit
    fmt: str = "parquet"  # parquet, jsonl, warc, wet, html (files), html-column (a table with an html column)
    byte_range: tuple[int, int] | None = None  # WARC/WET: records starting in [start, end) of the file
    bundle: tuple[tuple[str, str], ...] | None = None  # HTML files: (path, stem) of each page
    #: (size, mtime_ns) of the file as the run planned and fingerprinted it, or of each bundled page
    #: (run.py sets it): a part whose file changed since stops the run rather than mix two versions
    versions: tuple[tuple[int, int], ...] = ()


READER_MADE_TEXT = ("warc", "wet", "html")  # formats whose reader makes the `text` column itself


def quarantine_record(source: str, error: str, row: int | None = None, rows: int | None = 1, id: str | None = None) -> dict[str, Any]:
    return {"source": source, "row": row, "rows": rows, "id": id, "error": " ".join(str(error).split())}


def file_format(path: str, declared: str = "auto") -> str:
    """A file's input format: the declared one, else the one its name ends with. Declared
    `html`, a Parquet or JSONL file is a table of raw pages (its `html` column)."""
    name = path.lower()
    if declared not in ("auto", "html") or (declared == "html" and not name.endswith(TABLE_SUFFIXES)):
        return declared
    for fmt, suffixes in FORMAT_SUFFIXES.items():
        if name.endswith(suffixes):
            return fmt
    raise ConfigError(f"cannot tell the format of {path}; name it *.parquet, *.jsonl, *.warc.gz, *.wet.gz, *.html or set input_format")


def discover(spec: str, declared: str = "auto") -> list[str]:
    """Input files named by a file, a folder (searched recursively) or a glob, sorted."""
    return discover_all(spec, declared)[0]


def discover_all(spec: str, declared: str = "auto") -> tuple[list[str], list[str], list[str]]:
    """(input files, web files passed over, other files passed over) for a file, a folder
    (searched recursively) or a glob, local or on any filesystem storage.py opens (files as
    absolute paths or URIs).

    A declared format takes the files with its suffixes (any file a glob names). "auto" takes
    every known suffix, but a folder that holds tables (Parquet, JSONL) besides raw web files
    (WARC, WET, HTML) is read for its tables: the web files are passed over, and returned so the
    run can say so (`--input-format html` reads them). So are a folder's files of no format read
    (a `notes.txt`, a page saved as `.php`): counted in stats.json, and named when a format was
    declared.
    """
    is_glob = any(ch in spec for ch in "*?[") and not storage.exists(storage.normalize(spec))  # `page[1].html` may be a name
    if is_glob:
        candidates = storage.glob(storage.normalize(spec)) if storage.is_remote(spec) else glob.glob(spec, recursive=True)
        storage.refuse_unnamed(candidates, spec)
        candidates = [storage.listed(p) for p in candidates if not os.path.isdir(p)]
    elif storage.is_dir(storage.normalize(spec)):  # below it, names starting with "_" or "." are skipped (Hadoop's convention)
        root = storage.normalize(spec)
        candidates = [uri for uri in storage.walk(root)
                      if not any(part.startswith(("_", ".")) for part in storage.relative(uri, root).split("/")[:-1])]
    elif storage.is_file(storage.normalize(spec)):
        return [storage.normalize(spec)], [], []
    else:
        raise ConfigError(f"input not found: {storage.public(spec)}")
    wanted = INPUT_SUFFIXES if declared == "auto" else ("",) if is_glob else FORMAT_SUFFIXES[declared]
    if declared == "html":  # pages as files, or as a column of tables
        wanted = wanted + TABLE_SUFFIXES
    shown = [p for p in candidates if not storage.name(p).startswith((".", "_"))]
    files = sorted(p for p in shown if storage.name(p).lower().endswith(wanted))
    if not files:
        raise ConfigError(f"no input files in {storage.public(spec)} (looked for {', '.join('*' + s for s in wanted if s) or 'any file'})")
    others = sorted(set(shown) - set(files))
    if declared != "auto":
        return files, [], others
    tables = [f for f in files if file_format(f) in ("parquet", "jsonl")]
    if tables and len(tables) < len(files):
        return tables, [f for f in files if f not in set(tables)], others
    return files, [], others


def relative_names(files: list[str], folder: str | None = None) -> list[str]:
    """Each file's path below the input folder (`folder`, when --input names one and every file
    lies below it), else below the files' common folder: unique by construction (unlike bare
    file names, which repeat across folders). An HTML page's id. Below the input folder, not the
    files' common folder: a crawl's pages `2024/a.html` were `a.html` until a `2025/` came."""
    absolute = [storage.listed(f) for f in files]
    root = storage.listed(folder) if folder is not None else None
    if root is None or not all(path.startswith(root.rstrip("/") + "/") for path in absolute):  # (URIs too: commonpath makes s3:// s3:/)
        root = os.path.dirname(absolute[0]) if len(files) == 1 else os.path.commonpath(absolute)
    return [Path(os.path.relpath(path, root)).as_posix() for path in absolute]


def input_folder(spec: str) -> str | None:
    """The folder --input names (its files' ids are their paths below it), or None for a file or a glob."""
    uri = storage.normalize(spec)
    return uri if storage.is_dir(uri) else None  # a glob names no folder, but a folder may be named `x[1]`


def stem(name: str) -> str:
    """A relative name without its input suffix."""
    suffix = next((s for s in INPUT_SUFFIXES if name.lower().endswith(s)), "")
    return name[: len(name) - len(suffix)]


def id_prefixes(relatives: list[str]) -> list[str]:
    """What the ids assigned at read time (`<prefix>:<row>`) start with, per file: its relative
    name without its suffix, unless another input file has the same one (`a.parquet` and
    `a.jsonl`, `a.jsonl` and `a.jsonl.gz`): then its whole relative name, so no two files' ids meet."""
    prefixes = [stem(name) for name in relatives]
    while shared := {name for name, count in Counter(prefixes).items() if count > 1}:  # relative names are unique: it ends
        prefixes = [relative if name in shared else name for name, relative in zip(prefixes, relatives)]
    return prefixes


def plan(files: list[str], text_column: str, part_bytes: int, limit: int | None,
         declared: str = "auto", folder: str | None = None) -> tuple[list[Part], list[dict[str, Any]]]:
    """Cut the input into parts from file metadata only; unreadable files go to quarantine.
    `folder`: the folder --input names, if it names one (relative_names)."""
    parts: list[Part] = []
    unreadable: list[tuple[int, dict[str, Any]]] = []  # (file index, quarantine record)
    pages: list[tuple[int, str, str]] = []
    relatives = relative_names(files, folder)
    for index, (path, relative, name) in enumerate(zip(files, relatives, id_prefixes(relatives))):
        fmt = file_format(path, declared)
        if fmt == "parquet":
            try:
                parts.extend(_plan_parquet(index, path, name, text_column, part_bytes, declared))
            except _BadFile as exc:
                unreadable.append((index, quarantine_record(path, str(exc), rows=exc.rows)))
        elif fmt in ("warc", "wet"):
            try:
                parts.extend(_plan_warc(index, path, name, fmt, part_bytes, limit))
            except OSError as exc:  # a link to nothing, a file gone since the listing: this file only
                if storage.store_failed(exc):
                    raise
                unreadable.append((index, quarantine_record(path, f"cannot read {fmt.upper()} file: {type(exc).__name__}: {exc}", rows=0)))
        elif fmt == "html":  # a page's id is its name as it is (`a.html` and `a.htm` are two pages)
            pages.append((index, path, relative))
        else:
            rows = _count_lines(path) if limit is not None else None
            parts.append(Part(f"{index:05d}-0000", index, path, name, None, 0, rows, fmt=_table_format("jsonl", text_column, declared)))
    parts.extend(_plan_html(pages, part_bytes))
    if limit is not None:
        return _apply_limit(parts, unreadable, limit)
    return parts, [record for _, record in unreadable]


def _table_format(fmt: str, text_column: str, declared: str) -> str:
    """A table whose text column is `html`, or any table read with `--input-format html`, holds
    raw pages: binary ones are decoded by the browser's charset rules, not refused for not being UTF-8."""
    return "html-column" if text_column == "html" or declared == "html" else fmt


def _plan_warc(index: int, path: str, name: str, fmt: str, part_bytes: int, limit: int | None) -> list[Part]:
    """Byte ranges of `part_bytes` compressed bytes (one range for a file that is not gzipped a
    member per record, or under --limit, which must know how many records each part holds)."""
    size = storage.size(path)
    if limit is not None or not warc_reader.splittable(path):
        rows = warc_reader.count_records(path, fmt == "wet") if limit is not None else None
        return [Part(f"{index:05d}-0000", index, path, name, None, 0, rows, fmt=fmt, byte_range=(0, size))]
    bounds = list(range(0, size, part_bytes)) + [size]
    return [Part(f"{index:05d}-{k:04d}", index, path, name, None, 0, None, fmt=fmt, byte_range=(start, end))
            for k, (start, end) in enumerate(zip(bounds, bounds[1:]))]


def _plan_html(pages: list[tuple[int, str, str]], part_bytes: int) -> list[Part]:
    """Bundles of HTML files of about `part_bytes` each (named by their first file's index)."""
    parts, bundle, size = [], [], 0
    for position, (index, path, name) in enumerate(pages):
        bundle.append((index, path, name))
        size += storage.size(path) or 0  # None: a link to nothing, whose read fails (quarantined)
        if size >= part_bytes or position == len(pages) - 1:
            first = bundle[0]
            parts.append(Part(f"{first[0]:05d}-0000", first[0], first[1], first[2], None, 0, len(bundle), fmt="html",
                              bundle=tuple((p, n) for _, p, n in bundle)))
            bundle, size = [], 0
    return parts


#: the columns the removed-documents ledger adds to a removed document's own
LEDGER_COLUMNS = ("stage", "reason", "details")


def check_column_names(names: list[str], path: str) -> None:
    """An input column with a ledger column's name would meet it in removed/ (every later write
    of the ledger failed, on every rerun): one line before anything runs, not a corpus lost."""
    clash = next((n for n in names if n in LEDGER_COLUMNS), None)
    if clash is not None:
        raise ConfigError(f"{storage.public(path)}: the input column {clash!r} has a name the removed-documents ledger gives "
                          f"its own columns ({', '.join(LEDGER_COLUMNS)}); rename it")


class _BadFile(Exception):
    def __init__(self, message: str, rows: int | None = 0):
        super().__init__(message)
        self.rows = rows


def _plan_parquet(index: int, path: str, name: str, text_column: str, part_bytes: int, declared: str) -> list[Part]:
    try:
        meta = storage.parquet_file(path).metadata
        schema = meta.schema.to_arrow_schema()
    except Exception as exc:  # pyarrow raises several types for damaged files
        if storage.store_failed(exc):
            raise
        raise _BadFile(f"cannot read Parquet file: {exc}") from None
    check_column_names(schema.names, path)
    if text_column not in schema.names:
        raise _BadFile(f"no column {text_column!r} (columns: {', '.join(schema.names)})", rows=meta.num_rows)
    if text_column != "text" and "text" in schema.names:
        raise _BadFile(f"has both {text_column!r} and 'text' columns; rename one", rows=meta.num_rows)
    text_type = schema.field(text_column).type
    if (text_type.value_type if pa.types.is_dictionary(text_type) else text_type) not in TEXT_TYPES:  # pandas' Categorical: dictionary<string>
        raise _BadFile(f"column {text_column!r} has type {text_type}, expected string", rows=meta.num_rows)
    parts, group, size, start = [], [], 0, 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        group.append(g)
        size += rg.total_byte_size
        if size >= part_bytes or g == meta.num_row_groups - 1:
            rows = sum(meta.row_group(i).num_rows for i in group)
            parts.append(Part(f"{index:05d}-{len(parts):04d}", index, path, name, tuple(group), start, rows, fmt=_table_format("parquet", text_column, declared)))
            start += rows
            group, size = [], 0
    return parts


def _count_lines(path: str) -> int:
    """Non-empty lines; a damaged rest of the file (a cut gzip stream) counts as one more, so a
    limited read reaches it and quarantines it instead of stopping short of it."""
    count = 0
    try:
        with storage.open_text_input(path) as handle:
            for line in handle:
                count += bool(line.strip())
    except Exception as exc:  # noqa: BLE001 (any decoder error of a damaged file)
        if storage.store_failed(exc):
            raise
        count += 1
    return count


def _apply_limit(parts: list[Part], unreadable: list[tuple[int, dict[str, Any]]], limit: int) -> tuple[list[Part], list[dict[str, Any]]]:
    """The parts and the unreadable files (file index, quarantine record) within the first `limit`
    records, in file order; an unreadable file's rows count as records read, as far as the limit
    reaches into it (a file the limit never reached was counted whole)."""
    entries = sorted([*((p.file_index, p) for p in parts), *unreadable], key=lambda entry: entry[0])
    limited, quarantined, remaining = [], [], limit
    for _, entry in entries:
        if remaining <= 0:
            break
        share = min(remaining, (entry.num_rows if isinstance(entry, Part) else entry["rows"]) or 0)
        if not isinstance(entry, Part):
            quarantined.append({**entry, "rows": share})
        elif share:
            limited.append(Part(**{**entry.__dict__, "max_rows": share}))
        remaining -= share
    return limited, quarantined


def read_part(part: Part, text_column: str, batch_rows: int, columns: list[str] | None = None) -> Iterator[tuple[pa.Table | None, np.ndarray | None, list[dict[str, Any]]]]:
    """Yield (raw batch, file row index per row, quarantine records) for a part.

    A read error part-way (a damaged page, a truncated gzip) quarantines the rest of the part
    with the error and ends the part; the rows read before it go on (WARC files resume at the
    next good record instead). `columns` narrows a Parquet read (JSONL is always read whole;
    for WARC, `["id"]` skips decoding the pages). For WARC/WET a row index is the record's byte
    offset in the file; for HTML files, the page's place in its bundle.
    """
    lines = False  # a JSONL part, whose plan counts no rows (but under --limit)
    if part.fmt in ("warc", "wet"):
        reader = _iter_warc(part, batch_rows, ids_only=columns == ["id"])
    elif part.fmt == "html":
        reader = _iter_html(part, batch_rows)
    elif part.row_groups is not None:
        reader = _iter_parquet(part, batch_rows, columns)
    else:
        reader = _iter_jsonl(part, text_column, batch_rows)
        lines = True
    done = accounted = 0  # rows read; and those plus the rows quarantined on the way (not to be counted again)
    try:
        for table, rows, bad in reader:
            if part.max_rows is not None and done + (table.num_rows if table is not None else 0) > part.max_rows:
                keep = part.max_rows - done
                table, rows = table.slice(0, keep), rows[:keep]
            done += table.num_rows if table is not None else 0
            accounted += (table.num_rows if table is not None else 0) + sum(q["rows"] or 0 for q in bad)
            yield table, rows, bad
            if part.max_rows is not None and done >= part.max_rows:
                return
    except Exception as exc:  # noqa: BLE001 (any decoder error of a damaged file)
        if storage.store_failed(exc):
            raise
        # what the part held and no batch or record accounts for: a JSONL file's lines counted now,
        # so a failure the line checks did not foresee is still counted, not lost unseen
        total = _count_lines(part.path) if part.num_rows is None and lines else part.num_rows
        left = None if total is None else max(min(total, part.max_rows or total) - accounted, 0)
        yield None, None, [quarantine_record(part.path, f"read failed after {done} rows: {exc}", row=part.first_row + done, rows=left)]


def _iter_warc(part: Part, batch_rows: int, ids_only: bool):
    start, end = part.byte_range
    compressed = warc_reader.is_gzip(part.path)
    for table, offsets, errors in warc_reader.read_records(part.path, start, end, part.fmt == "wet", batch_rows, compressed, ids_only):
        bad = [quarantine_record(part.path, error, row=offset, rows=lost, id=record_id) for offset, error, lost, record_id in errors]
        yield table, np.array(offsets, dtype=np.int64), bad


def _iter_html(part: Part, batch_rows: int):
    """The bundle's files, the first `max_rows` of them under --limit (a bad file past them is not read)."""
    paths, names = zip(*part.bundle[: part.max_rows])
    for table, rows, errors in html_reader.read_bundle(list(paths), list(names), batch_rows):
        # the page's id (its path below the folder), as it would have had: `explain --id` finds it
        yield table, rows, [quarantine_record(paths[row], error, id=names[row]) for row, error in errors]


def _iter_parquet(part: Part, batch_rows: int, columns: list[str] | None = None):
    """Row group by row group, so a damaged group costs only its own rows."""
    handle = storage.parquet_file(part.path)
    row = part.first_row
    for group in part.row_groups:
        group_rows = handle.metadata.row_group(group).num_rows
        done = 0
        try:
            for batch in handle.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns, use_threads=False):
                table = pa.Table.from_batches([batch])
                yield table, np.arange(row + done, row + done + table.num_rows), []
                done += table.num_rows
        except Exception as exc:  # noqa: BLE001 (any decoder error of a damaged page)
            if storage.store_failed(exc):  # the file named: a worker's "AWS Error NETWORK_CONNECTION during GetObject" named none
                raise storage.store_error(part.path, exc) if isinstance(exc, OSError) else exc from None
            message = f"row group {group} unreadable after {done} of its rows: {exc}"
            yield None, None, [quarantine_record(part.path, message, row=row + done, rows=group_rows - done)]
        row += group_rows


def _iter_jsonl(part: Part, text_column: str, batch_rows: int):
    """Batches of records, of the first `max_rows` non-empty lines under --limit (a bad line past
    them is not read: it is not in what was asked for); a damaged file (a cut gzip stream) first
    yields the records read before the damage, then raises (read_part quarantines the rest)."""
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    bad: list[dict[str, Any]] = []
    taken = 0  # non-empty lines read (what --limit counts)
    with storage.open_text_input(part.path) as handle:
        lines = enumerate(handle)
        while True:
            try:
                row, line = next(lines)
            except StopIteration:
                break
            except Exception:
                if records or bad:
                    yield (_records_table(records) if records else None), np.array(rows, dtype=np.int64), bad
                raise
            if not line.strip():
                continue
            if part.max_rows is not None and taken >= part.max_rows:
                break
            taken += 1
            try:
                record = json.loads(line)
            except UnicodeDecodeError as exc:
                bad.append(quarantine_record(part.path, f"line is not valid UTF-8: {exc.reason} at byte {exc.start}", row=row))
                continue
            except json.JSONDecodeError as exc:
                bad.append(quarantine_record(part.path, f"invalid JSON: {exc.msg} (column {exc.colno})", row=row))
                continue
            if not isinstance(record, dict):
                bad.append(quarantine_record(part.path, f"line is a JSON {type(record).__name__}, expected an object", row=row))
                continue
            if b"\\u" in line and _holds_lone_surrogate(record):  # an escape JSON allows and Unicode text cannot hold
                bad.append(quarantine_record(part.path, "a string holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape): not Unicode text",
                                             row=row, id=_str_or_none(record.get("id"))))
                continue
            if text_column not in record:
                bad.append(quarantine_record(part.path, f"no {text_column!r} field", row=row, id=_str_or_none(record.get("id"))))
                continue
            value = record[text_column]
            if value is not None and not isinstance(value, str):
                bad.append(quarantine_record(part.path, f"{text_column!r} is a JSON {type(value).__name__}, expected a string", row=row, id=_str_or_none(record.get("id"))))
                continue
            if text_column != "text" and "text" in record:  # as a Parquet file with both columns
                bad.append(quarantine_record(part.path, f"has both {text_column!r} and 'text' fields; rename one", row=row, id=_str_or_none(record.get("id"))))
                continue
            records.append(record)
            rows.append(row)
            if len(records) >= batch_rows:
                yield _records_table(records), np.array(rows), bad
                records, rows, bad = [], [], []
    if records or bad:
        yield (_records_table(records) if records else None), np.array(rows, dtype=np.int64), bad


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a string with a lone surrogate (`"\\ud800"` parses, and
    then no UTF-8 column can take it: the whole batch failed, and the part's later lines with it)."""
    if isinstance(value, str):
        return LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(v) for v in value.values()) or any(_holds_lone_surrogate(k) for k in value)
    return isinstance(value, list) and any(_holds_lone_surrogate(v) for v in value)


def as_text(values: list[Any]) -> pa.Array:
    """Values of mixed types as one string column: strings as they are, the rest as JSON."""
    return pa.array([v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str) for v in values], pa.string())


def _records_table(records: list[dict[str, Any]]) -> pa.Table:
    """Columns in order of first appearance; a column of mixed JSON types is kept as text: its
    strings as they are (a `url` that is once a number is still a URL where it is a string), the
    other values as JSON."""
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = as_text(values)
    return pa.table(columns)


def conform(table: pa.Table, rows: np.ndarray, part: Part, text_column: str, max_doc_bytes: int, duplicate_ids: dict[str, int],
            duplicate_files: dict[int, str] | None = None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Bring a raw batch to the document schema (string `id`, large_string `text`).

    Rows that cannot be documents are quarantined, each with its file row and reason.
    `duplicate_ids` maps the digest of each id seen twice to its first location;
    `duplicate_files` names the files of those locations, for the message.
    """
    check_column_names(table.column_names, part.path)  # a JSONL record's keys are known only now
    if text_column != "text" and part.fmt not in READER_MADE_TEXT:
        table = table.rename_columns(["text" if n == text_column else n for n in table.column_names])
    ids = _ids(table, rows, part)
    raw = table.column("text").combine_chunks()
    if pa.types.is_dictionary(raw.type):  # pandas' Categorical
        raw = raw.dictionary_decode()
    if raw.type in (pa.string_view(), pa.binary_view()):
        raw = raw.cast(pa.large_string() if raw.type == pa.string_view() else pa.large_binary())
    if part.fmt == "html-column" and (pa.types.is_binary(raw.type) or pa.types.is_large_binary(raw.type)):
        raw, charsets = html_reader.decode_column(raw, table.column("charset") if "charset" in table.column_names else None)
        for name, column in charsets.items():  # a table's own charset columns are replaced by what was found
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, column) if index >= 0 else table.append_column(name, column)
    if pa.types.is_null(raw.type):
        raw = pa.nulls(len(raw), pa.large_binary())
    raw = raw.cast(pa.large_binary()) if not pa.types.is_large_binary(raw.type) else raw
    errors = np.full(table.num_rows, None, dtype=object)
    is_null = pc.is_null(raw).to_numpy(zero_copy_only=False)
    errors[is_null] = "text is null"
    sizes = pc.fill_null(pc.binary_length(raw), 0).to_numpy(zero_copy_only=False)
    too_big = sizes > max_doc_bytes
    errors[too_big] = [f"text is {s:,} bytes, above max_doc_bytes ({max_doc_bytes:,})" for s in sizes[too_big]]
    text, invalid = _decode_utf8(raw)
    for i, message in invalid.items():
        errors[i] = errors[i] or message
    if duplicate_ids:
        locations = location(part.file_index, rows)
        for i, key in enumerate(id_keys(ids)):
            first = duplicate_ids.get(key)
            if first is not None and first != locations[i] and errors[i] is None:
                where = (duplicate_files or {}).get(first >> 40, f"file #{first >> 40}")
                errors[i] = f"duplicate id (first seen in {where}, {_row_unit(where)} {first & (2**40 - 1)})"
    table = table.set_column(table.schema.get_field_index("text"), "text", text)
    id_index = table.schema.get_field_index("id")
    table = table.set_column(id_index, "id", ids) if id_index >= 0 else table.add_column(0, "id", ids)
    bad = np.flatnonzero(errors != None)  # noqa: E711
    records = [quarantine_record(part.bundle[rows[i]][0] if part.bundle else part.path, errors[i],
                                 row=None if part.bundle else int(rows[i]), id=ids[i].as_py()) for i in bad]
    if bad.size:
        table = table.filter(pa.array(errors == None))  # noqa: E711
    return table, records


def _row_unit(path: str) -> str:
    """What a location's low bits count in a file: WARC records are found by byte offset."""
    return "byte" if path.lower().endswith(warc_reader.WARC_SUFFIXES + warc_reader.WET_SUFFIXES) else "row"


def _ids(table: pa.Table, rows: np.ndarray, part: Part) -> pa.Array:
    assigned = pa.array([f"{part.stem}:{r}" for r in rows], pa.string())
    if "id" not in table.column_names:
        return assigned
    given = table.column("id").combine_chunks()
    if not pa.types.is_string(given.type):
        given = given.cast(pa.string()) if not pa.types.is_null(given.type) else pa.nulls(len(given), pa.string())
    return pc.if_else(pc.is_null(given), assigned, given)


def _decode_utf8(raw: pa.Array) -> tuple[pa.Array, dict[int, str]]:
    """Binary -> large_string; rows that are not valid UTF-8 become empty and are reported."""
    try:
        return raw.cast(pa.large_string()), {}
    except pa.ArrowInvalid:
        pass
    values = raw.to_pylist()
    invalid = {}
    for i, value in enumerate(values):
        if value is None:
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            invalid[i] = f"text is not valid UTF-8 ({exc.reason} at byte {exc.start})"
            values[i] = b""
    return pa.array(values, pa.large_binary()).cast(pa.large_string()), invalid


def location(file_index: int, rows: np.ndarray) -> np.ndarray:
    """A document's place in the input as one int64: file index in the high bits, row below."""
    return (np.int64(file_index) << np.int64(40)) | np.asarray(rows, dtype=np.int64)


def id_keys(ids: pa.Array) -> list[str]:
    """128-bit hex digests of ids: compact, collision-safe keys for the corpus-wide id check."""
    return [xxhash.xxh3_128_hexdigest(v) for v in textutil.utf8_bytes(ids)]


def part_ids(part: Part, text_column: str, batch_rows: int) -> tuple[list[str], np.ndarray]:
    """(id digest, location) of every readable row of a part, for the duplicate-id check."""
    keys: list[str] = []
    locations: list[np.ndarray] = []
    if part.bundle:  # an HTML page's id is its name
        rows = np.arange(len(part.bundle))
        return id_keys(pa.array([stem for _, stem in part.bundle])), location(part.file_index, rows)
    if part.row_groups is not None and "id" not in storage.read_schema(part.path).names:
        rows = np.arange(part.first_row, part.first_row + (part.max_rows or part.num_rows or 0))
        empty = pa.table({"text": pa.nulls(len(rows))})
        return id_keys(_ids(empty, rows, part)), location(part.file_index, rows)
    for table, rows, _ in read_part(part, text_column, batch_rows, columns=["id"]):
        if table is None:
            continue
        keys.extend(id_keys(_ids(table, rows, part)))
        locations.append(location(part.file_index, rows))
    return keys, (np.concatenate(locations) if locations else np.zeros(0, np.int64))


def repeated_ids(parts: list[Part], text_column: str) -> tuple[dict[str, int], dict[int, str]]:
    """The ids that occur more than once in the parts -> their first location, and the files of
    those locations: a run's id check (run._duplicate_ids) in this process, for the samples that
    `inspect` and training read, where a repeated id made one document stand for another."""
    found = [part_ids(part, text_column, BATCH_ROWS) for part in parts]
    keys = np.array([key for part_keys, _ in found for key in part_keys])
    if not len(keys):
        return {}, {}
    unique, group, counts = np.unique(keys, return_inverse=True, return_counts=True)
    first = np.full(len(unique), np.iinfo(np.int64).max)
    np.minimum.at(first, group, np.concatenate([places for _, places in found]))
    repeated = {str(unique[i]): int(first[i]) for i in np.flatnonzero(counts > 1)}
    paths = {part.file_index: part.path for part in parts}
    return repeated, {place >> 40: paths[place >> 40] for place in repeated.values()}


def read_documents(spec: str, text_column: str = "text", limit: int | None = None, input_format: str = "auto",
                   max_doc_bytes: int = MAX_DOC_BYTES, tally: Counter | None = None) -> Iterator[pa.Table]:
    """Batches of the documents of a file, folder or glob (the first `limit` records), read and
    conformed as a run reads them; records a WARC reader sets aside are not documents. `tally`,
    when given, counts the records read, and those quarantined or set aside among them."""
    from dataprep.outputs import split_read_removals

    tally = Counter() if tally is None else tally
    parts, unreadable = plan(discover(spec, input_format), text_column, PART_BYTES, limit, input_format, input_folder(spec))
    repeated, files = repeated_ids(parts, text_column)
    lost = sum(q["rows"] or 0 for q in unreadable)
    tally.update(records=lost, quarantined=lost)
    for part in parts:
        for raw, rows, bad in read_part(part, text_column, BATCH_ROWS):
            lost = sum(q["rows"] or 0 for q in bad)
            tally.update(records=lost + (raw.num_rows if raw is not None else 0), quarantined=lost)
            if raw is not None:
                table, quarantined = conform(raw, rows, part, text_column, max_doc_bytes, repeated, files)
                documents, set_aside = split_read_removals(table)
                tally["quarantined"] += len(quarantined)
                tally["set aside"] += 0 if set_aside is None else set_aside.num_rows
                yield documents


def read_texts(spec: str, text_column: str = "text", limit: int | None = None) -> list[str]:
    """Normalized texts of a file, folder or glob (the quality classifier's and the
    decontamination index's training text), read with the pipeline's own readers."""
    from dataprep.stages.base import TextBatch
    from dataprep.stages.normalize import Normalize

    texts: list[str] = []
    for table in read_documents(spec, text_column, limit):
        texts.extend(Normalize().apply(TextBatch(table)).batch.text.to_pylist())
    return [t for t in texts if t]

