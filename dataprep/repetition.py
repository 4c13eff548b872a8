"""The word n-gram repetition measures of Gopher's repetition rules (Rae et al. 2021, table A1),
vectorised over a whole batch's words: the most frequent n-gram's characters, and the characters
under repeated n-grams (every word once, or datatrove's greedy left-to-right scan).

All of them depend only on the n-grams that occur twice or more in their document
(`repeated_ngrams`): a document whose n-grams are all distinct has its first n-gram as the most
frequent one, and nothing repeated. Each measure takes those repeats, the document of each word
(`parent`), each word's characters and n, and returns one value per document.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dataprep.text import doc_keys, first_occurrences, ngram_starts, per_doc, shift_keys


class Repeats(NamedTuple):
    """The occurrences of one size's n-grams that occur twice or more in their document."""

    starts: np.ndarray  # position of each occurrence's first word, ascending
    keys: np.ndarray  # its n-gram's key (equal n-grams: equal keys; `text.doc_keys` scopes them to a document)


def repeated_ngrams(codes: np.ndarray, parent: np.ndarray, sizes: list[int]) -> dict[int, Repeats]:
    """For each n of `sizes`, the occurrences of word n-grams repeated inside their document.

    An n-gram can repeat only where its (n-1)-gram prefix repeats, so the sizes are grown one
    word at a time from the smallest, and each size hashes only the positions whose prefix
    repeated: on web text a fraction of the words, where hashing every position for every size
    (nine sizes for Gopher's rules) was most of the stage's time.
    """
    import pandas as pd  # here, not at the top: stage discovery imports this module in every process

    found: dict[int, Repeats] = {}
    if not sizes:
        return found
    smallest = min(sizes)
    starts, keys = ngram_starts(codes, parent, smallest)
    for n in range(smallest, max(sizes) + 1):
        if n > smallest:  # extend the previous size's repeats by their next word, inside the document
            end = starts + n - 1
            inside = end < len(codes)
            inside[inside] &= parent[end[inside]] == parent[starts[inside]]
            starts, keys = starts[inside], shift_keys(keys[inside], codes[end[inside]])
        scoped = doc_keys(parent[starts], keys)
        repeated = pd.Series(scoped).duplicated(keep=False).to_numpy() if len(starts) else np.zeros(0, bool)
        starts, keys = starts[repeated], keys[repeated]
        if n in sizes:
            found[n] = Repeats(starts, keys)
    return found


def top_ngram_chars(repeats: Repeats, parent: np.ndarray, word_chars: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: characters covered by its most frequent word n-gram (count x length).

    The most frequent n-gram wins, ties going to the one that occurs first (as Counter's
    most_common does); its length counts the single spaces between its words. A document whose
    n-grams all occur once has its first one as the winner, once.
    """
    import pandas as pd

    n_words = np.bincount(parent, minlength=n_docs)
    top = (n_words >= n).astype(np.int64)
    earliest = np.concatenate([[0], np.cumsum(n_words)[:-1]])  # each document's first word
    starts = repeats.starts
    if len(starts):
        # factorize numbers groups in order of first appearance, so an element opens its group
        # exactly when its code exceeds every code before it
        group, _ = pd.factorize(doc_keys(parent[starts], repeats.keys))
        opens = group > np.maximum.accumulate(np.concatenate([[-1], group[:-1]]))
        counts, first = np.bincount(group), starts[opens]
        docs = parent[first]
        np.maximum.at(top, docs, counts)
        winners = counts == top[docs]
        earliest[docs[winners]] = len(parent)
        np.minimum.at(earliest, docs[winners], first[winners])
    has = top > 0
    cumulative = np.concatenate([[0], np.cumsum(word_chars)])
    result = np.zeros(n_docs)
    result[has] = top[has] * (cumulative[earliest[has] + n] - cumulative[earliest[has]] + (n - 1))
    return result


def duplicate_ngram_chars(repeats: Repeats, parent: np.ndarray, word_chars: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: characters of the words covered by a repeated word n-gram.

    An n-gram occurrence is a repeat if the same n-gram occurred earlier in the document; every
    word under a repeat counts once (Gopher's "fraction of characters in duplicate n-grams").
    """
    again = repeats.starts[~first_occurrences(parent[repeats.starts], repeats.keys)]
    edges = np.zeros(len(parent) + 1, dtype=np.int64)
    np.add.at(edges, again, 1)
    np.add.at(edges, again + n, -1)
    covered = np.cumsum(edges[:-1]) > 0
    return per_doc(parent, covered * word_chars, n_docs)


def greedy_duplicate_ngram_chars(repeats: Repeats, parent: np.ndarray, word_chars: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: datatrove's duplicated n-gram characters (what FineWeb's filter decides on).

    It scans left to right: a repeat of a remembered n-gram counts its characters and jumps n
    words, and the n-grams jumped over are never remembered. Only n-grams that occur twice or
    more in their document can be repeats or matter as remembered ones, so the scan visits
    just those; the rest of the text, nearly all of it, is never looked at one n-gram at a
    time. The scan itself is sequential by nature.
    """
    result = np.zeros(n_docs)
    positions, keys = repeats  # the scan is per document: keys need no document scope
    if not len(positions):
        return result
    cumulative = np.concatenate([[0], np.cumsum(word_chars)])
    chars = (cumulative[positions + n] - cumulative[positions]).tolist()
    docs = parent[positions]
    bounds = np.flatnonzero(np.diff(docs)) + 1
    positions_list, keys_list = positions.tolist(), keys.tolist()
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
