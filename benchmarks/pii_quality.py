"""Precision and recall of the `pii` stage per entity type, next to Presidio's default analyzer.

    python benchmarks/pii_quality.py [--show-errors LABEL]

On samples/_pii_eval.jsonl (built by samples/build_pii_set.py: real copyright lines with their
people and addresses, real sentences with inserted PII, look-alike traps, clean sentences). A
gold span is found when a prediction of the same label overlaps it; a prediction is correct
when it overlaps a gold span of its label. "6 patterns" pools EMAIL, PHONE, IP, CARD, IBAN, SSN.
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

from benchmarks import pii_presidio  # noqa: E402
from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.pii import Pii  # noqa: E402

REPO = Path(sys.path[0])
SET = REPO / "samples" / "_pii_eval.jsonl"
PATTERNS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN")


def ours(texts: list[str], ner: bool) -> list[list[tuple[int, int, str]]]:
    stage = Pii(ner=ner)
    stage.setup()
    batch = TextBatch(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string())}))
    return [[(s.start, s.end, s.label) for s in spans] for spans in stage.detect(batch)]


def presidio(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    engine = pii_presidio.analyzer()
    return [[(s, e, label) for s, e, label, _ in pii_presidio.spans(engine, t)] for t in texts]


def score(gold: list[list], pred: list[list], labels: tuple[str, ...]) -> tuple[Counter, Counter, Counter, Counter]:
    """Per label: gold found, gold total, predictions right, predictions total."""
    found, total, right, made = Counter(), Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        for s, e, label in g:
            if label in labels:
                total[label] += 1
                found[label] += any(pl == label and ps < e and s < pe for ps, pe, pl in p)
        for s, e, label in p:
            if label in labels:
                made[label] += 1
                right[label] += any(gl == label and gs < e and s < ge for gs, ge, gl in g)
    return found, total, right, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", metavar="LABEL", help="print misses and false alarms of this label")
    args = parser.parse_args()
    records = [json.loads(line) for line in SET.open(encoding="utf-8")]
    texts = [r["text"] for r in records]
    gold = [[tuple(s) for s in r["spans"]] for r in records]
    print(f"{len(records)} records, {sum(map(len, gold))} gold spans ({Counter(label for g in gold for *_, label in g)})")
    systems = {}
    for name, run in (("pii (NER on)", lambda: ours(texts, True)), ("pii (NER off)", lambda: ours(texts, False)),
                      ("Presidio default", lambda: presidio(texts))):
        start = time.perf_counter()
        systems[name] = run()
        print(f"{name}: {time.perf_counter() - start:.1f} s")
    labels = (*PATTERNS, "PERSON", "CREDENTIAL")
    print(f"\n{'entity':<16}{'gold':>6}" + "".join(f"{name:>26}" for name in systems))
    print(f"{'':<22}" + "".join(f"{'P':>13}{'R':>13}" for _ in systems))
    results = {name: score(gold, pred, labels) for name, pred in systems.items()}
    rows = [(label, (label,)) for label in labels] + [("6 patterns", PATTERNS)]
    for title, group in rows:
        line = f"{title:<16}{sum(results[next(iter(results))][1][g] for g in group):>6}"
        for found, total, right, made in results.values():
            p = sum(right[g] for g in group) / max(1, sum(made[g] for g in group))
            r = sum(found[g] for g in group) / max(1, sum(total[g] for g in group))
            line += f"{p:>13.3f}{r:>13.3f}" if sum(made[g] for g in group) else f"{'-':>13}{r:>13.3f}"
        print(line)
    if args.show_errors:
        for name, pred in systems.items():
            print(f"\n== {name}: {args.show_errors} misses (-) and false alarms (+)")
            for text, g, p in zip(texts, gold, pred):
                for s, e, label in g:
                    if label == args.show_errors and not any(pl == label and ps < e and s < pe for ps, pe, pl in p):
                        print(f"  - {text[s:e]!r}   in {text[:120]!r}")
                for s, e, label in p:
                    if label == args.show_errors and not any(gl == label and gs < e and s < ge for gs, ge, gl in g):
                        print(f"  + {text[s:e]!r}   in {text[:120]!r}")


if __name__ == "__main__":
    main()
