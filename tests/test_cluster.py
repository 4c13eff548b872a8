"""The same pipeline on a real two-node Ray cluster (on loopback) gives the embedded run's output."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, SAMPLES, read_folder
from dataprep import pipeline
from dataprep.run import run

RAY = Path(sys.executable).parent / "ray"
# Ray rewrites 127.0.0.1 to the machine's public address; other loopback addresses it keeps,
# so the cluster stays on loopback: the head on 127.0.0.2, the second node on 127.0.0.3.
HEAD, WORKER = "127.0.0.2", "127.0.0.3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HEAD, 0))
        return s.getsockname()[1]


def cluster_processes(temp_dir: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if temp_dir.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def cluster(s3_store):
    """`ray start --head` plus a second node joined to it (once for this module's tests); both
    stopped (and checked gone) after. The nodes' workers reach the loopback S3 server with the
    credentials in the nodes' environment, as on a real cluster (instance roles, AWS_* variables)."""
    temp_dir = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths have a length limit
    # the secure way (README): token authentication, the token shared with every node and the
    # driver through the environment; a HOME of its own, so no token file of this machine helps
    home = tempfile.mkdtemp(prefix="rh", dir="/tmp")
    env = {**s3_store.env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "HOME": home}
    port = free_port()
    address = f"{HEAD}:{port}"
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats"]
    nodes = [subprocess.Popen([RAY, "start", "--head", "--port", str(port), "--node-ip-address", HEAD, "--temp-dir", temp_dir,
                               "--include-dashboard", "false", *common], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for_nodes(address, 1, env)
        nodes.append(subprocess.Popen([RAY, "start", "--address", address, "--node-ip-address", WORKER, *common], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(address, 2, env)
        yield address, env
    finally:
        for node in reversed(nodes):
            os.killpg(node.pid, signal.SIGTERM)
        for node in nodes:
            node.wait(timeout=60)
        deadline = time.time() + 20
        while cluster_processes(temp_dir) and time.time() < deadline:
            time.sleep(0.5)
        for pid in cluster_processes(temp_dir):
            os.kill(pid, signal.SIGKILL)
        assert not cluster_processes(temp_dir)


def _wait_for_nodes(address: str, count: int, env: dict) -> None:
    probe = f"import ray; ray.init(address='{address}', logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    deadline = time.time() + 90
    while time.time() < deadline:
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise AssertionError(f"the cluster at {address} did not reach {count} nodes")


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


def test_a_driver_without_the_token_gets_one_line(cluster, tmp_path):
    address, env = cluster
    stranger = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(REPO / "pipelines" / "dedup.yaml"),
                             "--input", str(SAMPLES / "shard-00.parquet"), "--output", str(tmp_path / "o"), "--ray-address", address,
                             "--no-progress"], env=stranger, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused this process's token" in lines[0] and "RAY_AUTH_TOKEN" in lines[0], result.stderr[-2000:]


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
