"""`gopher_quality`: the statistic rules of the Gopher paper (Rae et al. 2021, appendix A1).

Thresholds are the paper's, as datatrove implements them. Words are whitespace-separated tokens
(the fast splitter); a word made only of punctuation or symbols does not count as a word for the
length rules, as in the paper.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep.stages.base import Filter, TextBatch, register

ENGLISH_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]


@register
class GopherQuality(Filter):
    """Document length, mean word length, symbol ratios, bullet/ellipsis lines, alphabetic words, stop words."""

    name = "gopher_quality"

    def __init__(
        self,
        min_words: int | None = 50,  # shorter pages are rarely prose (Gopher: 50..100,000 words)
        max_words: int | None = 100_000,  # longer ones are dumps, logs or concatenated pages
        min_mean_word_length: float | None = 3,  # lower: lists of numbers, initials, tables
        max_mean_word_length: float | None = 10,  # higher: URLs, hashes, base64, run-together text
        max_symbol_word_ratio: float | None = 0.1,  # '#' (hashtags) or '...'/'…' per word: SEO and teasers
        max_bullet_lines_ratio: float | None = 0.9,  # lines starting with a bullet: menus and link lists
        max_ellipsis_lines_ratio: float | None = 0.3,  # lines ending in an ellipsis: truncated teasers
        min_alpha_words_ratio: float | None = 0.8,  # words with a letter: below this it is numbers/code
        min_stop_words: int | None = 2,  # real English prose always has a few of the commonest words
        stop_words: list[str] | None = None,  # default: the, be, to, of, and, that, have, with
        word_splitter: str = "whitespace",  # "spacy" reproduces datatrove/FineWeb word counts, ~50x slower
    ):
        self.word_splitter = textutil.check_word_splitter(word_splitter)
        self.min_words, self.max_words = min_words, max_words
        self.min_mean_word_length, self.max_mean_word_length = min_mean_word_length, max_mean_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio, self.max_ellipsis_lines_ratio = max_bullet_lines_ratio, max_ellipsis_lines_ratio
        self.min_alpha_words_ratio = min_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = list(ENGLISH_STOP_WORDS if stop_words is None else stop_words)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        n = batch.num_rows
        words, parent = textutil.flat(batch.words_by(self.word_splitter))
        n_words = textutil.per_doc(parent, None, n)
        real = textutil.matches(words, textutil.NOT_SYMBOL)
        word_chars = textutil.char_lengths(words)
        n_real = textutil.per_doc(parent, real.astype(float), n)
        alpha = textutil.per_doc(parent, textutil.matches(words, textutil.ALPHA).astype(float), n)
        hashes = pc.count_substring(batch.text, "#").to_numpy(zero_copy_only=False)
        ellipses = (pc.count_substring(batch.text, "...").to_numpy(zero_copy_only=False)
                    + pc.count_substring(batch.text, "…").to_numpy(zero_copy_only=False))
        lines, line_parent = textutil.flat(batch.lines)
        n_lines = textutil.per_doc(line_parent, None, n)
        bullets = textutil.per_doc(line_parent, textutil.matches(lines, r"^\s*[•\-]").astype(float), n)
        ellipsis_lines = textutil.per_doc(line_parent, textutil.matches(lines, r"(\.\.\.|…)\s*$").astype(float), n)
        return {
            "words": n_real.astype(np.int64),
            "mean_word_length": textutil.ratio(textutil.per_doc(parent, real * word_chars, n), n_real),
            "hash_ratio": textutil.ratio(hashes, n_words),
            "ellipsis_ratio": textutil.ratio(ellipses, n_words),
            "bullet_lines_ratio": textutil.ratio(bullets, n_lines),
            "ellipsis_lines_ratio": textutil.ratio(ellipsis_lines, n_lines),
            "alpha_words_ratio": textutil.ratio(alpha, n_words),
            "stop_words": self._distinct_stop_words(words, parent, n),
        }

    def _distinct_stop_words(self, words: pa.Array, parent: np.ndarray, n: int) -> np.ndarray:
        index = pc.index_in(words, value_set=pa.array(self.stop_words, words.type))
        found = ~pc.is_null(index).to_numpy(zero_copy_only=False)
        keys = parent[found] * len(self.stop_words) + pc.fill_null(index, 0).to_numpy(zero_copy_only=False)[found]
        return textutil.per_doc(np.unique(keys) // len(self.stop_words), None, n).astype(np.int64)

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        rules = [
            ("short_doc", self.min_words, lambda: m["words"] < self.min_words),
            ("long_doc", self.max_words, lambda: m["words"] > self.max_words),
            ("short_mean_word", self.min_mean_word_length, lambda: m["mean_word_length"] < self.min_mean_word_length),
            ("long_mean_word", self.max_mean_word_length, lambda: m["mean_word_length"] > self.max_mean_word_length),
            ("too_many_hashes", self.max_symbol_word_ratio, lambda: m["hash_ratio"] > self.max_symbol_word_ratio),
            ("too_many_ellipses", self.max_symbol_word_ratio, lambda: m["ellipsis_ratio"] > self.max_symbol_word_ratio),
            ("too_many_bullet_lines", self.max_bullet_lines_ratio, lambda: m["bullet_lines_ratio"] > self.max_bullet_lines_ratio),
            ("too_many_ellipsis_lines", self.max_ellipsis_lines_ratio, lambda: m["ellipsis_lines_ratio"] > self.max_ellipsis_lines_ratio),
            ("few_alpha_words", self.min_alpha_words_ratio, lambda: m["alpha_words_ratio"] < self.min_alpha_words_ratio),
            ("few_stop_words", self.min_stop_words, lambda: m["stop_words"] < self.min_stop_words),
        ]
        return [(code, check()) for code, bound, check in rules if bound is not None]
