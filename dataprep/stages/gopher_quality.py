"""`gopher_quality`: the statistic rules of the Gopher paper (Rae et al. 2021, appendix A1),
with per-language settings (FineWeb-2 style) from dataprep/languages/<code>.yaml.

Thresholds are the paper's, as datatrove implements them. Words are datatrove's: spaCy's
rule-based tokenizer for the language (`spacy_rules`, computed over the whole batch), jieba for
Chinese; a word made only of punctuation or symbols does not count as a word for the length
rules, as in the paper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import languages, spans
from dataprep import text as textutil
from dataprep.spans import Span
from dataprep.stages.base import Filter, TextBatch, Threshold, in_order, non_negative, register, shares


class Profile:
    """The default of a profiled parameter: the document language's profile decides. A sentinel,
    so that a value the user gives is used even when it equals the English profile's."""

    def __repr__(self) -> str:
        return "profile"


PROFILE = Profile()
#: the settings a language profile provides (a parameter not given takes the profile's)
PROFILED = ("stop_words", "min_stop_words", "min_mean_word_length", "max_mean_word_length", "min_alpha_words_ratio", "word_splitter")
#: documents in a language without a profile: the English bounds, no stop-word rule
FALLBACK = "en"
#: lines that are list items, lines that trail off, and the ellipses counted per word
BULLET_LINE, ELLIPSIS_LINE, ELLIPSIS = r"^\s*[•\-]", r"(\.\.\.|…)\s*$", r"\.\.\.|…"
#: (parameter, metric, side, reason code), in datatrove's order: the first failing rule names the reason
RULES = [("min_words", "words", "min", "short_doc"), ("max_words", "words", "max", "long_doc"),
         ("min_mean_word_length", "mean_word_length", "min", "short_mean_word"),
         ("max_mean_word_length", "mean_word_length", "max", "long_mean_word"),
         ("max_symbol_word_ratio", "hash_ratio", "max", "too_many_hashes"),
         ("max_symbol_word_ratio", "ellipsis_ratio", "max", "too_many_ellipses"),
         ("max_bullet_lines_ratio", "bullet_lines_ratio", "max", "too_many_bullet_lines"),
         ("max_ellipsis_lines_ratio", "ellipsis_lines_ratio", "max", "too_many_ellipsis_lines"),
         ("min_alpha_words_ratio", "alpha_words_ratio", "min", "few_alpha_words"),
         ("min_stop_words", "stop_words", "min", "few_stop_words")]


