"""HTML pages as documents: single files, folders of them, or a table column of raw pages.

A folder of pages is read in bundles (one part holds many small files), so ten thousand pages
are a few Ray tasks and a few output shards, not ten thousand of each. Each page's bytes are
decoded with the browser's charset rules (charset.py); a page's id is its path below the
input folder (`a.html` and `a.htm` are two pages).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import storage
from dataprep.readers.charset import BOMS, to_utf8, utf8_column


HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz", ".xhtml.gz")
#: WHATWG MIME sniffing's "binary data bytes": one in a page's first bytes means it is not text
#: (an image or an archive saved as .html), set aside as `read.not_html`, not kept as a page...
BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
SNIFFED_BYTES = 1024
#: ...unless the file starts as HTML (the same sniffing's HTML patterns, checked first, after
#: white space) or with a byte order mark: a stray control byte in a page's title set it aside
#: as a file, while the same page was kept from a WARC or a table
BOM_BYTES = tuple(bom for bom, _ in BOMS)
HTML_START = re.compile(rb"[\t\n\x0c\r ]*(?:<!--|(?i:<(?:!DOCTYPE HTML|HTML|HEAD|SCRIPT|IFRAME|H1|DIV|FONT|TABLE|A|STYLE|TITLE|B|BODY|BR|P)))[ >]")


def read_bundle(paths: list[str], stems: list[str], batch_rows: int) -> Iterator[tuple[pa.Table | None, np.ndarray, list[tuple[int, str]]]]:
    """Yield (pages as a table, their index in the bundle, [(index, error)]) for a bundle of files."""
    pages, rows, errors, names, sources, set_aside = [], [], [], [], [], []
    for row, (path, stem) in enumerate(zip(paths, stems)):
        try:
            with storage.open_text_input(path) as handle:
                body = handle.read()
            binary = not body.startswith(BOM_BYTES) and not HTML_START.match(body) \
                and BINARY_BYTES.search(body, 0, SNIFFED_BYTES) is not None
            page = to_utf8(b"" if binary else body)
        except Exception as exc:  # noqa: BLE001 (a damaged gzip raises zlib.error, EOFError, OSError...): this file only
            if storage.store_failed(exc):
                raise
            errors.append((row, f"cannot read HTML file: {type(exc).__name__}: {exc}"))
            continue
        pages.append(page)
        set_aside.append("read.not_html" if binary else None)
        rows.append(row)
        names.append(stem)
        sources.append(path)
        if len(pages) >= batch_rows:
            yield _table(pages, names, sources, set_aside), np.array(rows), errors
            pages, rows, errors, names, sources, set_aside = [], [], [], [], [], []
    if pages or errors:
        yield (_table(pages, names, sources, set_aside) if pages else None), np.array(rows, dtype=np.int64), errors


def _table(pages: list, names: list[str], sources: list[str], set_aside: list[str | None]) -> pa.Table:
    text, replaced = utf8_column(pages)
    table = pa.table({
        "id": pa.array(names, pa.string()), "text": text, "html_file": pa.array(sources, pa.string()),
        "charset": pa.array([p.charset for p in pages], pa.string()),
        "charset_source": pa.array([p.source for p in pages], pa.string()),
        "charset_replaced": pa.array(replaced, pa.int32()),
    })
    # the ledger's reason for a file that is no page (outputs.split_read_removals)
    return table.append_column("_read_reason", pa.array(set_aside, pa.string())) if any(set_aside) else table


def decode_column(raw: pa.Array, http_charsets: pa.Array | None = None) -> tuple[pa.Array, dict[str, pa.Array]]:
    """A binary column of raw pages -> (UTF-8 text, the charset columns the other readers give:
    charset, charset_source, charset_replaced): the browser's rules per page, with a table's own
    `charset` column (a crawl's record of the HTTP header) as the header's charset.

    Nulls stay null (conform quarantines them as it does any null text).
    """
    values = raw.to_pylist()
    headers = http_charsets.cast(pa.string()).to_pylist() if http_charsets is not None else [None] * len(values)
    pages = [None if v is None else to_utf8(v, header) for v, header in zip(values, headers)]
    text, replaced = utf8_column(pages)
    nulls = pc.is_null(raw)
    text = pc.if_else(nulls, pa.scalar(None, pa.large_string()), text)
    return text, {"charset": pa.array([p and p.charset for p in pages], pa.string()),
                  "charset_source": pa.array([p and p.source for p in pages], pa.string()),
                  "charset_replaced": pa.array(replaced, pa.int32())}
