"""End-to-end figures for the default pipeline: docs/s, MB/s, peak memory, Ray's fixed cost.

    python benchmarks/pipeline.py [--input samples/] [--repeat 3]

Prints, for the default pipeline (pipelines/default.yaml) on the input:
- the fixed cost of starting embedded Ray and of its first task (worker processes warming up);
- a cold run as a user sees it (`dataprep run` in a fresh process: Ray start-up included);
- warm runs (Ray already up), best of --repeat: docs/s and MB/s of the whole run;
- peak resident memory of the driver and of the whole process tree (driver + Ray's processes;
  the sum counts shared pages, the object store among them, once per process that maps them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants from /proc."""

    def __init__(self, root_pid: int, interval: float = 0.05):
        self.root, self.interval, self.peak, self.root_peak = root_pid, interval, 0, 0
        self._ticks: dict[int, int] = {}  # per process of the tree: CPU clock ticks when last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every process seen in the tree (up to its last sample: a process that
        lives less than one interval is missed), whether or not anyone waited for it."""
        return sum(self._ticks.values()) / os.sysconf("SC_CLK_TCK")

    def _loop(self) -> None:
        while not self._stop.is_set():
            parents, rss = {}, {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                parents[int(entry.name)] = int(fields["PPid"])
                rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
            tree = {self.root}
            changed = True
            while changed:
                new = {pid for pid, parent in parents.items() if parent in tree} - tree
                changed = bool(new)
                tree |= new
            self.peak = max(self.peak, sum(rss.get(pid, 0) for pid in tree))
            self.root_peak = max(self.root_peak, rss.get(self.root, 0))
            for pid in tree:
                try:
                    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
                    self._ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
                except (OSError, IndexError):
                    pass
            self._stop.wait(self.interval)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", default=str(REPO / "samples"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()


    import pyarrow.parquet as pq

    from dataprep import documents

    files = documents.discover(args.input)
    docs = sum(pq.ParquetFile(f).metadata.num_rows for f in files if f.endswith(".parquet"))
    text_mb = sum(sum(len(t.encode()) for t in pq.read_table(f, columns=["text"])["text"].to_pylist() if t)
                  for f in files if f.endswith(".parquet")) / 1e6
    print(f"input: {args.input}: {len(files)} files, {docs:,} documents, {text_mb:.1f} MB of text; {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        # cold: what a user waits for, Ray start-up included, in a fresh process
        cmd = [sys.executable, "-m", "dataprep.cli", "run", str(REPO / "pipelines" / "default.yaml"), "--input", args.input,
               "--output", f"{tmp}/cold", "--no-progress"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with TreeMemory(proc.pid) as memory:
            proc.wait()
        cold = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(proc.stderr.read().decode())


        from dataprep import pipeline, runtime
        from dataprep.run import run

        started = time.perf_counter()
        runtime.start()
        init = time.perf_counter() - started
        started = time.perf_counter()
        runtime.data().range(2, override_num_blocks=2).map_batches(lambda b: b).materialize()
        first_task = time.perf_counter() - started

        warm = []
        for i in range(args.repeat):
            spec = pipeline.load(REPO / "pipelines" / "default.yaml", {"input": args.input, "output": f"{tmp}/warm{i}"})
            started = time.perf_counter()
            stats = run(spec)
            warm.append(time.perf_counter() - started)
        stage_rows = stats["stages"]
        runtime.stop()

    best = min(warm)
    print(f"ray.init (embedded)          {init:6.2f} s")
    print(f"first Ray Data task          {first_task:6.2f} s   (worker processes start)")
    print(f"cold run, `dataprep run`     {cold:6.2f} s   {docs / cold:8,.0f} docs/s  {text_mb / cold:6.2f} MB/s")
    print(f"warm run, best of {args.repeat}         {best:6.2f} s   {docs / best:8,.0f} docs/s  {text_mb / best:6.2f} MB/s")
    print(f"peak RSS, cold run           driver {memory.root_peak / 2**20:,.0f} MiB, process tree {memory.peak / 2**20:,.0f} MiB")
    print("per stage, on the documents that reach it (CPU seconds inside the tasks):")
    for stage in stage_rows:
        seconds = stage["seconds"]
        rate = f"{stage['in'] / seconds:10,.0f} docs/s  {stage['bytes_in'] / 1e6 / seconds:7.2f} MB/s" if seconds else ""
        print(f"  {stage['name']:<20} {stage['in']:>6,} docs {seconds:6.2f} s {rate}")


if __name__ == "__main__":
    main()
