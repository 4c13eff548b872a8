"""Precision and recall of the `pii` stage per entity type, next to Presidio's default analyzer,
on the same records in the same run.

    python benchmarks/pii_quality.py [--tuning 1000] [--held-out 600] [--show-errors LABEL]

Sets: generated customer-service sentences with Faker identities of 14 locales
(benchmarks/pii_sets.py: a tuning part and a held-out part with their own templates, reported
separately), and samples/_pii_eval.jsonl (real copyright lines and real sentences with inserted
PII and look-alike traps; samples/build_pii_set.py). A gold span is found when a prediction of
the same label overlaps it; a prediction is right when it overlaps a gold span of its label.
"Presidio has, we miss": Presidio's findings of the compared entities that no finding of ours
of the same label overlaps (before either side resolves overlaps between labels), by cause: lost
on the speed path or rejected by a named precision guard (dataprep/pii/audit.py).
"""

from __future__ import annotations

import os
import sys

# imports resolve from the repository root, not from benchmarks/ (whose tokenize.py would shadow
# the standard library module of that name)
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import pyarrow as pa  # noqa: E402

from benchmarks import pii_presidio, pii_sets  # noqa: E402
from dataprep.pii import audit  # noqa: E402
from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.pii import Pii  # noqa: E402

REPO = Path(sys.path[0])
SAMPLES_SET = REPO / "samples" / "_pii_eval.jsonl"
LABELS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "PERSON")
PATTERNS = LABELS[:-1]
#: our configurations compared with Presidio's default analyzer
OURS = {"pii (default)": {}, "pii, Presidio's recognizers only": {"extra_recognizers": False}}

Spans = list[list[tuple[int, int, str]]]


def stage(**params) -> Pii:
    s = Pii(**params)
    s.setup()
    return s


def ours(texts: list[str], **params) -> Spans:
    """The stage's findings (all of them, before overlaps between labels are resolved)."""
    batch = TextBatch(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string())}))
    return [[(s.start, s.end, s.label) for s in spans] for spans in stage(**params).analyze(batch)]


def presidio(texts: list[str]) -> Spans:
    engine = pii_presidio.analyzer()
    return [[(s, e, label) for s, e, label, _ in pii_presidio.spans(engine, t)] for t in texts]


def _hit(span: tuple[int, int, str], others: list[tuple[int, int, str]]) -> bool:
    s, e, label = span[:3]
    return any(ol == label and os_ < e and s < oe for os_, oe, ol, *_ in others)


def score(gold: Spans, pred: Spans) -> tuple[Counter, Counter, Counter, Counter]:
    """Per label: gold found, gold total, predictions right, predictions total."""
    found, total, right, made = Counter(), Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        for span in g:
            total[span[2]] += 1
            found[span[2]] += _hit(span, p)
        for span in p:
            if span[2] in LABELS:
                made[span[2]] += 1
                right[span[2]] += _hit(span, g)
    return found, total, right, made


def missed(reference: Spans, pred: Spans, gold: Spans) -> tuple[Counter, Counter]:
    """Per label: the reference's findings that no prediction of that label overlaps, and of
    those the ones that are right (overlap a gold span of their label)."""
    lost = [(span, g) for r, p, g in zip(reference, pred, gold) for span in r if span[2] in LABELS and not _hit(span, p)]
    return Counter(span[2] for span, _ in lost), Counter(span[2] for span, g in lost if _hit(span, g))


def table(title: str, texts: list[str], gold: Spans, systems: dict[str, Spans]) -> None:
    results = {name: score(gold, pred) for name, pred in systems.items()}
    print(f"\n{title}: {len(gold)} records, {sum(map(len, gold))} gold spans")
    print(f"{'entity':<16}{'gold':>6}" + "".join(f"{name:>30}" for name in systems))
    print(f"{'':<22}" + "".join(f"{'P':>15}{'R':>15}" for _ in systems))
    first = next(iter(results.values()))
    for title_, group in [(label, (label,)) for label in LABELS] + [("6 patterns", PATTERNS), ("all 7", LABELS)]:
        line = f"{title_:<16}{sum(first[1][g] for g in group):>6}"
        for found, total, right, made in results.values():
            p = sum(right[g] for g in group) / max(1, sum(made[g] for g in group))
            r = sum(found[g] for g in group) / max(1, sum(total[g] for g in group))
            line += (f"{p:>15.3f}" if sum(made[g] for g in group) else f"{'-':>15}") + f"{r:>15.3f}"
        print(line)
    reference = systems["Presidio default"]
    theirs = Counter(s[2] for r in reference for s in r if s[2] in LABELS)
    for name, params in OURS.items():
        lost, right = missed(reference, systems[name], gold)
        print(f"Presidio has, {name} misses: {sum(lost.values())} of {sum(theirs.values())}; "
              + (", ".join(f"{label} {lost[label]} of {theirs[label]} ({lost[label] / theirs[label]:.1%}; "
                           f"{right[label]} of them right, {right[label] / theirs[label]:.1%})" for label in lost) or "none"))
        if lost:
            causes = audit.misses(stage(**params), texts, [[s for s in r if s[2] in LABELS] for r in reference])
            print("\n".join(audit.summary(causes, Counter({label: theirs[label] for label in lost}))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuning", type=int, default=1000, help="generated records of the tuning part")
    parser.add_argument("--held-out", type=int, default=600, help="generated records of the held-out part")
    parser.add_argument("--show-errors", metavar="LABEL", help="print misses and false alarms of this label (tuning and samples only)")
    args = parser.parse_args()
    sets = {"generated, tuning part": pii_sets.generate("tuning", args.tuning),
            "generated, held-out part": pii_sets.generate("held_out", args.held_out),
            "samples/_pii_eval.jsonl": [json.loads(line) for line in SAMPLES_SET.open(encoding="utf-8")]}
    for title, records in sets.items():
        texts = [r["text"] for r in records]
        gold = [[tuple(s) for s in r["spans"] if s[2] in LABELS] for r in records]
        systems = {}
        for name, run, params in (*((name, ours, params) for name, params in OURS.items()), ("Presidio default", presidio, {})):
            start = time.perf_counter()
            systems[name] = run(texts, **params)
            print(f"{title}: {name}: {time.perf_counter() - start:.1f} s")
        table(title, texts, gold, systems)
        if args.show_errors and "held-out" not in title:
            for name, pred in systems.items():
                print(f"\n== {name}: {args.show_errors} misses (-) and false alarms (+)")
                for text, g, p in zip(texts, gold, pred):
                    for span in g:
                        if span[2] == args.show_errors and not _hit(span, p):
                            print(f"  - {text[span[0]:span[1]]!r}   in {text[:120]!r}")
                    for span in p:
                        if span[2] == args.show_errors and not _hit(span, g):
                            print(f"  + {text[span[0]:span[1]]!r}   in {text[:120]!r}")


if __name__ == "__main__":
    main()
