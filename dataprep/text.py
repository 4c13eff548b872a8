"""Text utilities shared by several stages, vectorised over Arrow arrays (Gopher's n-gram
repetition measures are in repetition.py).

Every function takes and returns Arrow arrays (one value per document) so that stages never
loop over characters in Python. Splitting into words and lines is the expensive part of most
filters; `TextBatch` in `stages.base` caches the results so adjacent stages share them.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: everything Unicode (and Python's str.splitlines) treats as a line break, to become "\n"
LINE_BREAKS = r"\r\n?|[\x0b\x0c\x1c-\x1e\x{85}\x{2028}\x{2029}]"
#: C0/C1 control characters that are neither tab nor a line break
CONTROL_CHARS = r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x{84}\x{86}-\x{9f}]"
#: a run of whitespace of any script (RE2's \s alone is ASCII: it misses the no-break space)
WHITESPACE_RUN = r"[\s\x0b\x1c-\x1f\x{85}\p{Z}]+"
#: Unicode space separators that are not a plain space, plus tab.
ODD_SPACES = "[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"


def comparison_key(text: pa.Array) -> pa.Array:
    """Text as duplicates are compared: lower case, every whitespace run one space, trimmed."""
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(text), WHITESPACE_RUN, " "))


def split_words(text: pa.Array) -> pa.ListArray:
    """Whitespace word split (the fast default splitter): a list of words per document.

    Arrow's kernel yields an empty string for leading or trailing whitespace (and for an empty
    text); those are dropped, so " a b " has two words and "" none.
    """
    return drop_empty(pc.utf8_split_whitespace(text))


def drop_empty(lists: pa.ListArray) -> pa.ListArray:
    """The lists without their empty-string elements (vectorised: one filter, new offsets)."""
    values = pc.list_flatten(lists)
    keep = pc.fill_null(pc.greater(pc.binary_length(values), 0), False).to_numpy(zero_copy_only=False)
    if keep.all():
        return lists
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    counts = np.bincount(parent[keep], minlength=len(lists))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, values.filter(pa.array(keep)))


#: word splitters of the statistic filters. "spacy_rules" (the default) gives spaCy's words
#: (`spacy.blank(lang)`, what datatrove, and so FineWeb, counts with) computed over the whole
#: batch (dataprep/spacy_rules.py); "spacy" runs spaCy itself per document (the reference, ~10x
#: slower); "whitespace" splits at whitespace only (fastest; punctuation stays on its word, so
#: counts and lengths differ from the references'); "jieba" segments Chinese, as datatrove does.
WORD_SPLITTERS = ("spacy_rules", "whitespace", "spacy", "jieba")


def check_word_splitter(name: str) -> str:
    if name not in WORD_SPLITTERS:
        raise ValueError(f"word_splitter must be one of {', '.join(WORD_SPLITTERS)}, not {name!r}")
    return name


def split_words_spacy(text: pa.Array, language: str = "en") -> pa.ListArray:
    """Words as `spacy.blank(language)` tokenizes them, whitespace tokens dropped (datatrove's
    `split_into_words`): the reference the fast `spacy_rules` splitter is tested against."""
    from dataprep import spacy_rules

    return spacy_rules.reference_words(text, language)


def split_words_jieba(text: pa.Array) -> pa.ListArray:
    """Chinese words from jieba's dictionary-based segmenter (for text written without spaces),
    as datatrove gets them (spaCy's zh tokenizer with the jieba segmenter).

    Whitespace-only tokens are dropped, punctuation stays a word of its own.
    """
    import logging

    import jieba

    jieba.setLogLevel(logging.ERROR)
    words = [[w for w in (t.strip() for t in jieba.cut(doc or "")) if w] for doc in text.to_pylist()]
    return pa.array(words, pa.list_(pa.large_string()))


def load_word_splitter(language: str) -> None:
    """Read spaCy's tables for `language` now (a stage's setup), not in the first batch."""
    from dataprep import spacy_rules

    spacy_rules.rules(language)


def split_words_by(splitter: str, text: pa.Array, language: str = "en") -> pa.ListArray:
    """Words per document from the named splitter; `language` picks spaCy's rules (en, de, ...)."""
    if splitter == "spacy_rules":
        from dataprep import spacy_rules

        return spacy_rules.split_words(text, language)
    if splitter == "spacy":
        return split_words_spacy(text, language)
    return {"whitespace": split_words, "jieba": split_words_jieba}[splitter](text)


