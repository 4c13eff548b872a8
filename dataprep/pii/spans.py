"""Entity spans: overlap resolution and the replacement operators.

The operators produce the text presidio-anonymizer's operators of the same name produce
(`replace` with new_value "[LABEL]", `mask` of every character with "*", `hash` = SHA-256 of the
value's UTF-8 followed by the salt, `redact`), tested against AnonymizerEngine; they are
written out here because the anonymizer's per-call set-up costs more than the detection.
Offsets are Python string indices (code points) into the text as it came into the stage, so
`text[start:end]` is the entity whatever script surrounds it.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import NamedTuple

OPERATORS = ("replace", "mask", "hash", "redact")


class Span(NamedTuple):
    start: int
    end: int
    label: str
    score: float


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans in text order: where two overlap, the higher score wins, then the
    longer span (so an IP also read as a phone number stays an IP, a full name beats a part).

    Adjacent spans (one ends where the next starts) both stay.
    """
    chosen_starts: list[int] = []
    chosen: list[Span] = []
    for span in sorted(set(spans), key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        i = bisect.bisect_right(chosen_starts, span.start)
        if i > 0 and chosen[i - 1].end > span.start:
            continue
        if i < len(chosen) and chosen[i].start < span.end:
            continue
        chosen_starts.insert(i, span.start)
        chosen.insert(i, span)
    return chosen


def replacement(text: str, span: Span, operator: str, salt: bytes) -> str:
    """What replaces one entity under an operator (see OPERATORS)."""
    if operator == "replace":
        return f"[{span.label}]"
    if operator == "mask":
        return "*" * (span.end - span.start)
    if operator == "redact":
        return ""
    if operator == "hash":
        return hashlib.sha256(text[span.start:span.end].encode("utf-8") + salt).hexdigest()
    raise ValueError(f"operator must be one of {', '.join(OPERATORS)}, not {operator!r}")


def merge_spaced(text: str, spans: list[Span]) -> list[Span]:
    """Neighbours of one label with only spaces between become one entity, as presidio-anonymizer
    merges them before replacing ("[PERSON] [PERSON]" -> "[PERSON]")."""
    merged: list[Span] = []
    for span in spans:
        prev = merged[-1] if merged else None
        if prev is not None and prev.label == span.label and prev.end < span.start and not text[prev.end:span.start].strip(" "):
            merged[-1] = span._replace(start=prev.start)
        else:
            merged.append(span)
    return merged


def rewrite(text: str, spans: list[Span], operator: str, salt: bytes) -> str:
    """The text with each (non-overlapping, sorted) span replaced, neighbours merged as
    presidio-anonymizer merges them."""
    pieces, last = [], 0
    for span in merge_spaced(text, spans):
        pieces.append(text[last:span.start])
        pieces.append(replacement(text, span, operator, salt))
        last = span.end
    pieces.append(text[last:])
    return "".join(pieces)
