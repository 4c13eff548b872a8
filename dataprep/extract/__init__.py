"""HTML -> main text for the `extract` stage: the engines (engines.py) and the benchmark's
scoring method (scoring.py), shared by the stage, its tests and benchmarks/extraction.py."""
