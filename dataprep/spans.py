"""Character spans of a document that show why a stage removed it: the pieces stages build their
`highlight()` from (lines a pattern matches, repeated lines or paragraphs, repeated n-grams).

Only a few sampled documents are highlighted per report, so plain Python per document is fine
here; the patterns are the stages' own (the RE2 ones they measure with read the same in `re`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

Span = tuple[int, int, str]  # start, end (characters), label


def found(text: str, pattern: str, label: str) -> list[Span]:
    """Every match of `pattern`."""
    return [(m.start(), m.end(), label) for m in re.finditer(pattern, text)]


def lines(text: str, test: Callable[[str], bool], label: str) -> list[Span]:
    """Every line (split at "\\n", as the stages split them) for which `test` is true."""
    result = []
    start = 0
    for line in text.split("\n"):
        if test(line):
            result.append((start, start + len(line), label))
        start += len(line) + 1
    return result


def lines_matching(text: str, pattern: str, label: str) -> list[Span]:
    """Every line in which `pattern` is found."""
    compiled = re.compile(pattern)
    return lines(text, lambda line: compiled.search(line) is not None, label)


def repeated(text: str, separator: str, label: str) -> list[Span]:
    """Every occurrence after the first of a piece (line, paragraph) that repeats."""
    seen: set[str] = set()
    result = []
    start = 0
    for match in [*re.finditer(separator, text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            if piece in seen:
                result.append((start, end, label))
            seen.add(piece)
        start = match.end() if match else end
    return result


def repeated_ngrams(text: str, n: int, most_frequent_only: bool) -> list[Span]:
    """Word n-grams that occur more than once (or only the most frequent one)."""
    words = list(re.finditer(r"\S+", text))
    grams = [tuple(w.group() for w in words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    if not counts:
        return []
    if most_frequent_only:
        top, count = counts.most_common(1)[0]
        wanted = {top} if count > 1 else set()
    else:
        wanted = {g for g, c in counts.items() if c > 1}
    label = f"repeated {n}-gram"
    return [(words[i].start(), words[i + n - 1].end(), label) for i, g in enumerate(grams) if g in wanted]
