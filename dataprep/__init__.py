"""dataprep: raw web corpus -> clean, deduplicated, PII-redacted text -> training tokens."""

__version__ = "0.1.0"
