"""Stages, one per module, registered by name. Importing this package registers them all.

Every module of this package is imported here (a new stage file needs no other edit);
stages from other packages are named by import path in a pipeline (`mypkg.filters:MyFilter`)
or published under the `dataprep.stages` entry-point group (see docs/adding_a_stage.md).
"""

import importlib
import pkgutil

from dataprep.stages.base import REGISTRY, DocStage, Filter, Global, LineFilter, Mapper, Stage, TextBatch, Threshold, Writer

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "DocStage", "Filter", "Global", "LineFilter", "Mapper", "Stage", "TextBatch", "Threshold", "Writer"]
