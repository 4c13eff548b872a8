"""Stages, one per module, registered by name. Importing this package registers them all."""

from dataprep.stages import (  # noqa: F401  (registration side effect)
    c4,
    c4_badwords,
    decontaminate,
    exact_dedup,
    extract,
    fineweb,
    gopher_quality,
    gopher_repetition,
    keywords,
    language,
    length,
    line_dedup,
    minhash_dedup,
    normalize,
    perplexity,
    pii,
    quality_classifier,
    tokenize,
    train_tokenizer,
)
from dataprep.stages.base import REGISTRY, DocStage, Filter, Global, Mapper, Stage, TextBatch

__all__ = ["REGISTRY", "DocStage", "Filter", "Global", "Mapper", "Stage", "TextBatch"]
