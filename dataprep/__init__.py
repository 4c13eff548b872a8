"""dataprep: raw web corpus -> clean, deduplicated, PII-redacted text -> training tokens.

In a notebook: `import dataprep as dp`, then `dp.Pipeline`, `dp.stage` and `dp.apply`
(dataprep/api.py); on the command line: `dataprep run PIPELINE.yaml`.
"""

__version__ = "0.1.0"

_API = ("Pipeline", "Result", "apply", "stage")


def __getattr__(name: str):
    """The notebook API, imported on first use (the CLI and Ray workers do not pay for it)."""
    if name in _API:
        from dataprep import api

        return getattr(api, name)
    raise AttributeError(f"module 'dataprep' has no attribute {name!r}")


__all__ = list(_API)
