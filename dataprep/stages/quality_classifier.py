"""`quality_classifier`: the survey's classifier-based filtering, with a fastText model we train.

`dataprep train-quality --positive REF --negative RAW --output model.bin` trains a supervised
fastText classifier offline: REF is text you want more of (edited prose: manuals, books,
encyclopaedias), RAW is the crawl. The stage scores every document with the probability of the
"reference" label (`quality_score`) and keeps those at or above `threshold`, as LLaMA's recipe
filters with its Wikipedia-references classifier. GPT-3 scored the same way (WebText, Wikipedia
and books as the positive side) but kept a document when a Pareto draw (alpha 9) exceeded 1 -
score, so some low scores pass; a fixed threshold keeps the decision reproducible and explainable.
The model is fastText's supervised one at its default 2 M hash buckets x 50 dimensions: ~400 MB,
loaded once per worker process.
"""

from __future__ import annotations

import functools
import mmap
import random
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.documents import read_texts
from dataprep.stages.base import Filter, TextBatch, Threshold, register

POSITIVE, NEGATIVE = "__label__reference", "__label__crawl"
#: the labels a model of this stage has, and only those
LABELS = frozenset((POSITIVE, NEGATIVE))


#: the first four bytes of a fastText model file (fastText's FASTTEXT_FILEFORMAT_MAGIC_INT32)
FASTTEXT_MAGIC = 793712314


def model_problem(path: str) -> str | None:
    """Why `path` is no model this stage can use, or None; read from the file's layout, because
    fastText's loader loops for ever on a file cut short in its dictionary (it reads each word up
    to a NUL that never comes) and raises a bare ValueError on any other file."""
    stat = Path(path).stat()
    return _model_problem(path, stat.st_size, stat.st_mtime_ns)


@functools.cache  # once per process and version of the file: every task builds the stage
def _model_problem(path: str, size: int, mtime: int) -> str | None:
    # the header: magic, version, 12 int32 arguments and a double, then the dictionary's counts
    if size < 92:
        return "not a fastText model"
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _layout_problem(data)


def _layout_problem(data: mmap.mmap) -> str | None:
    cut = "cut short: not a whole fastText model"
    if struct.unpack_from("<i", data, 0)[0] != FASTTEXT_MAGIC:
        return "not a fastText model"
    entries, _, _, _, pruned = struct.unpack_from("<iiiqq", data, 64)
    at, labels = 92, []
    for _ in range(entries):  # each: the word, NUL, its int64 count, its int8 type (1: a label)
        end = data.find(b"\0", at)
        if end < 0 or end + 10 > len(data):
            return cut
        if data[end + 9] == 1:
            labels.append(bytes(data[at:end]).decode("utf-8", "replace"))
        at = end + 10
    if set(labels) != LABELS:
        shown = ", ".join(labels[:3]) + (f", ... ({len(labels)} labels)" if len(labels) > 3 else "")
        return f"its labels are {shown or 'none'}, not {POSITIVE} and {NEGATIVE}: train it with `dataprep train-quality`"
    at += 8 * max(pruned, 0)
    for _ in ("input", "output"):  # each: quantized or not, then a dense matrix's rows, columns and floats
        if at + 1 > len(data):
            return cut
        if data[at]:
            return None  # a quantized model (.ftz): the rest of its layout is not followed
        if at + 17 > len(data):
            return cut
        rows, columns = struct.unpack_from("<qq", data, at + 1)
        at += 17 + 4 * rows * columns
    return None if at == len(data) else cut


@functools.cache
def load_model(path: str):
    import fasttext

    return fasttext.load_model(path)


def model_lines(text: pa.Array, max_chars: int) -> list[str]:
    """Documents as fastText reads them: lower-cased, one line, the first `max_chars` characters."""
    flat = pc.replace_substring_regex(pc.utf8_lower(pc.utf8_slice_codeunits(text, 0, max_chars)), r"\s+", " ")
    return flat.to_pylist()


@register
class QualityClassifier(Filter):
    """Adds `quality_score` (probability of the reference class); removes documents below `threshold`."""

    name = "quality_classifier"
    adds = {"quality_score": pa.float32()}

    def __init__(
        self,
        model: str = "quality_model.bin",  # made by `dataprep train-quality`
        threshold: float = 0.5,  # the classifier's own decision boundary; raise it to keep less
        max_chars: int = 10_000,  # the first 10k characters are scored
    ):
        if not Path(model).is_file():
            raise ValueError(f"model file not found: {model} (train one with `dataprep train-quality`)")
        if problem := model_problem(model):
            raise ValueError(f"model {model}: {problem}")
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be within 0..1, not {threshold}")
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, not {max_chars}")
        self.model = str(Path(model).resolve())
        self.threshold = threshold
        self.max_chars = max_chars

    def read_files(self) -> list[str]:
        return [self.model]

    def setup(self) -> None:
        load_model(self.model)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        labels, probs = load_model(self.model).predict(model_lines(batch.text, self.max_chars), k=2)
        score = np.array([dict(zip(ls, ps)).get(POSITIVE, 0.0) for ls, ps in zip(labels, probs)], dtype=np.float32)
        np.clip(score, 0.0, 1.0, out=score)  # fastText's softmax adds 1e-5 to each probability: 1.00001
        return {"quality_score": score}

    def threshold_rules(self) -> list[Threshold]:
        return [Threshold("threshold", "quality_score", self.threshold, "min", "low_score")]

    def annotate(self, batch: TextBatch, metrics: dict[str, np.ndarray]) -> TextBatch:
        return batch.with_columns({"quality_score": pa.array(metrics["quality_score"], pa.float32())})


def train(positive: str, negative: str, output: str, epoch: int = 10, seed: int = 0,
          text_column: str = "text", max_chars: int = 10_000) -> dict[str, Any]:
    """Train the classifier on balanced classes, report accuracy on a 10% held-out split."""
    import fasttext

    rng = random.Random(seed)
    pos, neg = read_texts(positive, text_column), read_texts(negative, text_column)
    if not pos or not neg:
        raise ValueError(f"need documents on both sides (positive: {len(pos)}, negative: {len(neg)})")
    size = min(len(pos), len(neg))
    pos, neg = rng.sample(pos, size), rng.sample(neg, size)
    examples = [(POSITIVE, t) for t in pos] + [(NEGATIVE, t) for t in neg]
    rng.shuffle(examples)
    held = max(1, len(examples) // 10)
    test, fit = examples[:held], examples[held:]
    labels = [label for label, _ in fit]
    lines = model_lines(pa.array([t for _, t in fit], pa.large_string()), max_chars)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as handle:
        handle.writelines(f"{label} {line}\n" for label, line in zip(labels, lines))
        handle.flush()
        model = fasttext.train_supervised(input=handle.name, epoch=epoch, lr=0.5, wordNgrams=2, dim=50,
                                          minCount=2, thread=1, seed=seed, verbose=0)
    if set(model.get_labels()) != LABELS:  # one document a side: the held-out split took one
        raise ValueError(f"too few documents to learn both classes ({size} a side; the model learned {model.get_labels()})")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    model.save_model(output)
    predicted, _ = model.predict(model_lines(pa.array([t for _, t in test], pa.large_string()), max_chars), k=1)
    accuracy = float(np.mean([p[0] == label for p, (label, _) in zip(predicted, test)]))
    return {"model": output, "per_class": size, "trained_on": len(fit), "held_out": held, "held_out_accuracy": round(accuracy, 4)}