@functools.cache
def _sentence_punct() -> pa.Array:
    from spacy.pipeline import Sentencizer

    return pa.array(Sentencizer.default_punct_chars, pa.large_string())


def sentencizer_counts(words: pa.ListArray) -> np.ndarray:
    """Sentences per list of words as spaCy's rule-based sentencizer finds them: a sentence starts
    at the first word after a sentence-final character (". ! ?" and ~125 more, a word of its own
    under spaCy's splitting) that is not punctuation itself. Vectorised over all words: a word
    starts a sentence when the last final character before it comes after the last other word."""
    values, parent = flat(words)
    n = len(words)
    if len(values) == 0:
        return np.zeros(n, np.int64)
    final = pc.is_in(values, value_set=_sentence_punct()).to_numpy(zero_copy_only=False)
    plain = ~final & ~matches(values, r"^\p{P}+$")
    index = np.arange(len(values))
    last_final = np.maximum.accumulate(np.where(final, index, -1))
    last_plain = np.maximum.accumulate(np.where(plain, index, -1))
    first_word = np.zeros(n + 1, np.int64)
    first_word[1:] = np.cumsum(list_lengths(words))
    before = np.concatenate([[-1], last_final[:-1]]), np.concatenate([[-1], last_plain[:-1]])
    starts = plain & (before[0] > before[1]) & (before[0] >= first_word[parent])
    return (list_lengths(words) > 0).astype(np.int64) + np.bincount(parent[starts], minlength=n)


def split_lines(text: pa.Array) -> pa.ListArray:
    """Lines per document, split on newline only (the text is normalised to `\\n` first)."""
    return pc.split_pattern(text, "\n")


def list_lengths(lists: pa.ListArray) -> np.ndarray:
    """Number of elements of each list, as int64 (nulls count as 0)."""
    return pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def utf8_bytes(strings: pa.Array | pa.ChunkedArray) -> list[bytes]:
    """Each string's UTF-8 bytes, as the Python bytes a hash function takes: cast to binary (no
    copy of the data) and listed, instead of listed as str and encoded back (decoding and
    encoding every byte: xxh3 over 5 KB texts spent 17x longer in that round trip than hashing)."""
    return strings.cast(pa.large_binary() if pa.types.is_large_string(strings.type) else pa.binary()).to_pylist()


def xxh3_64(strings: pa.Array | pa.ChunkedArray, seed: int = 0) -> np.ndarray:
    """Each string's xxh3-64 hash (of its UTF-8 bytes), one C call a value, as uint64."""
    import xxhash

    return np.fromiter((xxhash.xxh3_64_intdigest(b, seed=seed) for b in utf8_bytes(strings)), np.uint64, len(strings))


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


# ---- per-element features aggregated per document (words, lines, paragraphs) ----------------
#
# A list column (words or lines per document) is handled as one flat array of elements plus the
# index of the document each element belongs to ("parent"). Every feature is then one Arrow or
# numpy operation over all elements of the batch, summed back per document with bincount.

#: a word made only of punctuation, symbols or control characters ("--", "»", "|") is no word
NOT_SYMBOL = r"[^\p{P}\p{S}\p{C}]"
#: the word holds at least one letter of any script
ALPHA = r"\p{L}"
#: multiplier of the polynomial n-gram hash (odd, 64-bit): keys collide with probability ~2^-64
_NGRAM_PRIME = np.uint64(0x9E3779B97F4A7C15)
_MIX_PRIME = np.uint64(0xC2B2AE3D27D4EB4F)


