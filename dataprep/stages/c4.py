"""`c4_quality`: the C4 page cleaning rules (Raffel et al. 2020, section 2.2; TFDS c4_utils).

A line filter (a mapper and a filter at once): it drops lines (no terminal punctuation, fewer than 3 words,
"javascript", cookie/terms boilerplate, a word over 1,000 characters), strips Wikipedia-style
citation markers, then removes the whole page on "lorem ipsum", a curly bracket, or fewer than
5 sentences left. All of it over the batch's lines at once. Sentences are counted as datatrove
counts them (spaCy's sentencizer over each kept line's spaCy words), by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep import spans
from dataprep.spans import Span
from dataprep.stages.base import LineFilter, TextBatch, Threshold, non_negative, register

POLICY_PHRASES = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
#: a sentence ends at . ! ? (possibly repeated, possibly closed by a quote or bracket) before a space
SENTENCE_END = r"[.!?]+[\"'”’)\]]*(\s|$)"
SENTENCE_COUNTS = ("spacy", "regex")
#: what removes a whole page (checked in this order on a line), on the lines C4 keeps
LOREM_IPSUM, CURLY_BRACKET = "lorem ipsum", r"\{"
PAGE_RULES = ("lorem_ipsum", "curly_bracket")


@register
class C4Quality(LineFilter):
    """Line filtering and page rules of C4; records `c4_lines_removed` per kept document."""

    name = "c4_quality"
    adds = {"c4_lines_removed": pa.int32()}

    def __init__(
        self,
        min_words_per_line: int | None = 3,  # shorter lines are menu items, buttons, captions
        require_terminal_punct: bool = True,  # C4 keeps only lines ending in . ? ! " (TFDS); ' too, as datatrove
        max_word_length: int | None = 1000,  # a 1,000-char "word" is base64, minified code, a URL blob
        remove_citations: bool = True,  # "[1]", "[edit]", "[citation needed]" are Wikipedia chrome
        drop_javascript_lines: bool = True,  # "please enable JavaScript" and script leftovers
        drop_policy_lines: bool = True,  # cookie banners, "terms of use", "privacy policy"
        drop_lorem_ipsum: bool = True,  # placeholder pages
        drop_curly_bracket: bool = True,  # code and templates ("{" rarely occurs in prose)
        min_sentences: int | None = 5,  # pages with fewer sentences left are not documents
        # "spacy": spaCy's sentencizer over each kept line (datatrove, so FineWeb's C4 rule; the
        # words from spacy_rules); "regex": . ! ? before a space (faster, ~1% other decisions)
        sentence_count: str = "spacy",
    ):
        if sentence_count not in SENTENCE_COUNTS:
            raise ValueError(f"sentence_count must be one of {', '.join(SENTENCE_COUNTS)}, not {sentence_count!r}")
        non_negative(min_words_per_line=min_words_per_line, max_word_length=max_word_length, min_sentences=min_sentences)
        self.sentence_count = sentence_count
        self.min_words_per_line = min_words_per_line
        self.require_terminal_punct = require_terminal_punct
        self.max_word_length = max_word_length
        self.remove_citations = remove_citations
        self.drop_javascript_lines, self.drop_policy_lines = drop_javascript_lines, drop_policy_lines
        self.drop_lorem_ipsum, self.drop_curly_bracket = drop_lorem_ipsum, drop_curly_bracket
        self.min_sentences = min_sentences

    def rewrite(self, batch: TextBatch) -> tuple[TextBatch, dict[str, np.ndarray]]:
        n = batch.num_rows
        raw_lines, parent = textutil.flat(batch.lines)
        lines = pc.utf8_trim_whitespace(raw_lines)
        line_words = textutil.split_words(lines)
        n_words = textutil.list_lengths(line_words)
        keep = np.ones(len(lines), dtype=bool)
        if self.max_word_length is not None:
            words, word_line = textutil.flat(line_words)
            too_long = np.zeros(len(lines), dtype=bool)
            too_long[word_line[textutil.char_lengths(words) > self.max_word_length]] = True
            keep &= ~too_long
        if self.remove_citations:
            lines = pc.replace_substring_regex(lines, CITATION, "")
        if self.require_terminal_punct:
            keep &= textutil.matches(lines, r"[.?!\"']$") & ~textutil.matches(lines, r"\.\.\.$")
        if self.min_words_per_line is not None:
            keep &= n_words >= self.min_words_per_line
        lower = pc.utf8_lower(lines)
        first_bad = {}  # page rule -> first line index (in the document's order) that triggers it
        if self.drop_lorem_ipsum:
            first_bad["lorem_ipsum"] = keep & textutil.matches(lower, LOREM_IPSUM)
        if self.drop_javascript_lines:
            keep &= ~textutil.matches(lower, "javascript")
        if self.drop_curly_bracket:
            first_bad["curly_bracket"] = keep & textutil.matches(lines, CURLY_BRACKET)
        if self.drop_policy_lines:
            keep &= ~textutil.matches(lower, "|".join(POLICY_PHRASES))
        sentences = textutil.per_doc(parent[keep], self._sentences(lines.filter(pa.array(keep))), n)
        new_text = textutil.join_kept(lines, parent, keep, n)
        lines_removed = textutil.per_doc(parent, (~keep).astype(float), n).astype(np.int32)
        metrics = {"sentences": sentences.astype(np.int64), "lines_removed": lines_removed, "page_rule": _page_rule(first_bad, parent, n)}
        return batch.with_text(new_text).with_columns({"c4_lines_removed": pa.array(lines_removed, pa.int32())}), metrics

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """The page rules (whichever fires on the earliest line), before the sentence count."""
        return [(code, m["page_rule"] == code) for code in PAGE_RULES]

    def setup(self) -> None:
        if self.sentence_count == "spacy":
            textutil.load_word_splitter("en")

    def _sentences(self, lines: pa.Array) -> np.ndarray:
        """Sentences in each line."""
        if self.sentence_count == "regex":
            return pc.count_substring_regex(lines, SENTENCE_END).to_numpy(zero_copy_only=False)
        return textutil.sentencizer_counts(textutil.split_words_by("spacy_rules", lines, "en"))

    def threshold_rules(self) -> list[Threshold]:
        return [] if self.min_sentences is None else [Threshold("min_sentences", "sentences", self.min_sentences, "min", "too_few_sentences")]

    @classmethod
    def highlight(cls, text: str, code: str, details: dict[str, Any], params: dict[str, Any]) -> list[Span]:
        if code == "lorem_ipsum":
            return spans.found(text, f"(?i){LOREM_IPSUM}", "lorem ipsum")
        return spans.found(text, CURLY_BRACKET, "curly bracket") if code == "curly_bracket" else []


def _page_rule(first_bad: dict[str, np.ndarray], parent: np.ndarray, n: int) -> np.ndarray:
    """Per document, the page rule that removes it (None: none); when several fire, the one on
    the earliest line wins."""
    first_line = {code: np.full(n, np.iinfo(np.int64).max) for code in first_bad}
    for code, hits in first_bad.items():
        index = np.flatnonzero(hits)
        np.minimum.at(first_line[code], parent[index], index)
    result = np.full(n, None, dtype=object)
    earliest = np.min(np.stack(list(first_line.values())), axis=0) if first_line else np.full(n, np.iinfo(np.int64).max)
    for code in reversed(first_bad):  # insertion order breaks ties: lorem ipsum is checked first on a line
        result[(first_line[code] == earliest) & (earliest < np.iinfo(np.int64).max)] = code
    return result
