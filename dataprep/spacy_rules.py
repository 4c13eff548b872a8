"""Words as spaCy's rule-based tokenizer (`spacy.blank(lang)`) makes them, over a whole Arrow batch.

datatrove counts words for the Gopher, FineWeb and C4 rules with `spacy.blank(lang)` (jieba for
Chinese), keeping every token that is not whitespace; so the counts and word lengths our filters
decide on must be spaCy's for their decisions to be FineWeb's. spaCy itself costs ~30 us per
distinct chunk of text it has not seen (its Python `re` prefix, suffix and infix searches); this
module gets the same tokens several times faster:

1. Text is cut at whitespace (Python's `str.isspace`, as spaCy's tokenizer does; Arrow's
   `utf8_split_whitespace` uses the same set) into chunks; spaCy tokenizes each chunk alone.
2. Each distinct chunk of the batch is tokenized once (Arrow `dictionary_encode`).
3. Distinct chunks of the commonest shapes are tokenized by RE2 matches over all of them:
   up to two prefix characters, a core (a letter run, a number like `1.000,5`, or letter runs
   joined by single hyphens), an optional "." and up to two suffix characters. The prefix and
   suffix characters, the "." rule, the hyphen rule and the number shapes are read from the
   language's own spaCy tables and checked against its own searches when the splitter is built.
   A chunk any of whose stripped forms is one of spaCy's special cases (`can't`, `U.S.`, `'s`
   ...) or matches the language's `token_match`, or whose adjacent tokens spell a special case
   (spaCy merges those back: `):`, `University-St.` -> `St.`), is left to step 4.
4. The remaining distinct chunks (apostrophes, URLs, units, emoticons, ...) go through spaCy's
   own tokenizer in one call per batch (joined by newlines, which keep them apart); what it
   returns is remembered for the process, as spaCy's own cache does. A document holding a
   special case of several words (es `EE. UU.`, ru `и др.`), which spaCy matches across spaces,
   is tokenized by spaCy whole.

Tokens come back as byte boundaries inside the distinct chunks, so every word is a zero-copy
slice and the per-document lists are one `take`. tests/test_spacy_rules.py checks document
word counts and lengths against spaCy itself on real text of every profiled language.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: languages whose spaCy tokenizer is rule-based (prefix/suffix/infix tables, special cases)
LANGUAGES = ("en", "de", "fr", "es", "ru")
_LETTERS = r"[\p{L}\p{M}]"
#: a token_match (French: elided and hyphenated words, URLs) matches only text holding one of
#: these: a hyphen, an apostrophe, or a URL's "." ":" "/" "@"
TOKEN_MATCH_NEEDS = r"[-\x{2013}\x{2014}\x{2010}\x{2011}~'\x{2019}\x{2bc}\x{2018}`\x{b4}.:/@_]"
#: chunks remembered per language, each with its inner token offsets as int32 bytes: about 250
#: bytes an entry for URL-sized chunks (the chunk, 83 for its offsets and the dict's slot; 146 as
#: numpy arrays), so ~125 MB at most
MEMO_SIZE = 500_000


def _re2(pattern: str) -> str:
    """A Python `re` pattern of spaCy's char classes in RE2 syntax (\\uXXXX -> \\x{XXXX})."""
    pattern = re.sub(r"\\U([0-9A-Fa-f]{8})", lambda m: f"\\x{{{int(m.group(1), 16):x}}}", pattern)
    return re.sub(r"\\u([0-9A-Fa-f]{4})", lambda m: f"\\x{{{int(m.group(1), 16):x}}}", pattern)


def _class(chars: str) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


@dataclass(frozen=True)
class Rules:
    """What the vectorised path needs from one language's spaCy tokenizer."""

    tokenizer: object
    shape: str  # RE2: prefixes, core, ".", suffixes: a chunk the fast path may tokenize
    prefix_class: str  # RE2 class: characters spaCy splits off the front one by one
    suffix_class: str  # RE2 class: characters spaCy splits off the end one by one
    dot: str | None  # RE2 over a chunk of the shape: spaCy splits its "." off
    hyphens: bool  # the core may be letter runs joined by single hyphens (split as infixes)
    specials: pa.Array  # the special cases' strings
    token_match: str | None  # RE2 of the language's token_match (None: it has none)
    across_chunks: str | None  # RE2: special cases of several words (ru "и др."), which spaCy matches
    # across whitespace; a document holding one is tokenized by spaCy whole
    memo: dict = field(default_factory=dict)  # chunk -> spaCy's inner token offsets, int32 bytes (this process)