def flat(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    """The elements of all lists as one array, and the document index of each element."""
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return pc.list_flatten(lists), parent


def ragged_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """All of range(start, stop) for each pair, concatenated (without a Python loop)."""
    counts = stops - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.cumsum(counts) - counts
    return np.arange(total) + np.repeat(starts - offsets, counts)


def per_doc(parent: np.ndarray, values: np.ndarray | None, n_docs: int) -> np.ndarray:
    """Sum of `values` (or count, when None) per document."""
    return np.bincount(parent, weights=values, minlength=n_docs)


def matches(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)


def element_codes(values: pa.Array) -> np.ndarray:
    """An integer per element, equal for equal strings (dictionary encoding, in C++)."""
    if len(values) == 0:
        return np.zeros(0, np.int64)
    encoded = pc.dictionary_encode(values)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def first_occurrences(parent: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mask of elements that are the first of their (document, key) pair, in element order
    (a hash table pass in pandas, no sort; pandas imported here: a process running no stage
    that calls this does not pay its import)."""
    import pandas as pd

    return ~pd.Series(doc_keys(parent, keys)).duplicated().to_numpy()


def doc_keys(parent: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """One 64-bit key per (document, key) pair (a hash mix: distinct pairs collide with p ~ 2^-64)."""
    with np.errstate(over="ignore"):
        return keys.astype(np.uint64) * _NGRAM_PRIME ^ (parent.astype(np.uint64) + np.uint64(1)) * _MIX_PRIME


def duplicate_elements(values: pa.Array, parent: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document: how many elements repeat an earlier equal one, and their characters."""
    repeat = ~first_occurrences(parent, element_codes(values))
    lengths = char_lengths(values)
    return per_doc(parent, repeat.astype(float), n_docs), per_doc(parent, repeat * lengths, n_docs)


def ngram_starts(codes: np.ndarray, parent: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(start positions, 64-bit keys) of every word n-gram that lies inside one document."""
    count = len(codes) - n + 1
    if count <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    keys = np.zeros(count, dtype=np.uint64)
    for j in range(n):
        keys = shift_keys(keys, codes[j : j + count])
    inside = parent[:count] == parent[n - 1 :]
    return np.flatnonzero(inside), keys[inside]


def shift_keys(keys: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The keys of n-grams extended by one more word each (`codes`): an n-gram's key is its
    words' codes folded in order, so a longer n-gram's key grows from its prefix's."""
    with np.errstate(over="ignore"):
        return keys * _NGRAM_PRIME + codes.astype(np.uint64) + np.uint64(1)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    out = np.zeros(len(numerator), dtype=float)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@functools.cache
def sentence_terminal_class() -> str:
    """The Unicode Sentence_Terminal characters (". ! ? 。 ۔ ।" and ~165 more, not "," or ":"),
    escaped for a regex character class. Read from the `regex` module's Unicode database once
    per process (RE2, which pyarrow uses, has no binary Unicode properties).
    """
    import regex

    pattern = regex.compile(r"\p{Sentence_Terminal}")
    punctuation = (chr(c) for c in range(0x110000) if unicodedata.category(chr(c)).startswith("P"))
    chars = [ch for ch in punctuation if pattern.match(ch)]
    return "".join("\\" + ch if ch in "\\]^-[" else ch for ch in chars)


#: noncharacters, to mark cut points inside the text for one split: the first the batch does not
#: hold (U+FFFF alone was lost from a document that held it, split away as a cut)
CUT_MARKS = ("\uffff", "\ufffe", *map(chr, range(0xFDD0, 0xFDF0)))


def cut_mark(text: pa.Array) -> str:
    """A character `text` does not hold, to mark cut points in it."""
    for mark in CUT_MARKS:
        if not pc.any(pc.fill_null(pc.match_substring(text, mark), False)).as_py():
            return mark
    raise ValueError(f"every one of the {len(CUT_MARKS)} noncharacters is in this batch: none is left to mark sentence cuts")


def split_sentences(text: pa.Array) -> pa.ListArray:
    """Sentences per document, each with the whitespace that follows it, so that joining a
    document's sentences with "" gives its text back. A sentence ends at a line break, at
    sentence-final punctuation followed by whitespace (". ! ?" and the other Sentence_Terminal
    characters; "3.14" and "e.g.x" do not end one), or after "。！？" even without a space.
    """
    terminal = sentence_terminal_class()
    closing = "\"'\u201d\u2019\u00bb)\\]\u300d\u300f\uff09"
    cut = cut_mark(text)
    marked = pc.replace_substring_regex(text, f"([{terminal}][{terminal}{closing}]*\\s+|\n)", f"\\1{cut}")
    marked = pc.replace_substring_regex(marked, f"([\u3002\uff01\uff1f\uff61][{closing}]*)([^\\s{cut}])", f"\\1{cut}\\2")
    return drop_empty(pc.split_pattern(marked, cut))


def join_kept(lines: pa.Array, parent: np.ndarray, keep: np.ndarray, n_docs: int) -> pa.Array:
    """Rebuild each document from its kept lines (flat `lines` with their document index)."""
    counts = np.bincount(parent[keep], minlength=n_docs)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    kept_lists = pa.ListArray.from_arrays(offsets, lines.filter(pa.array(keep)))
    return pc.binary_join(kept_lists, pa.scalar("\n", lines.type))


@functools.cache
def _break_table() -> np.ndarray:
    """Per Unicode code point: does it break words (whitespace, punctuation, symbols, any script)."""
    table = np.zeros(0x110000, dtype=bool)
    for c in range(0x40000):  # no punctuation, symbol or space is assigned above plane 3
        ch = chr(c)
        table[c] = ch.isspace() or unicodedata.category(ch)[0] in "PSZ"
    return table


@functools.cache
def _ascii_break_runs() -> list[tuple[int, int]]:
    """The ASCII breaks as runs of consecutive byte values (five runs: range tests beat a table
    lookup per byte several times over)."""
    values = np.flatnonzero(_break_table()[:128])
    cuts = np.flatnonzero(np.diff(values) > 1)
    return [(int(lo), int(hi)) for lo, hi in zip(values[np.r_[0, cuts + 1]], values[np.r_[cuts, len(values) - 1]])]


def _word_bytes(data: np.ndarray) -> np.ndarray:
    """Mask of the bytes that belong to words (not a break, in ASCII or as a decoded code point),
    with a False before the first byte and after the last."""
    breaks = _break_table()
    framed = np.zeros(len(data) + 2, dtype=bool)
    word = framed[1:-1]
    shifted, inside_run = np.empty_like(data), np.empty(len(data), dtype=bool)
    word.fill(True)
    for lo, hi in _ascii_break_runs():  # multi-byte characters are looked up by code point below
        np.subtract(data, np.uint8(lo), out=shifted)
        np.less_equal(shifted, np.uint8(hi - lo), out=inside_run)
        word &= np.logical_not(inside_run, out=inside_run)
    lead = np.flatnonzero(data >= 0xC0)
    if len(lead):
        b0, b1, b2, b3 = (data[np.minimum(lead + k, len(data) - 1)].astype(np.uint32) for k in range(4))
        width = np.where(b0 >= 0xF0, 4, np.where(b0 >= 0xE0, 3, 2))
        point = np.where(width == 2, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
                         np.where(width == 3, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                                  ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)))
        broken = breaks[np.minimum(point, 0x10FFFF)]
        for k in range(4):
            at = lead[broken & (width > k)] + k
            word[at] = False
    return framed


def folded_word_hashes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash, document index) of every word of the folded text, in text order.

    Folding: lower case; whitespace, punctuation and symbols of any script break words; ASCII
    digits become 0; so copies that differ in case, quotes or numbers still share their words.
    All of it runs over the batch's UTF-8 bytes in numpy: breaks from a code point table, and
    each word hashed from its bytes read 8 at a time (words above 64 bytes, rare, by xxh3), so
    a hash is the same in every batch and on every machine. Splitting and folding the text
    with Arrow regexes and hashing each distinct word cost several times more.
    """
    lowered = pc.fill_null(pc.utf8_lower(text), "").cast(pa.large_string())
    bounds = np.frombuffer(lowered.buffers()[1], np.int64)[lowered.offset:lowered.offset + len(lowered) + 1]
    data = np.frombuffer(lowered.buffers()[2], np.uint8)[bounds[0]:bounds[-1]] if bounds[-1] > bounds[0] else np.zeros(0, np.uint8)
    bounds = bounds - bounds[0]
    framed = _word_bytes(data)
    steps = np.diff(framed.view(np.int8))
    starts, ends = np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)
    inner = np.unique(bounds[1:-1])
    joined = inner[framed[inner] & framed[inner + 1]]
    if len(joined):  # a document border inside a run of word bytes ends one word and starts another
        starts = np.insert(starts, np.searchsorted(starts, joined), joined)
        ends = np.insert(ends, np.searchsorted(ends, joined), joined)
    parent = np.repeat(np.arange(len(lowered)), np.diff(np.searchsorted(starts, bounds)))
    return _hash_spans(data, starts, ends), parent


_DIGITS = np.arange(256, dtype=np.uint8)
_DIGITS[ord("0"):ord("9") + 1] = ord("0")
#: the low k bytes of a 64-bit word, k = 0..8
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _hash_spans(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, block: int = 8, blocks: int = 8) -> np.ndarray:
    """64-bit hash of each byte span (digits folded to 0), 8 bytes per numpy step: every span's
    first 8 bytes at once, then the next 8 of the spans that are longer, and so on."""
    import xxhash

    padded = np.concatenate([data, np.zeros(block, np.uint8)])
    words8 = np.ndarray((len(data),), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from every offset
    lengths = ends - starts
    with np.errstate(over="ignore"):
        result = _fold_digits(words8[starts] & _BYTE_MASKS[np.minimum(lengths, block)])
        result *= _NGRAM_PRIME
        todo = np.flatnonzero(lengths > block)
        for k in range(1, blocks):
            left = lengths[todo] - k * block
            chunk = _fold_digits(words8[starts[todo] + k * block] & _BYTE_MASKS[np.minimum(left, block)])
            result[todo] = (result[todo] ^ chunk) * _NGRAM_PRIME + np.uint64(k)
            todo = todo[left > block]
        result ^= lengths.astype(np.uint64) * _MIX_PRIME
        for i in np.flatnonzero(lengths > block * blocks):  # rare (URLs, base64): one C call each
            result[i] = xxhash.xxh3_64_intdigest(_DIGITS[data[starts[i]:ends[i]]].tobytes())
    return result


def _fold_digits(packed: np.ndarray) -> np.ndarray:
    """Each byte "1".."9" of 64-bit words made "0" (SWAR: eight bytes per integer operation)."""
    ones, high, nibbles = np.uint64(0x0101010101010101), np.uint64(0x7F7F7F7F7F7F7F7F), np.uint64(0x0F0F0F0F0F0F0F0F)
    upper = (packed & ~nibbles) ^ (ones * np.uint64(0x30))  # zero byte where the high nibble is 3
    not_3x = upper & high
    not_3x += high
    not_3x |= upper
    not_3x >>= np.uint64(7)  # bit 0 of each byte: high nibble != 3
    over_9 = packed & nibbles
    over_9 += ones * np.uint64(6)
    over_9 >>= np.uint64(4)  # bit 0 of each byte: low nibble > 9
    not_3x |= over_9
    not_3x &= ones  # bit 0 of each byte: not a digit
    not_3x ^= ones
    not_3x *= np.uint64(0x0F)  # low nibble of each digit byte
    packed &= ~not_3x
    return packed


def word_ngram_hashes(text: pa.Array, n: int, short: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash, document index) of every word n-gram of folded text, grouped by document.

    Words are those of `folded_word_hashes`; n-gram keys are combined in numpy. A document
    shorter than n words is one n-gram of all its words (with `short`; without, it has none); a
    document without words has none.
    """
    codes, parent = folded_word_hashes(text)
    if len(codes) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    words = np.bincount(parent)
    per_doc_size = np.minimum(words, n) if short else np.where(words >= n, n, 0)  # the n-gram length of each document
    size = per_doc_size[parent]
    keys = np.zeros(len(codes), np.uint64)
    valid = np.zeros(len(codes), bool)
    for length in np.unique(per_doc_size[per_doc_size > 0]):
        starts, mixed = _mixed_ngrams(codes, parent, int(length))
        keep = size[starts] == length
        keys[starts[keep]] = mixed[keep]
        valid[starts[keep]] = True
    return keys[valid], parent[valid]  # n-grams in order of their first word: grouped by document


def word_runs_found(text: pa.Array, lengths: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Per document, how many of its runs of consecutive folded words hash to one of `hashes`
    (sorted), a run being as long as the entry of `lengths` beside its hash: short reference items
    found anywhere inside a document (their hash is `word_ngram_hashes`' of the item alone). One
    pass per distinct length."""
    codes, parent = folded_word_hashes(text)
    found = np.zeros(len(text), np.int64)
    for length in np.unique(lengths):
        if len(codes) < length:
            continue
        starts, keys = _mixed_ngrams(codes, parent, int(length))
        wanted = np.sort(hashes[lengths == length])
        position = np.minimum(np.searchsorted(wanted, keys), len(wanted) - 1)
        found += np.bincount(parent[starts[wanted[position] == keys]], minlength=len(text))
    return found


def _mixed_ngrams(codes: np.ndarray, parent: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and avalanche-mixed 64-bit keys of the n-grams of word hashes.

    Unlike `ngram_starts` (keys of batch-local word codes), these keys are stable across
    batches and are what minhash signatures and decontamination indexes are built from.
    """
    count = len(codes) - n + 1
    keys = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            keys = keys * _NGRAM_PRIME + codes[j : j + count]
        keys ^= keys >> np.uint64(29)
        keys *= _NGRAM_PRIME
        keys ^= keys >> np.uint64(32)
    inside = parent[:count] == parent[n - 1 :]
    return np.flatnonzero(inside), keys[inside]
