"""The offending parts of a removed document, as character spans to highlight in a report.

Read from the reason code and the ledger details alone, so any stage benefits: a detail that is
a string found in the text (a bad word, a blocked term) or a list of [start, end] spans (PII) is
marked as is; reason codes about repeated lines, paragraphs or n-grams, bullet or ellipsis lines,
short lines or lines without punctuation mark those lines or words. Only a few sampled documents
are highlighted per report, so plain Python per document is fine here.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

Span = tuple[int, int, str]  # start, end (characters), label

MAX_SPANS = 200  # per document: enough to see the pattern, small enough to read
SHORT_LINE_CHARS = 30  # fineweb_quality's default "short line"
#: string details that describe the document (a label, another id, its host) rather than quote it
DESCRIBES_DOCUMENT = {"duplicate_of", "language", "bucket", "host", "cluster_id"}
TERMINAL = re.compile(r"[.!?\"'。！？…]\s*$")


def spans(text: str, reason: str, details: dict[str, Any]) -> list[Span]:
    """Spans of `text` that explain why it was removed with `reason` (may be empty)."""
    found = _detail_spans(text, details)
    code = reason.split(".", 1)[-1]
    gram = re.search(r"(top|dup)_(\d+)gram", code)
    if gram:
        found += _ngram_spans(text, int(gram.group(2)), most_frequent_only=gram.group(1) == "top")
    elif "dup_para" in code:
        found += _repeated(text, r"\n{2,}", "repeated paragraph")
    elif "dup_line" in code:
        found += _repeated(text, r"\n+", "repeated line")
    elif "bullet" in code:
        found += _lines(text, lambda line: re.match(r"\s*[•\-]", line) is not None, "bullet line")
    elif "ellipsis_lines" in code:
        found += _lines(text, lambda line: re.search(r"(\.\.\.|…)\s*$", line) is not None, "ellipsis line")
    elif "ellipses" in code:
        found += [(m.start(), m.end(), "ellipsis") for m in re.finditer(r"\.\.\.|…", text)]
    elif "hashes" in code:
        found += [(m.start(), m.end(), "#") for m in re.finditer("#", text)]
    elif "short_line" in code:
        found += _lines(text, lambda line: 0 < len(line.strip()) <= SHORT_LINE_CHARS, "short line")
    elif "curly" in code:
        found += [(m.start(), m.end(), "curly bracket") for m in re.finditer(r"\{", text)]
    elif "lorem" in code:
        found += [(m.start(), m.end(), "lorem ipsum") for m in re.finditer("(?i)lorem ipsum", text)]
    elif "line_punct" in code:
        found += _lines(text, lambda line: bool(line.strip()) and not TERMINAL.search(line), "no terminal punctuation")
    return _merged(found)[:MAX_SPANS]


def _detail_spans(text: str, details: dict[str, Any]) -> list[Span]:
    result: list[Span] = []
    lower = text.lower()
    for key, value in details.items():
        if isinstance(value, str) and len(value) >= 2 and key not in DESCRIBES_DOCUMENT:
            quoted = rf"(?<!\w){re.escape(value.lower())}(?!\w)"  # whole words, as the bad-word and keyword rules match
            result += [(m.start(), m.end(), key) for m in re.finditer(quoted, lower)]
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, (list, tuple)) and len(item) >= 2 and all(isinstance(x, int) for x in item[:2]):
                    result.append((item[0], item[1], str(item[2]) if len(item) > 2 else key))
                elif isinstance(item, dict) and isinstance(item.get("start"), int) and isinstance(item.get("end"), int):
                    result.append((item["start"], item["end"], str(item.get("label") or item.get("entity") or key)))
    return [(s, e, label) for s, e, label in result if 0 <= s < e <= len(text)]


def _repeated(text: str, separator: str, label: str) -> list[Span]:
    """Every occurrence after the first of a line/paragraph that repeats."""
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


def _lines(text: str, test, label: str) -> list[Span]:
    result = []
    start = 0
    for line in text.split("\n"):
        if test(line):
            result.append((start, start + len(line), label))
        start += len(line) + 1
    return result


def _ngram_spans(text: str, n: int, most_frequent_only: bool) -> list[Span]:
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


def shared_ngram_spans(text: str, other: str, n: int = 5) -> list[Span]:
    """Word n-grams of `text` that also occur in `other` (what a near-duplicate shares)."""
    words = list(re.finditer(r"\S+", text))
    theirs = other.split()
    their_grams = {tuple(theirs[i:i + n]) for i in range(len(theirs) - n + 1)}
    found = [(words[i].start(), words[i + n - 1].end(), "shared with the kept document")
             for i in range(len(words) - n + 1) if tuple(w.group() for w in words[i:i + n]) in their_grams]
    return _merged(found)[:MAX_SPANS]


def _merged(found: list[Span]) -> list[Span]:
    """Sorted, overlapping spans joined (the first label wins)."""
    result: list[Span] = []
    for start, end, label in sorted(found):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]), result[-1][2])
        else:
            result.append((start, end, label))
    return result
