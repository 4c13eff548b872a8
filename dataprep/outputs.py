"""The output folder's shards as a whole: what the reader set aside goes to the ledger, and every
part of kept/ and removed/ carries the run's columns.

documents.py writes each part as its input dictates; this module makes the folders read as
datasets (one schema) and turns a WARC reader's set-aside records into ledger rows.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from dataprep import documents, storage
from dataprep.layout import OutputLayout


def split_read_removals(table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
    """(documents, records the reader set aside with a reason): WARC requests, images, 404s, a
    file of an HTML folder that is not text...

    The set-aside records go to the removed-documents ledger as stage `read`, with their WARC
    metadata as details, so a student sees what a crawl held besides pages.
    """
    if "_read_reason" not in table.column_names:
        return table, None
    reasons = table.column("_read_reason")
    set_aside = pc.is_valid(reasons)
    kept = table.filter(pc.invert(set_aside)).drop_columns(["_read_reason"])
    if not pc.any(set_aside).as_py():
        return kept, None
    removed = table.filter(set_aside)
    described = [c for c in ("warc_type", "content_type", "http_status", "html_file") if c in removed.column_names]
    details = [json.dumps({k: v for k, v in row.items() if v is not None}) for row in removed.select(described).to_pylist()]
    ledger = removed.drop_columns(["_read_reason"])
    ledger = ledger.append_column("stage", pa.array(["read"] * removed.num_rows, pa.string()))
    ledger = ledger.append_column("reason", removed.column("_read_reason"))
    return kept, ledger.append_column("details", pa.array(details, pa.string()))


#: parts rewritten at once by unify_parts: each holds a whole part in memory
REWRITE_THREADS = 4


def unify_parts(kept: str, removed: str) -> str | None:
    """Give every part file of kept/ and removed/ the run's columns (nulls where a part had none).

    Parts are written as their input dictates: a part of a file without `url`, or an empty
    part, lacks columns others have, and readers that take a folder as one dataset (pyarrow,
    pandas, polars, DuckDB) keep only the first file's columns. The documents' columns are the
    union over both folders (the ledger adds stage, reason, details); only files that differ are
    rewritten. Returns a one-line note when a column's types in different parts do not join.
    """
    files = {folder: OutputLayout.parts(folder) for folder in (kept, removed)}
    paths = [path for folder_files in files.values() for path in folder_files]
    schemas = dict(zip(paths, storage.each(lambda path: storage.read_schema(path).remove_metadata(), paths)))
    if not schemas:
        return None
    try:
        doc_schema = pa.unify_schemas([pa.schema([f for f in s if f.name not in documents.LEDGER_COLUMNS]) for s in schemas.values()],
                                     promote_options="permissive")
        ledger_schema = pa.unify_schemas([doc_schema, *(schemas[p] for p in files[removed])], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        return f"a column has different types in different parts ({exc}); read those parts one by one"
    for folder, target in ((kept, doc_schema), (removed, ledger_schema)):
        def conform(path: str, target: pa.Schema = target) -> None:
            table = storage.read_table(path)
            columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
                       for f in target]
            storage.write_parquet(pa.Table.from_arrays(columns, schema=target), path)

        storage.each(conform, [path for path in files[folder] if not schemas[path].equals(target)], threads=REWRITE_THREADS)
    return None