@functools.cache
def rules(lang: str) -> Rules:
    """Read and check the language's tables (once per process)."""
    from spacy.lang import char_classes
    from spacy.util import get_lang_class

    defaults = get_lang_class(lang).Defaults
    tokenizer = _tokenizer(lang, defaults)
    prefixes = _affix_chars(tokenizer, defaults.prefixes, prefix=True)
    suffixes = _affix_chars(tokenizer, defaults.suffixes, prefix=False)
    dots = [p for p in defaults.suffixes if p.startswith("(?<=") and p.endswith(r")\.")]
    dot = "|".join(f"(?:{_re2(p[4:-3])})\\.{suffixes}{{0,2}}$" for p in dots) or None
    alpha = f"[{_re2(char_classes.ALPHA)}]"
    run = f"{alpha}(?:{_LETTERS}*{alpha})?"
    hyphens = _one_token_each(tokenizer, "Fahrrad-Helm e-Bike", ["Fahrrad", "-", "Helm", "e", "-", "Bike"])
    numbers = "[0-9]+(?:[.,:][0-9]+)*" if _one_token_each(tokenizer, "12.5 10:30 1,5 1.000.000") else "[0-9]+"
    core = f"{_LETTERS}+|{numbers}" + (f"|{_LETTERS}*{alpha}(?:-{run})+" if hyphens else "")
    shape = f"^{prefixes}{{0,2}}(?:{core})\\.?{suffixes}{{0,2}}$"
    token_match = None
    if tokenizer.token_match is not None:
        token_match = _re2(tokenizer.token_match.__self__.pattern).replace("(?iu)", "(?i)")
    specials = pa.array(sorted(tokenizer.rules), pa.large_string())
    several = [key.split() for key in tokenizer.rules if len(key.split()) > 1]
    across = "|".join(r"\s+".join(re.escape(w) for w in words) for words in several) or None
    tokenizer.vocab.lex_attr_getters = {}  # new words' lexical attributes: unused, and most of spaCy's cost
    return Rules(tokenizer, shape, prefixes, suffixes, dot, hyphens, specials, token_match, across)


def _tokenizer(lang: str, defaults):
    """The tokenizer of `spacy.blank(lang)`, built from the language's tables as spaCy's own
    tokenizer factory (`spacy.language.create_tokenizer`) builds it, without the rest of a
    Language: a Language's constructor loads every installed package's spaCy entry points, and
    so imports Presidio in a process that only filters (0.3 CPU s of a worker's start-up)."""
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
    from spacy.vocab import create_vocab

    return Tokenizer(create_vocab(lang, defaults), rules=defaults.tokenizer_exceptions,
                     prefix_search=compile_prefix_regex(defaults.prefixes).search if defaults.prefixes else None,
                     suffix_search=compile_suffix_regex(defaults.suffixes).search if defaults.suffixes else None,
                     infix_finditer=compile_infix_regex(defaults.infixes).finditer if defaults.infixes else None,
                     token_match=defaults.token_match, url_match=defaults.url_match)


def _affix_chars(tokenizer, entries: list[str], prefix: bool) -> str:
    """The single characters that are a prefix (suffix) on their own in any context, and never
    part of a longer one next to another such character: checked with the tokenizer's own search."""
    search = tokenizer.prefix_search if prefix else tokenizer.suffix_search
    literal = set()
    for entry in entries:
        text = entry.replace("\\", "")
        if len(text) == 1 and text not in ".-":
            literal.add(text)

    def alone(c: str, context: str) -> bool:
        m = search(c + context if prefix else context + c)
        return m is not None and m.group() == c

    chars = {c for c in literal if all(alone(c, x) for x in ("a", "A", "0", "я", "ß"))}
    for a in sorted(chars):
        for b in sorted(chars):
            # two affixes in a row come off one at a time: the outer one alone is the match
            outer_alone = alone(a, b + "a") if prefix else alone(b, "a" + a)
            if not outer_alone:
                chars -= {a, b}
    return _class("".join(chars))


