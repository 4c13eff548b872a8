"""NeMo Curator's CPU text pipeline for benchmarks/compare.py: its published English heuristic
filter cascade, one fresh process per command, as a NeMo Curator user runs it.

    benchmarks/.nemo/bin/python benchmarks/nemo_pipeline.py filters INPUT WORK [--workers 2]

The stages are NeMo Curator's own `config/text/heuristic_filter_english_pipeline.yaml` (27
filters modelled on Gopher's and C4's rules, each with the published setting), read from the
installed package; only its JSONL reader and writer become the Parquet ones, because INPUT is a
folder of Parquet files with `id` and `text`. Ray is started by NeMo Curator's `RayClient` with N
CPUs (in this process instead when that fails: see main) and run by its Ray Data executor (its default, Xenna, wants a CPU per stage in streaming
mode: 30.5 for these 29 stages). Its exact and fuzzy dedup need a GPU (cuDF), so
filters are the one row it can run here. Prints one JSON line: the folder of kept documents.
Runs in its own venv (benchmarks/setup_peers.sh).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

# NeMo Curator 1.4.0's RayClient starts a loopback head with `ray start` and connects without a
# token, which Ray 2.60's default token authentication refuses: the benchmark opts out, as Ray
# documents for a single machine
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import nemo_curator
from nemo_curator.backends.ray_data import RayDataExecutor
from nemo_curator.config.run import create_pipeline_from_yaml
from nemo_curator.core.client import RayClient
from nemo_curator.stages.text.io.reader import ParquetReader
from nemo_curator.stages.text.io.writer import ParquetWriter
from omegaconf import OmegaConf

PUBLISHED = Path(nemo_curator.__file__).parent / "config" / "text" / "heuristic_filter_english_pipeline.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline", choices=["filters"])
    parser.add_argument("input", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = OmegaConf.load(PUBLISHED)
    config.input_path, config.output_path = str(args.input), str(args.work / "filters")
    config.stages = config.stages[1:-1]  # the filters only: Parquet in and out instead of JSONL
    pipeline = create_pipeline_from_yaml(config, log_config=False)
    stages = pipeline.stages
    pipeline.stages = [ParquetReader(file_paths=str(args.input), fields=["id", "text"]), *stages,
                       ParquetWriter(path=str(args.work / "filters"))]
    client = RayClient(num_cpus=args.workers, include_dashboard=False, ray_temp_dir=str(args.work / "ray"))
    try:
        client.start()
    except RuntimeError as failed:
        # its `ray start --head --block` stops when the Ray client server it starts gives up
        # waiting for the raylet to register (here it took a minute, session 9): then Ray starts
        # in this process instead, with the same CPUs (the executor's own ray.init reuses it)
        import sys

        import ray

        print(f"nemo_pipeline.py: RayClient: {failed}; Ray started in this process instead", file=sys.stderr, flush=True)
        client = None
        os.environ.pop("RAY_ADDRESS", None)
        ray.init(num_cpus=args.workers, include_dashboard=False)
    try:
        pipeline.run(executor=RayDataExecutor())
    finally:
        if client is not None:
            client.stop()
    print(json.dumps({"steps": ["filters"], "kept": str(args.work / "filters")}))


if __name__ == "__main__":
    main()