@register
class GopherQuality(Filter):
    """Document length, mean word length, symbol ratios, bullet/ellipsis lines, alphabetic words, stop words."""

    name = "gopher_quality"

    def __init__(
        self,
        min_words: int | None = 50,  # shorter pages are rarely prose (Gopher: 50..100,000 words)
        max_words: int | None = 100_000,  # longer ones are dumps, logs or concatenated pages
        # the five profiled bounds: default the language profile's (dataprep/languages/<code>.yaml; en shown)
        min_mean_word_length: float | None | Profile = PROFILE,  # en 3; lower: lists of numbers, initials, tables
        max_mean_word_length: float | None | Profile = PROFILE,  # en 10; higher: URLs, hashes, base64, run-together text
        max_symbol_word_ratio: float | None = 0.1,  # '#' (hashtags) or '...'/'…' per word: SEO and teasers
        max_bullet_lines_ratio: float | None = 0.9,  # lines starting with a bullet: menus and link lists
        max_ellipsis_lines_ratio: float | None = 0.3,  # lines ending in an ellipsis: truncated teasers
        min_alpha_words_ratio: float | None | Profile = PROFILE,  # en 0.8; words with a letter: below, numbers/code
        min_stop_words: int | None | Profile = PROFILE,  # en 2: real prose always has a few of its language's commonest words
        stop_words: list[str] | None | Profile = PROFILE,  # en: the, be, to, of, and, that, have, with
        # the profile's: spaCy's words for most (what datatrove counts; "spacy_rules" is spaCy's
        # tokenizer over the batch), jieba for zh; "whitespace" is faster but keeps punctuation on words
        word_splitter: str | Profile = PROFILE,
        language: str = "en",  # a profile (en, de, fr, es, ru, zh, ...) or "auto": each document's `language`
    ):
        if language != "auto" and language not in languages.available():
            raise ValueError(f"no language profile {language!r}; available: {', '.join(languages.available())}, or auto")
        if word_splitter is not PROFILE:
            textutil.check_word_splitter(word_splitter)
        non_negative(min_words=min_words, max_words=max_words, min_mean_word_length=min_mean_word_length,
                     max_mean_word_length=max_mean_word_length, max_symbol_word_ratio=max_symbol_word_ratio,
                     min_stop_words=min_stop_words)
        in_order(min_words=min_words, max_words=max_words, min_mean_word_length=min_mean_word_length,
                 max_mean_word_length=max_mean_word_length)
        shares(max_bullet_lines_ratio=max_bullet_lines_ratio, max_ellipsis_lines_ratio=max_ellipsis_lines_ratio,
               min_alpha_words_ratio=min_alpha_words_ratio)
        self.min_words, self.max_words = min_words, max_words
        self.min_mean_word_length, self.max_mean_word_length = min_mean_word_length, max_mean_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio, self.max_ellipsis_lines_ratio = max_bullet_lines_ratio, max_ellipsis_lines_ratio
        self.min_alpha_words_ratio = min_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = stop_words
        self.word_splitter = word_splitter
        self.language = language

    def requires(self) -> set[str]:
        return {"language"} if self.language == "auto" else set()

    def setup(self) -> None:
        codes = languages.available() if self.language == "auto" else [self.language]
        for code in codes:
            if self.settings(code)["word_splitter"] == "spacy_rules":
                textutil.load_word_splitter(code)

    def settings(self, code: str) -> dict[str, Any]:
        """The profiled settings for documents in language `code`: the profile's values, except
        where this stage was given a value (even one equal to a profile's)."""
        known = code in languages.available()
        chosen = dict(languages.profile(code if known else FALLBACK))
        if not known:
            chosen["min_stop_words"] = None
        chosen.update({key: getattr(self, key) for key in PROFILED if getattr(self, key) is not PROFILE})
        return chosen

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        if self.language != "auto":
            return self._measure(batch, self.settings(self.language), self.language)
        if "language" not in batch.table.column_names:
            raise ValueError("gopher_quality with language: auto needs the `language` stage before it")
        codes = np.array(batch.table["language"].to_pylist(), dtype=object)
        result: dict[str, np.ndarray] = {}
        for code in sorted(set(codes)):
            rows = codes == code
            part = self._measure(batch.filter(rows), self.settings(code), code)
            for key, values in part.items():
                if key not in result:
                    result[key] = np.zeros(batch.num_rows, dtype=values.dtype)
                result[key][rows] = values
        return result

    def _measure(self, batch: TextBatch, settings: dict[str, Any], code: str) -> dict[str, np.ndarray]:
        n = batch.num_rows
        rules_of = code if code in languages.available() else FALLBACK  # whose tokenizer rules split the words
        words, parent = textutil.flat(batch.words_by(settings["word_splitter"], rules_of))
        n_words = textutil.per_doc(parent, None, n)
        real = textutil.matches(words, textutil.NOT_SYMBOL)
        word_chars = textutil.char_lengths(words)
        n_real = textutil.per_doc(parent, real.astype(float), n)
        alpha = textutil.per_doc(parent, textutil.matches(words, textutil.ALPHA).astype(float), n)
        hashes = pc.count_substring(batch.text, "#").to_numpy(zero_copy_only=False)
        ellipses = pc.count_substring_regex(batch.text, ELLIPSIS).to_numpy(zero_copy_only=False)
        lines, line_parent = textutil.flat(batch.lines)
        # lines as datatrove counts them (str.splitlines): a text's trailing newline ends its last
        # line and starts none (a line filter that drops a last line leaves one: the same page
        # then had a line more, and passed the ellipsis rule it failed without it)
        n_lines = textutil.per_doc(line_parent, None, n) - pc.ends_with(batch.text, "\n").to_numpy(zero_copy_only=False)
        bullets = textutil.per_doc(line_parent, textutil.matches(lines, BULLET_LINE).astype(float), n)
        ellipsis_lines = textutil.per_doc(line_parent, textutil.matches(lines, ELLIPSIS_LINE).astype(float), n)

        def bound(key: str) -> np.ndarray:  # a per-document threshold; NaN switches the rule off
            return np.full(n, np.nan if settings[key] is None else float(settings[key]))

        return {
            "words": n_real.astype(np.int64),
            "mean_word_length": textutil.ratio(textutil.per_doc(parent, real * word_chars, n), n_real),
            "hash_ratio": textutil.ratio(hashes, n_words),
            "ellipsis_ratio": textutil.ratio(ellipses, n_words),
            "bullet_lines_ratio": textutil.ratio(bullets, n_lines),
            "ellipsis_lines_ratio": textutil.ratio(ellipsis_lines, n_lines),
            "alpha_words_ratio": textutil.ratio(alpha, n_words),
            "stop_words": _distinct_stop_words(words, parent, n, settings["stop_words"]),
            "min_mean_word_length": bound("min_mean_word_length"),
            "max_mean_word_length": bound("max_mean_word_length"),
            "min_alpha_words_ratio": bound("min_alpha_words_ratio"),
            "min_stop_words": bound("min_stop_words"),
        }

    def threshold_rules(self) -> list[Threshold]:
        """Every rule, in datatrove's order. A profiled bound is the given value, else the
        language's profile; with language: auto and no value given it varies per document
        (bound None: each document's is recorded as the metric named after the parameter)."""
        profile = {} if self.language == "auto" else self.settings(self.language)
        rules = []
        for param, metric, side, code in RULES:
            bound = profile[param] if param in profile else getattr(self, param)
            if bound is not None:
                rules.append(Threshold(param, metric, None if bound is PROFILE else bound, side, code))
        return rules

    @classmethod
    def highlight(cls, text: str, code: str, details: dict[str, Any], params: dict[str, Any]) -> list[Span]:
        marks = {"too_many_bullet_lines": (spans.lines_matching, BULLET_LINE, "bullet line"),
                 "too_many_ellipsis_lines": (spans.lines_matching, ELLIPSIS_LINE, "ellipsis line"),
                 "too_many_ellipses": (spans.found, ELLIPSIS, "ellipsis"), "too_many_hashes": (spans.found, "#", "#")}
        if code not in marks:
            return []
        mark, pattern, label = marks[code]
        return mark(text, pattern, label)


def _distinct_stop_words(words: pa.Array, parent: np.ndarray, n: int, stop_words: list[str]) -> np.ndarray:
    """How many different stop words each document uses (case-sensitive, as Gopher counts)."""
    if not stop_words:
        return np.zeros(n, dtype=np.int64)
    index = pc.index_in(words, value_set=pa.array(stop_words, words.type))
    found = ~pc.is_null(index).to_numpy(zero_copy_only=False)
    keys = parent[found] * len(stop_words) + pc.fill_null(index, 0).to_numpy(zero_copy_only=False)[found]
    return textutil.per_doc(np.unique(keys) // len(stop_words), None, n).astype(np.int64)
