"""HTML pages as documents: single files, folders of them, or a table column of raw pages.

A folder of pages is read in bundles (one part holds many small files), so ten thousand pages
are a few Ray tasks and a few output shards, not ten thousand of each. Each page's bytes are
decoded with the browser's charset rules (charset.py); a page's id is its path below the
input folder without suffix, as for every other input.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import storage
from dataprep.readers.charset import to_utf8, utf8_column

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")


def read_bundle(paths: list[str], stems: list[str], batch_rows: int) -> Iterator[tuple[pa.Table | None, np.ndarray, list[tuple[int, str]]]]:
    """Yield (pages as a table, their index in the bundle, [(index, error)]) for a bundle of files."""
    pages, rows, errors, names, sources = [], [], [], [], []
    for row, (path, stem) in enumerate(zip(paths, stems)):
        try:
            with storage.open_text_input(path) as handle:
                body = handle.read()
        except (OSError, EOFError) as exc:
            errors.append((row, f"cannot read HTML file: {exc}"))
            continue
        pages.append(to_utf8(body))
        rows.append(row)
        names.append(stem)
        sources.append(path)
        if len(pages) >= batch_rows:
            yield _table(pages, names, sources), np.array(rows), errors
            pages, rows, errors, names, sources = [], [], [], [], []
    if pages or errors:
        yield (_table(pages, names, sources) if pages else None), np.array(rows, dtype=np.int64), errors


def _table(pages: list, names: list[str], sources: list[str]) -> pa.Table:
    text, replaced = utf8_column(pages)
    return pa.table({
        "id": pa.array(names, pa.string()), "text": text, "html_file": pa.array(sources, pa.string()),
        "charset": pa.array([p.charset for p in pages], pa.string()),
        "charset_source": pa.array([p.source for p in pages], pa.string()),
        "charset_replaced": pa.array(replaced, pa.int32()),
    })


def decode_column(raw: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """A binary column of raw pages -> (UTF-8 text, charset, replaced count): the browser's rules per page.

    Nulls stay null (conform quarantines them as it does any null text).
    """
    values = raw.to_pylist()
    pages = [None if v is None else to_utf8(v) for v in values]
    text, replaced = utf8_column(pages)
    nulls = pc.is_null(raw)
    text = pc.if_else(nulls, pa.scalar(None, pa.large_string()), text)
    return text, pa.array([p and p.charset for p in pages], pa.string()), pa.array(replaced, pa.int32())
