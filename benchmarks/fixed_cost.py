"""Where a small run's time goes before its first part is processed: the fixed cost of a run.

    python benchmarks/fixed_cost.py [--input samples/] [--pipeline pipelines/default.yaml]
    python benchmarks/fixed_cost.py --phases '[{"exact_dedup": {}}]' --input DATA   # where one run's time goes

Phases, each timed in wall seconds and in this process's CPU seconds (the machine is shared, so
wall time is noisy; the load average is printed): importing dataprep, starting embedded Ray, the
first Ray Data dataset (Ray Data's actors and the workers' first imports: paid only by a run with
a corpus-wide shuffle, parts run as plain Ray tasks), a warm dataset (the per-dataset cost each
shuffle phase pays again), then whole runs once Ray is up: one
segment, two segments and a global stage, and the pipeline. Then `dataprep run` as a user types it on one tiny
document, in a fresh process: the cost no input size hides, with the CPU seconds of each process
of its tree (the driver, Ray's daemons, its workers).

With --phases, one run of the given stages on --input instead, timed phase by phase (Ray
start-up, the id check, each global stage's keys tasks and resolve, each segment's parts, the
summary and report) in wall seconds and CPU seconds of the whole process tree (a phase inside
another prints first).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from pipeline import TreeMemory  # noqa: E402  (benchmarks/pipeline.py)


class ProcessCPU(TreeMemory):
    """TreeMemory that also names each process of the tree: a Ray worker by its title
    when last seen (`ray::process_part` while it runs a part, `ray::IDLE` after), a daemon by its script or binary."""

    def __init__(self, root_pid: int, interval: float = 0.05):
        super().__init__(root_pid, interval)
        self.names: dict[int, str] = {}
        self._ticks = _Named(self._ticks, self.names)

    def by_process(self) -> list[tuple[float, str]]:
        return sorted(((ticks / os.sysconf("SC_CLK_TCK"), self.names.get(pid, "?")) for pid, ticks in self._ticks.items()), reverse=True)


class _Named(dict):
    """The ticks dict of TreeMemory, recording each process's name as its ticks are sampled."""

    def __init__(self, ticks: dict[int, int], names: dict[int, str]):
        super().__init__(ticks)
        self.names = names

    def __setitem__(self, pid: int, ticks: int) -> None:
        super().__setitem__(pid, ticks)
        try:
            args = [a.decode(errors="replace") for a in (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            return
        if args:
            script = next((Path(a).name for a in args[1:3] if a.endswith(".py")), None)
            self.names[pid] = args[0] if args[0].startswith("ray::") else script or " ".join(Path(args[0]).name.split()[:1] + args[1:3])


class Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        print(f"  {name:<52} {wall - self.wall:7.2f} s wall {cpu - self.cpu:6.2f} s CPU (driver)", flush=True)
        self.wall, self.cpu = time.perf_counter(), time.process_time()


def warm_up_workers() -> float:
    """CPU seconds a worker spends importing what our tasks need (dataprep.run and its stages)."""
    import ray

    @ray.remote(num_cpus=1)
    def imports() -> float:
        started = time.process_time()
        import dataprep.run  # noqa: F401

        return time.process_time() - started

    return max(ray.get([imports.remote() for _ in range(2)]))


def tree_cpu() -> float:
    """CPU seconds so far of this process and its live descendants (Ray's daemons and workers)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                pass
    tree, grown = {os.getpid()}, True
    while grown:
        new = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown, tree = bool(new), tree | new
    ticks = 0
    for pid in tree:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def phases(input_path: str, stages: list, cpus: int) -> None:
    """One run of `stages`, each phase's wall and process-tree CPU seconds printed as it ends."""
    import dataprep.run as runner
    from dataprep import pipeline, report, resolution, runtime

    def timed(module, name: str, label: str) -> None:
        fn = getattr(module, name, None)
        if fn is None:  # an older version of the runner
            return

        def wrapper(*args, **kwargs):
            wall, cpu = time.perf_counter(), tree_cpu()
            out = fn(*args, **kwargs)
            if hasattr(out, "__next__"):  # runner._on_workers: time the tasks, not the generator
                out = iter(list(out))
            print(f"  {label:<40} {time.perf_counter() - wall:7.2f} s wall {tree_cpu() - cpu:7.2f} s CPU", flush=True)
            return out
        setattr(module, name, wrapper)

    timed(runtime, "start", "Ray start-up")
    timed(runner, "_duplicate_ids", "id check")
    timed(runner, "_on_workers", "  Ray tasks (keys, or parts)")
    timed(resolution, "write_decisions", "  resolve + write decisions (Ray Data)")
    timed(resolution, "write_decisions_table", "  write decisions (driver; resolved before)")
    timed(runner, "_global_phases", "a global stage's keys and resolve")
    timed(runner, "_execute", "a segment's parts")
    timed(runner, "_summarise", "summary (markers, row counts)")
    timed(report, "write", "report.html")
    with tempfile.TemporaryDirectory() as tmp:
        wall = time.perf_counter()
        stats = runner.run(pipeline.from_dict({"name": "phases", "input": input_path, "output": tmp, "stages": stages,
                                               "num_cpus": cpus}))
        print(f"  {'whole run':<40} {time.perf_counter() - wall:7.2f} s wall (CPU of daemons gone at shutdown not counted); "
              f"kept {stats['output']['kept']:,}, removed {stats['output']['removed']:,}; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", default=str(REPO / "samples"))
    parser.add_argument("--pipeline", default=str(REPO / "pipelines" / "default.yaml"))
    parser.add_argument("--phases", help="stages as JSON (e.g. '[{\"exact_dedup\": {}}]'): time one run of them phase by phase")
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    if args.phases:
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
        return phases(args.input, json.loads(args.phases), args.cpus)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    clock = Clock()
    import dataprep.run as runner
    from dataprep import pipeline, runtime

    clock.lap("import dataprep.run (every stage module)")
    import ray
    import ray.data  # noqa: F401 (timed here: what importing Ray Data costs)

    clock.lap("import ray.data")
    runtime.start()
    clock.lap("runtime.start: embedded ray.init")
    runtime.data().range(2, override_num_blocks=2).map_batches(lambda b: b).materialize()
    clock.lap("first Ray Data dataset (its actors: paid by runs that shuffle)")
    seconds = warm_up_workers()
    clock.lap(f"workers import dataprep.run ({seconds:.2f} s CPU each)")
    runtime.data().range(2, override_num_blocks=2).map_batches(lambda b: b).materialize()
    clock.lap("a warm Ray Data dataset (paid per shuffle phase)")
    with tempfile.TemporaryDirectory() as tmp:
        # the same input through one segment, then one more segment and a global stage's phases
        # (the id check and the end of a run are in every one of them), then the whole pipeline
        for name, stages in (("[normalize]", [{"normalize": {}}]), ("[normalize, exact_dedup]", [{"normalize": {}}, {"exact_dedup": {}}])):
            stats = runner.run(pipeline.from_dict({"name": "fixed", "input": args.input, "output": f"{tmp}/{len(stages)}",
                                                   "stages": stages}))
            clock.lap(f"run {name}, warm Ray ({stats['input']['parts']} parts)")
        spec = pipeline.load(Path(args.pipeline), {"input": args.input, "output": f"{tmp}/warm"})
        stats = runner.run(spec)
        clock.lap(f"run {Path(args.pipeline).name}, warm Ray")
        work = sum(s["seconds"] for s in stats["stages"])
        print(f"  ... of which stage work inside the tasks (CPU, summed over workers): {work:.2f} s")
        runtime.stop()
        clock.lap("runtime.stop: ray.shutdown and the embedded node")
        tiny = Path(tmp) / "tiny"
        tiny.mkdir()
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"id": ["t0"], "text": ["One tiny document."]}), tiny / "one.parquet")
        (Path(tmp) / "tiny.yaml").write_text(json.dumps({"name": "tiny", "stages": [{"normalize": {}}]}))
        command = [sys.executable, "-m", "dataprep.cli", "run", f"{tmp}/tiny.yaml", "--input", str(tiny), "--output",
                   f"{tmp}/tiny_out", "--no-progress"]
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
        with ProcessCPU(proc.pid, interval=0.05) as tree:
            proc.wait()
        print(f"fixed cost: `dataprep run` of normalize on 1 document, fresh process: {time.perf_counter() - started:.2f} s wall, "
              f"{tree.cpu_seconds:.1f} s CPU of its process tree; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for seconds, name in tree.by_process():
            if seconds >= 0.05:
                print(f"  {seconds:6.2f} s CPU  {name[:90]}")


if __name__ == "__main__":
    main()
