#!/usr/bin/env bash
# The peers we compare against live in their own venvs, never in dataprep's dependencies.
#   bash benchmarks/setup_peers.sh            -> benchmarks/.peers/bin/python (datatrove)
#                                                benchmarks/.nemo/bin/python  (NeMo Curator, CPU)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.peers"
"$here/.peers/bin/pip" install -q 'datatrove[processing]==0.10.1' spacy pyarrow rensa
echo "peers ready: $here/.peers/bin/python"
# NeMo Curator without its GPU stack: its declared dependencies pull torch, transformers and CUDA
# wheels (gigabytes) that its CPU text filters never import, so it goes in with --no-deps and the
# packages those filters, its Ray Data executor and its RayClient import
python3 -m venv "$here/.nemo"
"$here/.nemo/bin/pip" install -q --no-deps 'nemo-curator==1.4.0' 'cosmos-xenna==0.2.0'
"$here/.nemo/bin/pip" install -q 'ray[default,data,client]==2.60.0' pandas pyarrow loguru omegaconf hydra-core absl-py \
    regex tqdm attrs cattrs jinja2 obstore portpicker pulp tabulate fsspec
echo "NeMo Curator ready: $here/.nemo/bin/python"
