"""Faults on the two-node cluster (fixture `ray_cluster` in conftest): a Ray worker SIGKILLed in
the middle of a part, and a whole node lost in the middle of a run. Ray Data submits its tasks
with unlimited retries of system failures and rebuilds lost objects from their lineage, and a
part's files are written atomically and named by part, so both runs must end with the very bytes
of an undisturbed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import SAMPLES
from dataprep import pipeline
from dataprep.run import run

#: a third node, the one the node-loss test kills (the session's two stay up for other tests)
DOOMED = "127.0.0.4"
#: the process title of a Ray worker while it runs one of our parts
PART_TASK = "ray::process_part"
#: per-document stages (the language model makes a part last long enough to be caught) and a
#: global one; twelve parts of samples/ (its row groups), so some are done when the fault comes
SPEC = {"name": "faults", "part_bytes": 1, "stages": [{"normalize": {}}, {"language": {"languages": ["en"]}},
                                                      {"gopher_quality": {}}, {"c4_quality": {}}, {"exact_dedup": {}}]}
FOLDERS = ("kept", "removed", "quarantine")


@pytest.fixture(scope="module")
def undisturbed(ray_session, tmp_path_factory) -> Path:
    """The same pipeline on the same input in the embedded Ray, nothing killed."""
    out = tmp_path_factory.mktemp("undisturbed") / "out"
    stats = run(pipeline.from_dict({**SPEC, "input": str(SAMPLES), "output": str(out)}))
    assert stats["invariant_ok"] and stats["input"]["parts"] == 12
    return out


def contents(out: Path) -> dict[str, bytes]:
    """Every output file of the three folders, by its path in the output folder."""
    return {str(f.relative_to(out)): f.read_bytes() for folder in FOLDERS for f in sorted((out / folder).glob("*.parquet"))}


def start_run(cluster, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    spec = tmp_path / "faults.yaml"
    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "dataprep.cli", "run", str(spec), "--input", str(SAMPLES), "--output", str(out),
               "--ray-address", cluster.address, "--no-progress"]
    return subprocess.Popen(command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out


def parts_done(out: Path) -> int:
    return len(list((out / "_parts").glob("*.json"))) if (out / "_parts").is_dir() else 0


def busy_workers(nodes: list[subprocess.Popen]) -> list[psutil.Process]:
    """The worker processes of these nodes that are running one of our parts right now."""
    busy = []
    for node in nodes:
        try:
            descendants = psutil.Process(node.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for process in descendants:
            try:
                if process.cmdline()[:1] and process.cmdline()[0].startswith(PART_TASK):
                    busy.append(process)
            except psutil.Error:  # gone meanwhile
                pass
    return busy


def strike(proc: subprocess.Popen, out: Path, fault) -> bool:
    """Once a part is done and while the run goes on, call `fault()` until it reports a hit."""
    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline:
        if parts_done(out) and fault():
            return True
        time.sleep(0.02)
    return False


def test_a_worker_killed_mid_part_is_retried_to_identical_output(ray_cluster, undisturbed, tmp_path):
    proc, out = start_run(ray_cluster, tmp_path)
    killed: list[int] = []

    def kill_a_busy_worker() -> bool:
        for worker in busy_workers(ray_cluster.nodes):
            worker.send_signal(signal.SIGKILL)
            killed.append(worker.pid)
            return True
        return False

    hit = strike(proc, out, kill_a_busy_worker)
    _, stderr = proc.communicate(timeout=300)
    assert hit, f"no worker was caught running a part (run ended {proc.returncode}: {stderr[-1000:]})"
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    assert proc.returncode == 0, stderr[-2000:]
    assert contents(out) == contents(undisturbed)


def test_losing_a_node_mid_run_finishes_on_the_others(ray_cluster, undisturbed, tmp_path):
    """The README's choice: the run goes on without the lost node (its tasks rerun elsewhere)
    and ends with the output an undisturbed run writes."""
    doomed = ray_cluster.add_node(DOOMED)
    proc, out = start_run(ray_cluster, tmp_path)

    def stop_the_node() -> bool:
        if not busy_workers([doomed]):
            return False
        os.killpg(doomed.pid, signal.SIGKILL)  # the raylet and every worker of the node at once
        doomed.wait(timeout=30)
        return True

    lost = strike(proc, out, stop_the_node)
    _, stderr = proc.communicate(timeout=300)
    assert lost, f"the node never ran a part (run ended {proc.returncode}: {stderr[-1000:]})"
    assert proc.returncode == 0, stderr[-2000:]
    assert contents(out) == contents(undisturbed)


CRASHER = '''
import os

from dataprep.stages.base import Mapper


class Crash(Mapper):
    """Kills its worker process on a document that asks for it, as a crash in a C library would."""

    name = "crash"

    def transform(self, batch):
        if any("CRASH" in t for t in batch.text.to_pylist()):
            os._exit(3)
        return batch.text, {}
'''


def test_a_part_that_kills_its_worker_every_time_stops_the_run_in_one_line(tmp_path):
    """Retried CRASH_RETRIES times, then one line naming the part and its file (exit 5), instead
    of retrying forever; the other parts are committed, so the same command resumes."""
    from dataprep.runtime import CRASH_RETRIES

    (tmp_path / "crasher.py").write_text(CRASHER)
    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["A calm document."]}), inputs / "a.parquet")
    pq.write_table(pa.table({"id": ["b"], "text": ["This one says CRASH."]}), inputs / "b.parquet")
    spec = tmp_path / "p.yaml"
    spec.write_text(yaml.safe_dump({"name": "crash", "stages": [{"crasher:Crash": {}}]}))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(spec), "--input", str(inputs), "--output",
                           str(tmp_path / "out"), "--no-progress", "--num-cpus", "1"], env=env, capture_output=True, text=True,
                          timeout=600)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 5 and len(lines) == 1, done.stderr[-3000:]
    assert f"killed its worker {CRASH_RETRIES + 1} times" in lines[0] and "b.parquet" in lines[0], lines[0]
    assert "A worker died" in done.stdout and "\x1b[" not in done.stdout, "Ray's lines, as plain text in a log"
    assert list((tmp_path / "out" / "_parts").rglob("*.json")), "the part that ran is committed"


SLOW = '''
import time

from dataprep.stages.base import Mapper


class Slow(Mapper):
    """A stage that takes its time over each batch, so the run is under way when its head goes."""

    name = "slow"

    def transform(self, batch):
        time.sleep(2)
        return batch.text, {}
'''


def test_a_run_whose_ray_head_is_lost_stops_in_one_line(tmp_path):
    """The head's GCS is killed mid-run (here the embedded one: the same as a cluster's head
    going down): one dataprep line and its own status, within HEAD_LOST_SECONDS, where Ray's
    client ended the process after 60 s with status 1 (a broken count's) and only Ray's lines."""
    from dataprep.runtime import HEAD_LOST_STATUS

    (tmp_path / "slow.py").write_text(SLOW)
    spec = tmp_path / "p.yaml"
    spec.write_text(yaml.safe_dump({"name": "headless", "stages": [{"slow:Slow": {}}]}))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    running = subprocess.Popen([sys.executable, "-m", "dataprep.cli", "run", str(spec), "--input", str(SAMPLES), "--output",
                                str(tmp_path / "out"), "--no-progress", "--num-cpus", "1", "--batch-rows", "8"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(PART_TASK in " ".join(p.cmdline()) for p in psutil.Process(running.pid).children(recursive=True)):
            assert time.monotonic() < deadline and running.poll() is None, "the run's parts never started"
            time.sleep(0.5)
        (gcs,) = [p for p in psutil.Process(running.pid).children(recursive=True) if p.name() == "gcs_server"]
        gcs.kill()
        _, stderr = running.communicate(timeout=90)
    finally:
        running.kill()
    lines = stderr.strip().splitlines()
    assert running.returncode == HEAD_LOST_STATUS and lines[-1].startswith("dataprep: stopped: the Ray head at "), stderr[-2000:]
    assert "run the same command to resume" in lines[-1] and len(lines) == 1, stderr[-2000:]
