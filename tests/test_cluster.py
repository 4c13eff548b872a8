"""The same pipeline on a real two-node Ray cluster (on loopback, fixture `cluster` in conftest) gives the embedded run's output."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, SAMPLES, local_files, read_folder, token_files
from dataprep import pipeline
from dataprep.run import run


def test_cluster_run_matches_embedded_run(ray_session, cluster, tmp_path):
    address, env = cluster
    embedded = tmp_path / "embedded"
    run(pipeline.load(REPO / "pipelines" / "default.yaml", {"input": str(SAMPLES), "output": str(embedded)}))
    out = tmp_path / "cluster"
    result = subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(REPO / "pipelines" / "default.yaml"),
                             "--input", str(SAMPLES), "--output", str(out), "--ray-address", address, "--no-progress"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["ray"]["nodes"] == 2 and stats["invariant_ok"]
    assert env["RAY_AUTH_TOKEN"] not in json.dumps(stats) + (out / "run.json").read_text(), "the token is never recorded"
    for folder in ("kept", "removed"):
        mine = sorted(read_folder(embedded / folder).to_pylist(), key=lambda r: r["id"])
        theirs = sorted(read_folder(out / folder).to_pylist(), key=lambda r: r["id"])
        assert mine == theirs


def _driver_run(address: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """dedup.yaml on one sample shard, driven from a fresh process with this environment."""
    return subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(REPO / "pipelines" / "dedup.yaml"),
                           "--input", str(SAMPLES / "shard-00.parquet"), "--output", str(tmp_path / "o"), "--ray-address", address,
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=300)


def test_a_driver_without_the_token_gets_one_line(cluster, tmp_path):
    address, env = cluster
    stranger = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"}
    result = _driver_run(address, stranger, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused this process's token" in lines[0] and "RAY_AUTH_TOKEN" in lines[0], result.stderr[-2000:]


def test_a_token_path_that_names_no_file_is_said_so(cluster, tmp_path):
    address, env = cluster
    missing = tmp_path / "no-such-token"
    mistyped = {**{k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"}, "RAY_AUTH_TOKEN_PATH": str(missing)}
    result = _driver_run(address, mistyped, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"dataprep: error: RAY_AUTH_TOKEN_PATH is {missing}, which cannot be read (No such file or directory): "
                     "point it at the file holding the cluster's token (on the head: `ray get-auth-token`)"], result.stderr[-2000:]


def test_cluster_s3_to_s3_matches_the_local_run(cluster, s3_store, object_store_pipeline):
    address, env = cluster
    spec, local = object_store_pipeline
    out = f"{s3_store.bucket}/runs/cluster"
    result = subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(spec), "--input", f"{s3_store.bucket}/samples/shard-*.parquet",
                             "--output", out, "--ray-address", address, "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads(s3_store.fs.open_input_stream(f"{out.removeprefix('s3://')}/stats.json").read())
    assert stats["ray"]["nodes"] == 2 and stats["invariant_ok"]
    for folder in ("kept", "removed"):
        theirs = sorted(s3_store.read_folder(f"{out}/{folder}").to_pylist(), key=lambda r: (r["id"], r.get("stage") or ""))
        assert theirs == sorted(read_folder(local / folder).to_pylist(), key=lambda r: (r["id"], r.get("stage") or "")), folder
    assert token_files(s3_store.files(out)) == token_files(local_files(local))
