"""The word n-gram repetition measures of Gopher's repetition rules (Rae et al. 2021, table A1),
vectorised over a whole batch's words: the most frequent n-gram's characters, and the characters
under repeated n-grams (every word once, or datatrove's greedy left-to-right scan).

Each takes the batch's word codes (`text.element_codes`), the document of each word (`parent`),
each word's characters and n, and returns one value per document.
"""

from __future__ import annotations

import numpy as np

from dataprep.text import doc_keys, first_occurrences, ngram_starts, per_doc


def top_ngram_chars(codes: np.ndarray, parent: np.ndarray, word_chars: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: characters covered by its most frequent word n-gram (count x length).

    The most frequent n-gram wins, ties going to the one that occurs first (as Counter's
    most_common does); its length counts the single spaces between its words.
    """
    starts, keys = ngram_starts(codes, parent, n)
    result = np.zeros(n_docs)
    if len(starts) == 0:
        return result
    import pandas as pd  # here, not at the top: stage discovery imports this module in every process

    # factorize numbers groups in order of first appearance, so an element opens its group
    # exactly when its code exceeds every code before it
    group, _ = pd.factorize(doc_keys(parent[starts], keys))
    opens = group > np.maximum.accumulate(np.concatenate([[-1], group[:-1]]))
    counts, first = np.bincount(group), starts[opens]
    docs = parent[first]
    top = np.zeros(n_docs, dtype=np.int64)
    np.maximum.at(top, docs, counts)
    winners = counts == top[docs]
    earliest = np.full(n_docs, len(codes), dtype=np.int64)
    np.minimum.at(earliest, docs[winners], first[winners])
    has = top > 0
    cumulative = np.concatenate([[0], np.cumsum(word_chars)])
    result[has] = top[has] * (cumulative[earliest[has] + n] - cumulative[earliest[has]] + (n - 1))
    return result


def duplicate_ngram_chars(codes: np.ndarray, parent: np.ndarray, word_chars: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: characters of the words covered by a repeated word n-gram.

    An n-gram occurrence is a repeat if the same n-gram occurred earlier in the document; every
    word under a repeat counts once (Gopher's "fraction of characters in duplicate n-grams").
    """
    starts, keys = ngram_starts(codes, parent, n)
    if len(starts) == 0:
        return np.zeros(n_docs)
    repeats = starts[~first_occurrences(parent[starts], keys)]
    edges = np.zeros(len(codes) + 1, dtype=np.int64)
    np.add.at(edges, repeats, 1)
    np.add.at(edges, repeats + n, -1)
    covered = np.cumsum(edges[:-1]) > 0
    return per_doc(parent, covered * word_chars, n_docs)


def greedy_duplicate_ngram_chars(codes: np.ndarray, parent: np.ndarray, word_chars: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: datatrove's duplicated n-gram characters (what FineWeb's filter decides on).

    It scans left to right: a repeat of a remembered n-gram counts its characters and jumps n
    words, and the n-grams jumped over are never remembered. Only n-grams that occur twice or
    more in their document can be repeats or matter as remembered ones, so the scan visits
    just those (found for the whole batch with one hash pass); the rest of the text, nearly all
    of it, is never looked at one n-gram at a time. The scan itself is sequential by nature.
    """
    starts, keys = ngram_starts(codes, parent, n)
    result = np.zeros(n_docs)
    if len(starts) == 0:
        return result
    import pandas as pd

    paired = doc_keys(parent[starts], keys)
    repeated = pd.Series(paired).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return result
    positions, pair_keys = starts[repeated], paired[repeated]
    cumulative = np.concatenate([[0], np.cumsum(word_chars)])
    chars = (cumulative[positions + n] - cumulative[positions]).tolist()
    docs = parent[positions]
    bounds = np.flatnonzero(np.diff(docs)) + 1
    positions_list, keys_list = positions.tolist(), pair_keys.tolist()
    for begin, end in zip(np.concatenate([[0], bounds]).tolist(), np.concatenate([bounds, [len(positions)]]).tolist()):
        seen: set[int] = set()
        total, free = 0, -1  # free: the first position the scan has not jumped over
        for i in range(begin, end):
            if positions_list[i] < free:
                continue
            if keys_list[i] in seen:
                total += chars[i]
                free = positions_list[i] + n
            else:
                seen.add(keys_list[i])
        result[docs[begin]] = total
    return result
