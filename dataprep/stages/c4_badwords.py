"""`c4_badwords`: C4's bad-words filter (Raffel et al. 2020): drop pages holding a listed word.

The lists are LDNOOBW's, 26 languages, shipped in dataprep/badwords (CC BY 4.0, see the NOTICE
there); `extra_files` adds your own (one word or phrase per line). As in C4/mC4 (TFDS c4_utils;
datatrove's C4BadWordsFilter does the same): the page's text is lower-cased and the entries are
matched as written (so an entry with a capital, as 61 of the Spanish list's, never matches: write
your own lists in lower case); words match whole (a letter or digit on either side means no
match, in any script), except in Japanese, Thai and Chinese, written without spaces, where any
occurrence matches; mC4's allowlist leaves out the entries that are common parts of words there
("性" in 可能性, "sm"), each of which removed over a tenth of its language's pages.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.stages.base import Filter, TextBatch, register

LISTS = Path(__file__).resolve().parents[1] / "badwords"
#: languages whose lists match inside words (TFDS c4_utils: ja, th, zh; Korean is written with spaces)
UNSPACED = {"zh", "ja", "th"}
#: mC4's entries left out, by language (TFDS c4_utils _BADWORDS_ALLOWLIST)
ALLOWED = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}
#: fastText's codes for languages whose lists are filed under another (Filipino is Tagalog: `tl`)
LIST_OF = {"tl": "fil"}


def available() -> list[str]:
    return sorted(p.stem for p in LISTS.glob("*.txt"))


@functools.cache
def _words(path: str) -> tuple[str, ...]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


@register
class C4Badwords(Filter):
    """Removes documents holding a word of their language's list; records the word."""

    name = "c4_badwords"

    def __init__(
        self,
        language: str = "en",  # the list to use, or "auto": each document's `language` column
        extra_files: list[str] | None = None,  # your own lists, applied to every document
    ):
        if language != "auto" and language not in available():
            raise ValueError(f"no bad-words list {language!r}; shipped: {', '.join(available())}, or auto")
        for path in extra_files or []:
            if not Path(path).is_file():
                raise ValueError(f"bad-words file not found: {path}")
        self.language = language
        self.extra_files = [str(Path(p).resolve()) for p in extra_files or []]

    def read_files(self) -> list[str]:
        return self.extra_files

    def requires(self) -> set[str]:
        return {"language"} if self.language == "auto" else set()

    def _pattern(self, language: str) -> str | None:
        language = LIST_OF.get(language, language)
        words = set(_words(str(LISTS / f"{language}.txt"))) - ALLOWED.get(language, set()) if language in available() else set()
        for path in self.extra_files:
            words.update(_words(path))
        if not words:
            return None
        alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        if language in UNSPACED:
            return f"(?P<word>{alternation})"
        return rf"(?:^|[^\p{{L}}\p{{N}}_])(?P<word>{alternation})(?:$|[^\p{{L}}\p{{N}}_])"

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        lower = pc.utf8_lower(batch.text)
        if self.language == "auto":
            codes = np.array(batch.table["language"].to_pylist(), dtype=object)
        else:
            codes = np.full(batch.num_rows, self.language, dtype=object)
        found = np.full(batch.num_rows, None, dtype=object)
        for code in sorted(set(codes)):
            pattern = self._pattern(code)
            if pattern is None:
                continue
            rows = np.flatnonzero(codes == code)
            matched = pc.struct_field(pc.extract_regex(lower.take(pa.array(rows)), pattern), "word").to_pylist()
            found[rows] = matched
        return {"word": found}

    def checks(self, m: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
        return [("badword", m["word"] != None)]  # noqa: E711
