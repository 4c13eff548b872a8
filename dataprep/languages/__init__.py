"""Per-language settings of the statistic filters (FineWeb-2 style), one YAML file per language.

Each file gives the stop words, the mean-word-length bounds, the alphabetic-word ratio and the
word splitter for its language. Add a language by adding a file; `dataprep.languages.profile`
reads it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


@functools.cache
def profile(code: str) -> dict[str, Any]:
    path = HERE / f"{code}.yaml"
    if not path.is_file():
        raise KeyError(code)
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    odd = [w for w in settings["stop_words"] if not isinstance(w, str)]
    if odd:  # YAML reads bare no/yes/on/off as booleans: such words must be quoted
        raise ValueError(f"{path}: stop words must be strings, got {odd!r} (quote them)")
    return settings
