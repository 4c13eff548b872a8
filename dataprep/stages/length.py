"""`length`: remove documents too short or too long to be useful training text."""

from __future__ import annotations

import numpy as np

from dataprep.stages.base import Filter, TextBatch, Threshold, in_order, non_negative, register


@register
class Length(Filter):
    """Bounds on characters and whitespace-separated words; a bound left as None is not checked."""

    name = "length"

    def __init__(
        self,
        min_chars: int | None = 1,  # an empty document is never training text
        max_chars: int | None = None,  # no upper bound by default: giant inputs are quarantined at read
        min_words: int | None = 5,  # fewer words than a sentence carries no context to learn from
        max_words: int | None = None,  # Gopher uses 100,000 (gopher_quality); off here
    ):
        non_negative(min_chars=min_chars, max_chars=max_chars, min_words=min_words, max_words=max_words)
        in_order(min_chars=min_chars, max_chars=max_chars, min_words=min_words, max_words=max_words)
        self.min_chars, self.max_chars = min_chars, max_chars
        self.min_words, self.max_words = min_words, max_words

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        return {"chars": batch.char_counts, "words": batch.word_counts}

    def threshold_rules(self) -> list[Threshold]:
        rules = [("min_chars", "chars", "min", "too_few_chars"), ("max_chars", "chars", "max", "too_many_chars"),
                 ("min_words", "words", "min", "too_few_words"), ("max_words", "words", "max", "too_many_words")]
        return [Threshold(param, metric, getattr(self, param), side, code)
                for param, metric, side, code in rules if getattr(self, param) is not None]
