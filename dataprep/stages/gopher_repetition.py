"""`gopher_repetition`: the repetition rules of the Gopher paper (Rae et al. 2021, table A1).

Repeated lines, paragraphs and word n-grams mark boilerplate, spam and generated pages. Every
fraction is over the document's characters. Lines and paragraphs are compared exactly (after
`normalize`); n-grams are compared by their words (hashed, computed for the whole batch at once).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow.compute as pc

from dataprep import repetition, spans
from dataprep import text as textutil
from dataprep.spans import Span
from dataprep.stages.base import Filter, TextBatch, Threshold, register, shares

TOP_NGRAMS = {2: 0.20, 3: 0.18, 4: 0.16}
DUPLICATE_NGRAMS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
#: what separates paragraphs and lines (compared whole)
SEPARATORS = {"para": r"\n{2,}", "line": r"\n+"}


@register
class GopherRepetition(Filter):
    """Duplicate line/paragraph fractions, top 2-4-gram and duplicated 5-10-gram character fractions."""

    name = "gopher_repetition"

    def __init__(
        self,
        max_dup_line_fraction: float | None = 0.30,  # share of lines that repeat an earlier line
        max_dup_para_fraction: float | None = 0.30,  # share of paragraphs that repeat an earlier one
        max_dup_line_chars: float | None = 0.20,  # characters in repeated lines / all characters
        max_dup_para_chars: float | None = 0.20,  # characters in repeated paragraphs / all characters
        top_ngrams: dict[int, float] | None = None,  # n -> max char fraction of the most frequent n-gram
        dup_ngrams: dict[int, float] | None = None,  # n -> max char fraction covered by repeated n-grams
        word_splitter: str = "spacy_rules",  # spaCy's English words, as datatrove counts n-grams; "whitespace": faster, not theirs
        # "greedy": datatrove's left-to-right scan (a repeat counts and jumps n words), so decisions
        # are FineWeb's; "coverage": every word under any repeat once (a reading of the paper)
        dup_ngram_count: str = "greedy",
    ):
        if dup_ngram_count not in ("coverage", "greedy"):
            raise ValueError(f"dup_ngram_count must be 'coverage' or 'greedy', not {dup_ngram_count!r}")
        self.dup_ngram_count = dup_ngram_count
        self.word_splitter = textutil.check_word_splitter(word_splitter)
        self.max_dup_line_fraction, self.max_dup_para_fraction = max_dup_line_fraction, max_dup_para_fraction
        self.max_dup_line_chars, self.max_dup_para_chars = max_dup_line_chars, max_dup_para_chars
        self.top_ngrams = {int(k): float(v) for k, v in (TOP_NGRAMS if top_ngrams is None else top_ngrams).items()}
        self.dup_ngrams = {int(k): float(v) for k, v in (DUPLICATE_NGRAMS if dup_ngrams is None else dup_ngrams).items()}
        if any(k < 1 for k in [*self.top_ngrams, *self.dup_ngrams]):
            raise ValueError(f"top_ngrams and dup_ngrams are n -> fraction with n >= 1, not {self.top_ngrams} and {self.dup_ngrams}")
        shares(max_dup_line_fraction=max_dup_line_fraction, max_dup_para_fraction=max_dup_para_fraction,
                     max_dup_line_chars=max_dup_line_chars, max_dup_para_chars=max_dup_para_chars,
                     **{f"top_ngrams[{k}]": v for k, v in self.top_ngrams.items()}, **{f"dup_ngrams[{k}]": v for k, v in self.dup_ngrams.items()})

    def setup(self) -> None:
        if self.word_splitter == "spacy_rules":
            textutil.load_word_splitter("en")

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        n = batch.num_rows
        chars = batch.char_counts
        metrics = {}
        for unit, separator in SEPARATORS.items():
            values, parent = textutil.flat(pc.split_pattern_regex(batch.text, separator))
            dups, dup_chars = textutil.duplicate_elements(values, parent, n)
            metrics[f"dup_{unit}_fraction"] = textutil.ratio(dups, textutil.per_doc(parent, None, n))
            metrics[f"dup_{unit}_chars"] = textutil.ratio(dup_chars, chars)
        # the n-gram rules (words: the costly part) are measured only where they can decide, as in
        # datatrove: documents a line or paragraph rule removes get NaN ("not measured")
        line_rules = [t for t in self.threshold_rules() if t.metric in metrics]
        reaches = ~np.any([t.failed(metrics) for t in line_rules] or [np.zeros(n, bool)], axis=0)
        words, parent = textutil.flat(batch.words_of(reaches, self.word_splitter))
        word_chars = textutil.char_lengths(words)
        m, reached_chars = int(reaches.sum()), chars[reaches]
        count = repetition.duplicate_ngram_chars if self.dup_ngram_count == "coverage" else repetition.greedy_duplicate_ngram_chars
        sizes = [("top", size, repetition.top_ngram_chars) for size in self.top_ngrams] + [("dup", size, count) for size in self.dup_ngrams]
        repeats = repetition.repeated_ngrams(textutil.element_codes(words), parent, [size for _, size, _ in sizes])
        for kind, size, measure in sizes:
            values = np.full(n, np.nan)
            values[reaches] = textutil.ratio(measure(repeats[size], parent, word_chars, size, m), reached_chars)
            metrics[f"{kind}_{size}gram_chars"] = values
        return metrics

    def threshold_rules(self) -> list[Threshold]:
        rules = [
            ("max_dup_para_fraction", "dup_para_fraction", self.max_dup_para_fraction),
            ("max_dup_para_chars", "dup_para_chars", self.max_dup_para_chars),
            ("max_dup_line_fraction", "dup_line_fraction", self.max_dup_line_fraction),
            ("max_dup_line_chars", "dup_line_chars", self.max_dup_line_chars),
            *((f"top_ngrams.{k}", f"top_{k}gram_chars", v) for k, v in self.top_ngrams.items()),
            *((f"dup_ngrams.{k}", f"dup_{k}gram_chars", v) for k, v in self.dup_ngrams.items()),
        ]
        return [Threshold(param, metric, bound, "max", metric) for param, metric, bound in rules if bound is not None]

    @classmethod
    def highlight(cls, text: str, code: str, details: dict[str, Any], params: dict[str, Any]) -> list[Span]:
        gram = re.fullmatch(r"(top|dup)_(\d+)gram_chars", code)
        if gram:
            return spans.repeated_ngrams(text, int(gram.group(2)), most_frequent_only=gram.group(1) == "top")
        unit = re.fullmatch(r"dup_(para|line)_(fraction|chars)", code)
        if unit:
            return spans.repeated(text, SEPARATORS[unit.group(1)], "repeated paragraph" if unit.group(1) == "para" else "repeated line")
        return []