def _one_token_each(tokenizer, text: str, expected: list[str] | None = None) -> bool:
    """Does the tokenizer split `text` into `expected` (default: its space-separated words)?"""
    return [t.text for t in tokenizer(text)] == (text.split() if expected is None else expected)


def split_words(text: pa.Array, lang: str = "en") -> pa.ListArray:
    """Each document's non-whitespace spaCy tokens (datatrove's `split_into_words`), as strings."""
    config = rules(lang)
    text = pc.fill_null(text, "").cast(pa.large_string())
    whole = _matches(text, config.across_chunks) if config.across_chunks else np.zeros(len(text), bool)
    if whole.any():  # rare: spaCy on those documents, the chunks for the others
        rows, rest = np.flatnonzero(whole), np.flatnonzero(~whole)
        words = pa.concat_arrays([split_words(text.take(pa.array(rest)), lang), _spacy_words(text.take(pa.array(rows)), config.tokenizer)])
        return words.take(pa.array(np.argsort(np.concatenate([rest, rows]))))
    lists = pc.utf8_split_whitespace(text)
    chunks, parent = pc.list_flatten(lists), pc.list_parent_indices(lists).to_numpy()
    nonempty = pc.greater(pc.binary_length(chunks), 0)
    chunks, parent = chunks.filter(nonempty), parent[nonempty.to_numpy(zero_copy_only=False)]
    if len(chunks) == 0:
        return pa.ListArray.from_arrays(pa.array(np.zeros(len(text) + 1, np.int32)), pa.array([], pa.large_string()))
    encoded = pc.dictionary_encode(chunks)
    occurrence = encoded.indices.to_numpy()
    distinct = encoded.dictionary
    tokens, first, count = _distinct_tokens(distinct, config)
    counts = count[occurrence]  # >= 1: a chunk is at least one token
    ends = np.cumsum(counts)
    # token ids of every occurrence, first[u] .. first[u] + count[u] - 1, as one cumulative sum
    steps = np.ones(ends[-1], np.int64)
    firsts = first[occurrence]
    steps[0] = firsts[0]
    steps[ends[:-1]] = firsts[1:] - (firsts[:-1] + counts[:-1] - 1)
    token_ids = np.cumsum(steps)
    per_doc = np.bincount(parent, weights=counts, minlength=len(text)).astype(np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(per_doc)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, tokens.take(pa.array(token_ids)))


def _distinct_tokens(distinct: pa.Array, config: Rules) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """spaCy's tokens of each distinct chunk: (all tokens, first token of each chunk, count)."""
    n = len(distinct)
    bounds = np.frombuffer(distinct.buffers()[1], np.int64)[distinct.offset:distinct.offset + n + 1]
    starts = np.zeros(int(bounds[-1] - bounds[0]) + 1, dtype=bool)  # a token starts at this byte
    base = int(bounds[0])
    starts[bounds[:-1] - base] = True
    fast_starts = starts.copy()
    fast = _fast_boundaries(distinct, config, bounds - base, fast_starts)
    fast &= ~_spells_special(distinct, fast, fast_starts, bounds - base, config)
    chunk_of_byte = np.repeat(np.arange(n), np.diff(bounds))
    starts[:-1] |= fast_starts[:-1] & fast[chunk_of_byte]
    _spacy_boundaries(distinct, np.flatnonzero(~fast), config, bounds - base, starts)
    tokens, token_chunk = _tiles(distinct, starts, bounds - base)
    count = np.bincount(token_chunk, minlength=n)
    return tokens, np.cumsum(count) - count, count


