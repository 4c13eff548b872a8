"""A run killed with SIGKILL and started again gives the same output as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq

from conftest import read_folder, run_pipeline

# a global stage after a per-document one: normalize's tasks write exact_dedup's keys, which the
# killed run leaves for some parts only
PIPELINE = "name: resume\nstages:\n  - normalize: {}\n  - exact_dedup: {}\n  - length: {min_words: 8}\n"
FILES = 80


def contents(out):
    """kept/ and removed/ as sorted row lists (the order of parts on disk is irrelevant)."""
    result = {}
    for folder in ("kept", "removed"):
        table = read_folder(out / folder)
        result[folder] = sorted(table.to_pylist(), key=lambda r: r["id"])
    return result


def command(yaml_path, inputs, out):
    return [sys.executable, "-m", "dataprep.cli", "run", str(yaml_path), "--input", str(inputs), "--output", str(out), "--no-progress"]


def test_kill_and_resume(ray_session, tmp_path, sample_docs):
    inputs = tmp_path / "in"
    inputs.mkdir()
    per_file = -(-sample_docs.num_rows // FILES)
    for i in range(FILES):
        pq.write_table(sample_docs.slice(i * per_file, per_file), inputs / f"shard-{i:03d}.parquet")
    yaml_path = tmp_path / "p.yaml"
    yaml_path.write_text(PIPELINE)

    reference = tmp_path / "reference"
    stats = run_pipeline([{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}], inputs, reference, name="resume")
    assert sum(stats["stages"][1]["removed"].values()) > 0

    out = tmp_path / "killed"
    proc = subprocess.Popen(command(yaml_path, inputs, out), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        done = len(list((out / "_parts").glob("*.json"))) if (out / "_parts").exists() else 0
        if done >= 3:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "_parts").glob("*.json")))
    assert 3 <= done < FILES, f"the kill must land mid-run ({done} of {FILES} parts were done)"
    assert not (out / "stats.json").exists()

    finished = subprocess.run(command(yaml_path, inputs, out), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "invariant OK" in finished.stdout
    assert contents(out) == contents(reference)
    assert not list(out.rglob("*.tmp")), "half-written files of the killed run are cleaned up"
