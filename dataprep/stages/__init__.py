"""Stages, one per module, registered by name. Importing this package registers them all."""

from dataprep.stages import length, normalize  # noqa: F401  (registration side effect)
from dataprep.stages.base import REGISTRY, DocStage, Filter, Global, Mapper, Stage, TextBatch

__all__ = ["REGISTRY", "DocStage", "Filter", "Global", "Mapper", "Stage", "TextBatch"]
