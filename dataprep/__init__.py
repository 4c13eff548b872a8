"""dataprep: raw web corpus -> clean, deduplicated, PII-redacted text -> training tokens.

In a notebook: `import dataprep as dp`, then `dp.Pipeline`, `dp.stage` and `dp.apply`
(dataprep/api.py); on the command line: `dataprep run PIPELINE.yaml`.
"""

import os

__version__ = "0.2.7"

# No download at run time: tldextract (Presidio's e-mail check) reads this when its default
# extractor is built, at its import; with no URLs it answers from the public-suffix snapshot in
# its wheel. Set here, before anything can import it: spaCy imports Presidio through its entry
# points, so a Ray worker (whose environment is its node's, not the driver's) builds that
# extractor as soon as a filter loads spaCy's tokenizer.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

_API = ("Pipeline", "Result", "apply", "stage")


def __getattr__(name: str):
    """The notebook API, imported on first use (the CLI and Ray workers do not pay for it)."""
    if name in _API:
        from dataprep import api

        return getattr(api, name)
    raise AttributeError(f"module 'dataprep' has no attribute {name!r}")


__all__ = list(_API)
