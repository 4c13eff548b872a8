"""Entity spans: overlap resolution and the replacement operators.

Offsets are Python string indices (code points) into the text as it came into the stage, so
`text[start:end]` is the entity whatever script surrounds it.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import NamedTuple

OPERATORS = ("tag", "mask", "hash", "remove")


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
    if operator == "tag":
        return f"[{span.label}]"
    if operator == "mask":
        return "*" * (span.end - span.start)
    if operator == "remove":
        return ""
    value = text[span.start:span.end].strip().lower() if span.label == "EMAIL_ADDRESS" else text[span.start:span.end]
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=6, key=salt).hexdigest()
    return f"[{span.label}:{digest}]"


def rewrite(text: str, spans: list[Span], operator: str, salt: bytes) -> str:
    """The text with each (non-overlapping, sorted) span replaced."""
    pieces, last = [], 0
    for span in spans:
        pieces.append(text[last:span.start])
        pieces.append(replacement(text, span, operator, salt))
        last = span.end
    pieces.append(text[last:])
    return "".join(pieces)
