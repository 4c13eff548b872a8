"""Text utilities shared by several stages, vectorised over Arrow arrays.

Every function takes and returns Arrow arrays (one value per document) so that stages never
loop over characters in Python. Splitting into words and lines is the expensive part of most
filters; `TextBatch` in `stages.base` caches the results so adjacent stages share them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: C0/C1 control characters other than tab and newline (carriage returns are handled as newlines).
CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
#: Unicode space separators that are not a plain space, plus tab.
ODD_SPACES = "[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"


def split_words(text: pa.Array) -> pa.ListArray:
    """Whitespace word split (the fast default splitter): a list of words per document."""
    return pc.utf8_split_whitespace(text)


def split_lines(text: pa.Array) -> pa.ListArray:
    """Lines per document, split on newline only (the text is normalised to `\\n` first)."""
    return pc.split_pattern(text, "\n")


def list_lengths(lists: pa.ListArray) -> np.ndarray:
    """Number of elements of each list, as int64 (nulls count as 0)."""
    return pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def char_lengths(text: pa.Array) -> np.ndarray:
    """Length of each document in Unicode code points."""
    return pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def byte_lengths(text: pa.Array) -> np.ndarray:
    """Length of each document in UTF-8 bytes."""
    return pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def changed(before: pa.Array, after: pa.Array) -> np.ndarray:
    """Boolean mask of documents whose text differs."""
    return pc.fill_null(pc.not_equal(before, after), False).to_numpy(zero_copy_only=False)


def tags_column(flags: dict[str, np.ndarray]) -> pa.ListArray:
    """Turn named boolean masks into a list<string> column of the names that are set per row.

    Used by mappers to record what they changed without a Python loop per document.
    """
    names = list(flags)
    matrix = np.column_stack([flags[n] for n in names]) if names else np.zeros((0, 0), bool)
    offsets = np.concatenate([[0], np.cumsum(matrix.sum(axis=1))]).astype(np.int32)
    values = np.tile(np.array(names, dtype=object), matrix.shape[0])[matrix.ravel()]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.string()))
