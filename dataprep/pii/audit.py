"""Why the `pii` stage misses a finding Presidio's analyzer makes on the same text.

Two kinds of cause, reported apart because only the first may be traded for speed:

- the speed path: the screens, the name regions and chunks NER reads instead of whole
  documents (SPEED_PATH), and the model trimmed to its NER component and name labels (MODEL);
  a finding lost there is one the stage would make reading everything with the stock model;
- a precision guard: the stage reading everything still rejects the model's entity on purpose,
  by a named rule (dataprep/pii/ner.py: NO_NAME, ANNOUNCES, TOO_SHORT, FIELD_LABEL), or its
  recognizers do not report a pattern finding Presidio's do, at the stage's thresholds and
  validators (THRESHOLD).

Each miss is tested, not assumed: the stage is run again with `screens=False` (every recognizer
on every document, NER on each whole document) on the documents with misses; what that run
finds was lost by the speed path. For a PERSON finding it does not make, the model's entities on
the whole document are read with the guards' verdicts: an entity there that a guard rejects
names the guard; none at all means our trimmed model does not see the name where the stock one
does.

A miss under its label may still leave no text behind: findings of the stage with other labels
cover it (Presidio's model reads pieces of IPv6 addresses as names, which the stage redacts as
IP_ADDRESS). The summary counts apart the misses with text left unredacted ("Phone" of "Phone
+34...", whose number is redacted), as what a reader of the output would still see.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import pyarrow as pa

from dataprep.pii import ner
from dataprep.pii.spans import Span

SPEED_PATH = "screens, name regions and chunks"
MODEL = "trimmed model (NER only, name labels)"
THRESHOLD = "not reported by the stage's recognizers (thresholds, validators)"
UNEXPLAINED = "unexplained"  # the model's entity is there whole and passes the guards, yet the stage misses it
#: the causes that belong to the speed path (the rest are precision guards); unexplained ones counted with them
SPEED_CAUSES = (SPEED_PATH, MODEL, UNEXPLAINED)


class Miss(NamedTuple):
    doc: int
    start: int
    end: int
    label: str
    cause: str
    redacted: bool  # findings of the stage with other labels cover it ("f48e:1866" of an IPv6 address read as a name)


def _overlaps(start: int, end: int, label: str, spans) -> list:
    return [s for s in spans if s.label == label and s.start < end and start < s.end] if label else \
        [s for s in spans if s.start < end and start < s.end]


def _covered(start: int, end: int, spans) -> bool:
    """Whether findings (of any label) cover every character of start..end."""
    for s in sorted(spans, key=lambda s: s.start):
        if s.start <= start < s.end:
            start = s.end
    return start >= end


def misses(stage, texts: list[str], presidio: list[list[tuple[int, int, str]]]) -> list[Miss]:
    """Presidio's findings (start, end, label per text) that no finding of `stage` with the same
    label overlaps, each with its cause."""
    from dataprep.stages.base import TextBatch
    from dataprep.stages.pii import Pii

    def analyze(s: Pii, docs: list[str]) -> list[list[Span]]:
        ids = [str(i) for i in range(len(docs))]
        return s.analyze(TextBatch(pa.table({"id": ids, "text": pa.array(docs, pa.large_string())})))

    ours = analyze(stage, texts)
    lost = [(i, s, e, label) for i, theirs in enumerate(presidio) for s, e, label in theirs
            if label in stage.entities and not _overlaps(s, e, label, ours[i])]
    if not lost:
        return []
    docs = sorted({i for i, *_ in lost})
    reference = Pii(**{**stage.params(), "screens": False, "operator": "replace"})  # the operator does not detect
    everything = dict(zip(docs, analyze(reference, [texts[i] for i in docs])))
    rejected: list[list[ner.Rejected]] = [[] for _ in docs]
    persons = ner.find_persons([texts[i] for i in docs], ner.LONGEST, stage.ner_overlap_chars, stage.ner_context_chars,
                               whole=ner.LONGEST, model=stage.ner_models.get("en", ner.MODEL),
                               rejected=rejected) if stage.ner else [[] for _ in docs]
    raw = {i: (found, refused) for i, found, refused in zip(docs, persons, rejected)}
    out = []
    for i, s, e, label in lost:
        if _overlaps(s, e, label, everything[i]):
            cause = SPEED_PATH
        elif label != "PERSON":
            cause = THRESHOLD
        elif [p for p in _overlaps(s, e, label, raw[i][0]) if p.score == ner.FIELD_LABEL_SCORE]:
            cause = ner.FIELD_LABEL
        elif _overlaps(s, e, "", raw[i][0]):
            cause = UNEXPLAINED
        elif refused := _overlaps(s, e, "", raw[i][1]):
            cause = refused[0].guard
        else:
            cause = MODEL
        out.append(Miss(i, s, e, label, cause, _covered(s, e, ours[i])))
    return out


def summary(found: list[Miss], totals: Counter) -> list[str]:
    """Lines per label: misses on the speed path (share of Presidio's findings) and per guard,
    and how many of them leave some of their text unredacted (not covered by the stage's findings)."""
    lines = []
    for label in sorted(totals):
        mine = [m for m in found if m.label == label]
        speed = Counter(m.cause for m in mine if m.cause in SPEED_CAUSES)
        guards = Counter(m.cause for m in mine if m.cause not in SPEED_CAUSES)
        n, bare = totals[label], sum(not m.redacted for m in mine)
        lines.append(f"  {label:<16}{len(mine):>5} of {n:>5} missed; speed path {sum(speed.values())} ({sum(speed.values()) / n:.1%})"
                     + "".join(f", {c} {k}" for c, k in speed.items())
                     + (f"; guards {sum(guards.values())} ({sum(guards.values()) / n:.1%}): " + ", ".join(f"{c} {k}" for c, k in guards.most_common())
                        if guards else "")
                     + (f"; left unredacted {bare} ({bare / n:.1%})" if mine else ""))
    return lines


class RegionAudit(NamedTuple):
    """The stage's PERSON findings reading name regions against the same model reading whole
    documents (`screens=False`), over the same texts."""

    names: int  # PERSON findings reading whole documents
    missed: list[tuple[int, int, int]]  # (text, start, end) of those no finding of the regions overlaps
    added: int  # findings of the regions that overlap none reading whole documents
    region_seconds: float  # CPU seconds of the stage (PERSON only) reading name regions
    whole_seconds: float  # and reading whole documents

    def line(self) -> str:
        return (f"PERSON reading name regions against whole documents: the model finds {self.names} names reading whole documents "
                f"({self.whole_seconds:.2f} CPU s), the regions miss {len(self.missed)} ({len(self.missed) / max(self.names, 1):.2%}; "
                f"{self.region_seconds:.2f} CPU s, {self.whole_seconds / self.region_seconds:.1f}x less) and add {self.added}")


def region_misses(texts: list[str], batch_size: int = 256, **params) -> RegionAudit:
    """Run the stage for PERSON alone over `texts` (in batches as the runner passes them), once
    reading the name regions and once every document whole: which names the regions lose.
    `params` are the stage's (`ner_context_chars`, ...)."""
    import time

    from dataprep.stages.base import TextBatch
    from dataprep.stages.pii import Pii

    found, seconds = [], []
    for screens in (True, False):
        stage = Pii(**{**params, "entities": ["PERSON"], "screens": screens})
        stage.setup()
        ner.forget()
        spans: list[list[Span]] = []
        start = time.process_time()
        for i in range(0, len(texts), batch_size):
            docs = texts[i:i + batch_size]
            spans += stage.analyze(TextBatch(pa.table({"id": [str(j) for j in range(len(docs))], "text": pa.array(docs, pa.large_string())})))
        seconds.append(time.process_time() - start)
        found.append(spans)
    regions, whole = found
    missed = [(i, s.start, s.end) for i, spans in enumerate(whole) for s in spans if not _overlaps(s.start, s.end, "", regions[i])]
    added = sum(not _overlaps(s.start, s.end, "", whole[i]) for i, spans in enumerate(regions) for s in spans)
    return RegionAudit(sum(map(len, whole)), missed, added, *seconds)
