"""The article-extraction benchmark's published scoring method (Zyte's
article-extraction-benchmark, restated in shared/data/extraction/README.md), reimplemented.

Per page: words are `\\w+` (Unicode), shingles are word 4-grams counted as multisets (a text of
fewer than 4 words is one shingle of all its words); TP/FP/FN are shared / extracted-only /
true-only shingles, divided by TP+FP+FN so every page weighs the same. Precision is the mean
over pages that extracted something, recall the mean over pages with a true text, and
F1 = 2PR/(P+R). Accuracy is the share of pages whose word sequence equals the truth's.
Kept in the package (not in benchmarks/) because the tests' quality floor uses it too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

WORD = re.compile(r"\w+")
SHINGLE = 4


def shingles(text: str | None) -> Counter:
    words = WORD.findall(text or "")
    return Counter(tuple(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1)) if words)


def page_counts(extracted: str | None, truth: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    got, true = shingles(extracted), shingles(truth)
    tp = sum((got & true).values())
    fp = sum((got - true).values())
    fn = sum((true - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int


def score(extracted: list[str | None], truths: list[str]) -> Score:
    """The benchmark's figures over pages (extracted[i] is the output for truths[i])."""
    precisions, recalls, exact = [], [], 0
    for got, true in zip(extracted, truths, strict=True):
        tp, fp, fn = page_counts(got, true)
        perfect = fp == fn == 0
        if tp + fp > 0:
            precisions.append(1.0 if perfect else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if perfect else tp / (tp + fn))
        exact += WORD.findall(got or "") == WORD.findall(true)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0, exact / max(len(truths), 1), len(truths))