def _fast_boundaries(distinct: pa.Array, config: Rules, bounds: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Mark token starts of the chunks of the common shapes; return which chunks were done.

    Only RE2 matches (DFA speed, no captures) and code-point slices: affix counts from anchored
    matches, byte widths from the first two and last two characters."""
    fast = _matches(distinct, config.shape)
    if not fast.any():
        return fast
    p, s = config.prefix_class, config.suffix_class
    pre_n = _matches(distinct, f"^{p}").astype(np.int64) + _matches(distinct, f"^{p}{p}")
    suf_n = _matches(distinct, f"{s}$").astype(np.int64) + _matches(distinct, f"{s}{s}$")
    has_dot = _matches(distinct, f"\\.{s}{{0,2}}$")
    fast &= ~has_dot | (_matches(distinct, config.dot) if config.dot else False)
    tail_n = suf_n + has_dot
    # a chunk whose stripped forms hit a special case or token_match is spaCy's to tokenize
    fast &= ~_special_forms(distinct, np.flatnonzero(fast), pre_n, tail_n, config)
    rows = np.flatnonzero(fast)
    widths = [_bytes(pc.utf8_slice_codeunits(distinct.take(pa.array(rows)), a, b)) for a, b in ((0, 1), (1, 2), (-1, None), (-2, -1))]
    pre, suf, dotted = pre_n[rows], suf_n[rows], has_dot[rows]
    start, end = bounds[:-1][rows], bounds[1:][rows]
    starts[(start + widths[0])[pre >= 1]] = True
    starts[(start + widths[0] + widths[1])[pre >= 2]] = True
    starts[(end - widths[2])[suf >= 1]] = True
    starts[(end - widths[2] - widths[3])[suf >= 2]] = True
    suf_bytes = np.where(suf >= 1, widths[2], 0) + np.where(suf >= 2, widths[3], 0)
    starts[(end - suf_bytes - 1)[dotted]] = True
    if config.hyphens:  # in a chunk of these shapes every "-" is a hyphen between letters: an infix
        data = np.frombuffer(distinct.buffers()[2], np.uint8)[bounds[0] + _first_byte(distinct):][: bounds[-1]]
        hyphen = np.flatnonzero(data == ord("-"))
        hyphen = hyphen[fast[np.searchsorted(bounds, hyphen, side="right") - 1]]
        starts[hyphen] = True
        starts[hyphen + 1] = True
    return fast


def _special_forms(distinct: pa.Array, rows: np.ndarray, pre_n: np.ndarray, tail_n: np.ndarray, config: Rules) -> np.ndarray:
    """Chunks that are, or after stripping some of their affixes become, a special case or a
    token_match: spaCy stops splitting there, so its tokens are not the shapes' tokens."""
    found = np.zeros(len(distinct), dtype=bool)
    affixed = rows[(pre_n[rows] + tail_n[rows]) > 0]
    for i in range(3):
        for j in range(4):
            chosen = rows if i == j == 0 else affixed[(pre_n[affixed] >= i) & (tail_n[affixed] >= j)]
            if len(chosen) == 0:
                continue
            piece = pc.utf8_slice_codeunits(distinct.take(pa.array(chosen)), i, -j if j else None)
            hit = pc.is_in(piece, value_set=config.specials).to_numpy(zero_copy_only=False)
            if config.token_match is not None:  # (a huge pattern: only pieces that could match it)
                maybe = np.flatnonzero(_matches(piece, TOKEN_MATCH_NEEDS))
                hit[maybe[_matches(piece.take(pa.array(maybe)), config.token_match)]] = True
            found[chosen[hit]] = True
    return found


def _spells_special(distinct: pa.Array, fast: np.ndarray, starts: np.ndarray, bounds: np.ndarray, config: Rules,
                    longest: int = 4) -> np.ndarray:
    """Chunks where two to `longest` adjacent tokens spell a special case: spaCy merges such runs
    back into one token after splitting ("University-St." -> "St." ; "):" ; "''")."""
    tokens, token_chunk = _tiles(distinct, starts, bounds)
    keep = fast[token_chunk]
    tokens, token_chunk = tokens.filter(pa.array(keep)), token_chunk[keep]
    spelled = np.zeros(len(fast), dtype=bool)
    empty = pa.scalar("", tokens.type)
    for size in range(2, longest + 1):
        count = len(tokens) - size + 1
        if count <= 0:
            break
        inside = token_chunk[: count] == token_chunk[size - 1:]
        if not inside.any():
            break
        run = pc.binary_join_element_wise(*(tokens.slice(k, count) for k in range(size)), empty)
        hit = pc.is_in(run, value_set=config.specials).to_numpy(zero_copy_only=False) & inside
        spelled[token_chunk[: count][hit]] = True
    return spelled


def _tiles(distinct: pa.Array, starts: np.ndarray, bounds: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The tokens marked in `starts` (byte offsets into the distinct chunks' data, which tokens
    tile) as zero-copy strings, and the distinct chunk each belongs to."""
    first_byte = _first_byte(distinct)
    token_starts = np.flatnonzero(starts[:-1])
    offsets = np.append(token_starts, bounds[-1]) + first_byte
    tokens = pa.LargeStringArray.from_buffers(len(token_starts), pa.py_buffer(offsets.astype(np.int64)), distinct.buffers()[2])
    return tokens, np.searchsorted(bounds, token_starts, side="right") - 1


def _spacy_boundaries(distinct: pa.Array, rows: np.ndarray, config: Rules, bounds: np.ndarray, starts: np.ndarray) -> None:
    """Token starts of the remaining chunks: from the process's memo of chunks spaCy has split
    before (chunks recur across batches and stages, as in spaCy's own cache), and from spaCy's
    tokenizer over the others, all of them in one call."""
    if len(rows) == 0:
        return
    chosen = distinct.take(pa.array(rows)).to_pylist()
    memo = config.memo
    unseen = [c for c in chosen if c not in memo]  # distinct already
    if len(memo) + len(unseen) > MEMO_SIZE:  # full: start again, from this batch's chunks only
        memo.clear()
        unseen = chosen
    memo.update(zip(unseen, _spacy_splits(unseen, config)))
    inner = [memo[c] for c in chosen]  # byte offsets of each chunk's second, third ... token
    counts = np.fromiter((len(x) // 4 for x in inner), np.int64, len(inner))
    if counts.sum():
        starts[np.repeat(bounds[:-1][rows], counts) + np.frombuffer(b"".join(inner), np.int32)] = True


def _spacy_splits(chunks: list[str], config: Rules) -> list[bytes]:
    """For each chunk, the byte offsets where spaCy starts its second, third ... token (int32 bytes)."""
    from spacy.attrs import IDX, IS_SPACE

    if not chunks:
        return []
    joined = "\n".join(chunks)  # newline tokens keep the chunks apart (no special case spans them)
    with config.tokenizer.vocab.memory_zone():  # see _spacy_words
        tokens = config.tokenizer(joined).to_array([IDX, IS_SPACE])
    char_at = tokens[tokens[:, 1] == 0, 0]
    byte_of_char = np.flatnonzero((np.frombuffer(joined.encode("utf-8"), np.uint8) & 0xC0) != 0x80)
    token_bytes = byte_of_char[char_at]
    chunk_start = np.concatenate([[0], np.cumsum([len(c.encode("utf-8")) + 1 for c in chunks])[:-1]])
    owner = np.searchsorted(chunk_start, token_bytes, side="right") - 1
    relative = token_bytes - chunk_start[owner]
    inner = relative > 0
    pieces = np.split(relative[inner].astype(np.int32), np.cumsum(np.bincount(owner[inner], minlength=len(chunks)))[:-1])
    return [piece.tobytes() for piece in pieces]


def _first_byte(values: pa.Array) -> int:
    return int(np.frombuffer(values.buffers()[1], np.int64)[values.offset])


def reference_words(text: pa.Array, lang: str = "en") -> pa.ListArray:
    """spaCy's non-whitespace tokens of each document, from `spacy.blank(lang)` itself (what
    datatrove calls), document by document: the reference the fast path is tested against."""
    return _spacy_words(text, _blank_tokenizer(lang))


@functools.cache
def _blank_tokenizer(lang: str):
    import spacy

    return spacy.blank(lang).tokenizer


def _spacy_words(text: pa.Array, tokenizer) -> pa.ListArray:
    """spaCy's non-whitespace tokens of each document (the slow path, for a few documents).

    Inside a memory zone: spaCy otherwise keeps every new string it tokenizes (vocabulary and
    tokenizer cache) for the life of the process, and a worker's unseen chunks never stop
    (URLs, numbers): 0.54 KB each, 215 MB more per 400,000 of them, where in a zone the process
    stays flat at the same speed. The offsets and words taken out are plain Python values."""
    with tokenizer.vocab.memory_zone():
        words = [[w for w in (t.text.strip() for t in tokenizer(doc or "")) if w] for doc in text.to_pylist()]
    return pa.array(words, pa.list_(pa.large_string()))


def _lengths(values: pa.Array) -> np.ndarray:
    return pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int64)


def _bytes(values: pa.Array) -> np.ndarray:
    return pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.int64)


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)
