#!/usr/bin/env bash
# The peers we compare against live in their own venv, never in dataprep's dependencies.
#   bash benchmarks/setup_peers.sh            -> benchmarks/.peers/bin/python
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.peers"
"$here/.peers/bin/pip" install -q 'datatrove[processing]==0.10.1' spacy pyarrow rensa
echo "peers ready: $here/.peers/bin/python"
