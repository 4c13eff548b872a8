"""`fineweb_quality`: the line-level rules FineWeb added on top of Gopher and C4 (Penedo et al. 2024).

They catch what survives the Gopher rules on real crawls: pages made of short navigation lines,
lists without sentence punctuation, and pages repeating lines.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow.compute as pc

from dataprep import spans
from dataprep import text as textutil
from dataprep.spans import Span
from dataprep.stages.base import Filter, TextBatch, Threshold, non_negative, register, shares


#: a line with text (blank lines are not lines for these rules)
FILLED = r"\S"


@register
class FinewebQuality(Filter):
    """Line punctuation ratio, short-line ratio, duplicated-line characters, newlines per word."""

    name = "fineweb_quality"

    def __init__(
        self,
        min_line_punct_ratio: float | None = 0.12,  # lines ending in terminal punctuation: prose has sentences
        max_short_line_ratio: float | None = 0.67,  # lines of <= short_line_chars: menus, tags, breadcrumbs
        short_line_chars: int = 30,  # what "short" means for the rule above
        max_dup_line_chars: float | None = 0.01,  # characters in repeated lines / characters without newlines
        max_newline_word_ratio: float | None = 0.3,  # newlines per word: one-word-per-line lists
        word_splitter: str = "spacy_rules",  # spaCy's English words, as datatrove counts them; "whitespace": faster, not theirs
    ):
        self.word_splitter = textutil.check_word_splitter(word_splitter)
        non_negative(short_line_chars=short_line_chars, max_newline_word_ratio=max_newline_word_ratio)
        shares(min_line_punct_ratio=min_line_punct_ratio, max_short_line_ratio=max_short_line_ratio, max_dup_line_chars=max_dup_line_chars)
        self.min_line_punct_ratio, self.max_short_line_ratio = min_line_punct_ratio, max_short_line_ratio
        self.short_line_chars = short_line_chars
        self.max_dup_line_chars, self.max_newline_word_ratio = max_dup_line_chars, max_newline_word_ratio

    def setup(self) -> None:
        if self.word_splitter == "spacy_rules":
            textutil.load_word_splitter("en")

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        n = batch.num_rows
        all_lines, all_parent = textutil.flat(batch.lines)
        filled = textutil.matches(all_lines, FILLED)
        lines, parent = all_lines.filter(filled), all_parent[filled]
        n_lines = textutil.per_doc(parent, None, n)
        punct = textutil.matches(lines, _terminal())
        short = textutil.char_lengths(lines) <= self.short_line_chars
        _, dup_chars = textutil.duplicate_elements(lines, parent, n)
        newlines = pc.count_substring(batch.text, "\n").to_numpy(zero_copy_only=False)
        metrics = {
            "line_punct_ratio": textutil.ratio(textutil.per_doc(parent, punct.astype(float), n), n_lines),
            "short_line_ratio": textutil.ratio(textutil.per_doc(parent, short.astype(float), n), n_lines),
            "dup_line_chars": textutil.ratio(dup_chars, batch.char_counts - newlines),
            "lines": n_lines.astype(np.int64),
        }
        # words are counted (the costly part) only where the newline rule can decide, as in
        # datatrove: documents an earlier rule removes get NaN ("not measured")
        reaches = ~np.any([failed for _, failed in self.rules({**metrics, "newline_word_ratio": np.zeros(n)})], axis=0)
        ratio = np.full(n, np.nan)
        words = textutil.list_lengths(batch.words_of(reaches, self.word_splitter))
        ratio[reaches] = textutil.ratio(newlines[reaches], words)
        return {**metrics, "newline_word_ratio": ratio}

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        return [("empty", m["lines"] == 0)]  # no line with text: no ratio to judge

    def threshold_rules(self) -> list[Threshold]:
        rules = [("min_line_punct_ratio", "line_punct_ratio", "min"), ("max_short_line_ratio", "short_line_ratio", "max"),
                 ("max_dup_line_chars", "dup_line_chars", "max"), ("max_newline_word_ratio", "newline_word_ratio", "max")]
        return [Threshold(param, metric, getattr(self, param), side, metric)
                for param, metric, side in rules if getattr(self, param) is not None]

    @classmethod
    def highlight(cls, text: str, code: str, details: dict[str, Any], params: dict[str, Any]) -> list[Span]:
        filled = re.compile(FILLED)
        if code == "short_line_ratio":
            short = params["short_line_chars"]
            return spans.lines(text, lambda line: filled.search(line) is not None and len(line) <= short, "short line")
        if code == "line_punct_ratio":
            ends = re.compile(_terminal())
            return spans.lines(text, lambda line: filled.search(line) is not None and not ends.search(line), "no terminal punctuation")
        if code == "dup_line_chars":
            return spans.repeated(text, r"\n", "repeated line")
        return []


def _terminal() -> str:
    """A line that ends a sentence: its last character is a Unicode Sentence_Terminal."""
    return f"[{textutil.sentence_terminal_class()}]$"
