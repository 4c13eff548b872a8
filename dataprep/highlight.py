"""The offending parts of a removed document, as character spans to highlight in a report.

A dispatcher: the stage that removed the document says what to mark (its `highlight()`, with its
own patterns and the run's parameters); on top, for every stage, a detail that is a string found
in the text (a bad word, a blocked term) or a list of [start, end] spans (PII) is marked as is.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from dataprep.errors import ConfigError
from dataprep.pipeline import stage_class
from dataprep.spans import Span
from dataprep.stages.base import Stage

MAX_SPANS = 200  # per document: enough to see the pattern, small enough to read
#: string details that describe the document (a label, another id, its host) rather than quote it
DESCRIBES_DOCUMENT = {"duplicate_of", "language", "bucket", "host", "cluster_id", "error"}


def spans(text: str, reason: str, details: dict[str, Any], stage: type[Stage] | None = None,
          params: dict[str, Any] | None = None) -> list[Span]:
    """Spans of `text` that explain why `stage` (run with `params`) removed it with `reason`."""
    found = _detail_spans(text, details)
    if stage is not None:
        found += stage.highlight(text, reason.split(".", 1)[-1], details, params or {})
    return _merged(found)[:MAX_SPANS]


def stage_of(spec: dict[str, dict[str, Any]]) -> tuple[type[Stage] | None, dict[str, Any]]:
    """The class and full parameters (defaults filled in) of a stage as run.json records it
    ({name: parameters given}); no class when it cannot be imported here any more."""
    ((name, given),) = spec.items()
    try:
        cls = stage_class(name, name)
    except ConfigError:
        return None, {}
    defaults = {key: p.default for key, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return cls, {**defaults, **given}


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
